// index.ts: floodgate/http: the framework-neutral HTTP core, identity helpers, headers and the fetch wrapper.

export {
  checkRouteRule,
  type HttpOutcome,
  HttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequest,
  isConfigError,
  type KeyResult,
  type LimitedInfo,
  type RouteRule,
  type Selection,
  type Warning,
} from "./core.js";
export {
  defaultPeer,
  type FetchRateLimitOptions,
  pathOf,
  refusal,
  WebRequestView,
  withHeaders,
  withRateLimit,
} from "./fetch.js";
export {
  type HeaderList,
  limitField,
  nextUnitMs,
  policyField,
  rateLimitHeaders,
  retryAfterSeconds,
  secondsUp,
} from "./headers.js";
export { compileTrust, MAX_HOPS, type ProxyHeader, resolveClient, type Trust, type TrustProxy } from "./identity.js";
export { type Cidr, formatIp, type Ip, inCidr, ipKey, maskIp, parseCidr, parseIp } from "./ip.js";
export { hashSecret, joinKey, type KeyPart, sha256Base64Url } from "./key.js";
export { type ProblemReason, problemBody, QUOTA_EXCEEDED, TEMPORARY_REDUCED_CAPACITY } from "./problem.js";
export { HEADERS, type HeaderAccess, mergeHeaders, splitList } from "./response.js";
export { compileRoute, normalizePath, pathOnly, type RoutePattern, routeMatches } from "./routes.js";
