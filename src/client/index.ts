// index.ts: floodgate/client: outbound throttling that waits its turn and listens to the server.

export {
  type ClientOptions,
  type FetchLike,
  type RateLimitedFetch,
  type RateLimitedFetchOptions,
  type RetryInfo,
  rateLimitedFetch,
} from "./fetch.js";
export {
  DEFAULT_MAX_DELAY_MS,
  type HeaderGetter,
  headersGetter,
  type ParseHintsOptions,
  parseDuration,
  parseHttpDate,
  parseRetryAfter,
  type RateLimitHints,
  readRateLimitHints,
  recordGetter,
} from "./headers.js";
export { type BareItem, type Member, type Params, parseDictionary, parseList } from "./structured.js";
export { type Throttled, type ThrottleOptions, throttle } from "./throttle.js";
export {
  type Dispatch,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  type Interceptor,
  type ThrottleInterceptorOptions,
  throttleInterceptor,
} from "./undici.js";
