// connect.ts: Envoy's ShouldRateLimit served by Connect's connect-node (v1, @bufbuild/protobuf v1, gRPC protocol over
// node:http2) instead of grpc-js, for bench/connect-node.ts: `echo` answers a fixed OK, `serve` decides with the
// service's Decider (memory store). Message types are declared by hand from src/service/proto (field numbers and types).
//
// Not a dependency of the package: install the three packages where Node can find them, such as
//   npm install --no-save @connectrpc/connect@1 @connectrpc/connect-node@1 @bufbuild/protobuf@1
// (connect-node 2 needs Node >= 22). Run: node --import tsx bench/servers/connect.ts echo|serve CONFIG
// (prints {"port": N} on stdout when listening).

import { createServer } from "node:http2";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { RateLimiter } from "../../src/limiter.js";
import { Decider } from "../../src/service/decide.js";
import { toInput, toResponse } from "../../src/service/grpc.js";
import { serviceMetrics } from "../../src/service/metrics.js";
import { loadAll } from "../../src/service/serve.js";
import { ServiceStats } from "../../src/service/stats.js";
import { REPLY } from "./reply.js";

// Loaded with require from CONNECT_FROM (a directory where they are installed), else from here: they are not
// dependencies of the repository (see above). One require keeps connect and protobuf on one copy.
const load = createRequire(process.env.CONNECT_FROM ? join(process.env.CONNECT_FROM, "x.js") : import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: untyped optional packages
const pb: any = load("@bufbuild/protobuf");
// biome-ignore lint/suspicious/noExplicitAny: untyped optional packages
const connectNode: any = load("@connectrpc/connect-node");
const { proto3, ScalarType, Duration, UInt64Value } = pb;

const Code = proto3.makeEnum("envoy.service.ratelimit.v3.RateLimitResponse.Code", [
  { no: 0, name: "UNKNOWN" },
  { no: 1, name: "OK" },
  { no: 2, name: "OVER_LIMIT" },
]);
const Unit = proto3.makeEnum("envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit", [
  { no: 0, name: "UNKNOWN" },
  { no: 1, name: "SECOND" },
  { no: 2, name: "MINUTE" },
  { no: 3, name: "HOUR" },
  { no: 4, name: "DAY" },
  { no: 5, name: "MONTH" },
  { no: 6, name: "YEAR" },
]);
const Entry = proto3.makeMessageType("envoy.extensions.common.ratelimit.v3.RateLimitDescriptor.Entry", [
  { no: 1, name: "key", kind: "scalar", T: ScalarType.STRING },
  { no: 2, name: "value", kind: "scalar", T: ScalarType.STRING },
]);
const Descriptor = proto3.makeMessageType("envoy.extensions.common.ratelimit.v3.RateLimitDescriptor", [
  { no: 1, name: "entries", kind: "message", T: Entry, repeated: true },
  { no: 3, name: "hits_addend", kind: "message", T: UInt64Value },
]);
const Request = proto3.makeMessageType("envoy.service.ratelimit.v3.RateLimitRequest", [
  { no: 1, name: "domain", kind: "scalar", T: ScalarType.STRING },
  { no: 2, name: "descriptors", kind: "message", T: Descriptor, repeated: true },
  { no: 3, name: "hits_addend", kind: "scalar", T: ScalarType.UINT32 },
]);
const Limit = proto3.makeMessageType("envoy.service.ratelimit.v3.RateLimitResponse.RateLimit", [
  { no: 3, name: "name", kind: "scalar", T: ScalarType.STRING },
  { no: 1, name: "requests_per_unit", kind: "scalar", T: ScalarType.UINT32 },
  { no: 2, name: "unit", kind: "enum", T: proto3.getEnumType(Unit) },
]);
const Status = proto3.makeMessageType("envoy.service.ratelimit.v3.RateLimitResponse.DescriptorStatus", [
  { no: 1, name: "code", kind: "enum", T: proto3.getEnumType(Code) },
  { no: 2, name: "current_limit", kind: "message", T: Limit },
  { no: 3, name: "limit_remaining", kind: "scalar", T: ScalarType.UINT32 },
  { no: 4, name: "duration_until_reset", kind: "message", T: Duration },
]);
const HeaderValue = proto3.makeMessageType("envoy.config.core.v3.HeaderValue", [
  { no: 1, name: "key", kind: "scalar", T: ScalarType.STRING },
  { no: 2, name: "value", kind: "scalar", T: ScalarType.STRING },
]);
const Response = proto3.makeMessageType("envoy.service.ratelimit.v3.RateLimitResponse", [
  { no: 1, name: "overall_code", kind: "enum", T: proto3.getEnumType(Code) },
  { no: 2, name: "statuses", kind: "message", T: Status, repeated: true },
  { no: 3, name: "response_headers_to_add", kind: "message", T: HeaderValue, repeated: true },
  { no: 4, name: "request_headers_to_add", kind: "message", T: HeaderValue, repeated: true },
]);
const Service = {
  typeName: "envoy.service.ratelimit.v3.RateLimitService",
  methods: {
    shouldRateLimit: { name: "ShouldRateLimit", I: Request, O: Response, kind: pb.MethodKind.Unary },
  },
};

const CODES: Record<string, number> = { OK: 1, OVER_LIMIT: 2 };

/** toMessage turns toResponse's plain reply (grpc-js's shape) into the connect Response message. */
// biome-ignore lint/suspicious/noExplicitAny: the plain reply of toResponse
function toMessage(r: any): unknown {
  return new Response({
    overallCode: CODES[r.overall_code] ?? 0,
    // biome-ignore lint/suspicious/noExplicitAny: the plain reply of toResponse
    statuses: (r.statuses as any[]).map(
      (s) =>
        new Status({
          code: CODES[s.code] ?? 0,
          ...(s.current_limit
            ? {
                currentLimit: new Limit({
                  name: s.current_limit.name,
                  requestsPerUnit: s.current_limit.requests_per_unit,
                  unit: s.current_limit.unit,
                }),
              }
            : {}),
          limitRemaining: s.limit_remaining,
          ...(s.duration_until_reset
            ? {
                durationUntilReset: new Duration({
                  seconds: BigInt(s.duration_until_reset.seconds),
                  nanos: s.duration_until_reset.nanos,
                }),
              }
            : {}),
        }),
    ),
    // biome-ignore lint/suspicious/noExplicitAny: the plain reply of toResponse
    responseHeadersToAdd: (r.response_headers_to_add as any[]).map((h) => new HeaderValue(h)),
  });
}

const ECHO = toMessage(REPLY);

const [kind, config] = process.argv.slice(2);
let handler: (req: unknown) => Promise<unknown> | unknown = () => ECHO;
if (kind === "serve") {
  const { config: cfg } = await loadAll([config as string]);
  // As startService builds it: heavy hitters on, /metrics attached, Envoy's counters kept per verdict.
  const limiter = new RateLimiter({
    policy: fixedWindow({ name: "serve", limit: 1, windowMs: 1000 }),
    heavyHitters: 20,
  });
  const decider = new Decider(limiter, cfg);
  const stats = new ServiceStats();
  await serviceMetrics(limiter, stats);
  // biome-ignore lint/suspicious/noExplicitAny: a decoded connect Request message
  handler = async (req: any) => {
    const input = toInput({
      domain: req.domain,
      hits_addend: req.hitsAddend,
      // biome-ignore lint/suspicious/noExplicitAny: a decoded connect Request message
      descriptors: req.descriptors.map((d: any) => ({
        entries: d.entries,
        hits_addend: d.hitsAddend === undefined ? null : { value: Number(d.hitsAddend) },
      })),
    });
    const v = await decider.decide(input);
    stats.record(input, v);
    return toMessage(toResponse(v));
  };
}
const routes = (router: { service: (s: unknown, impl: unknown) => void }) =>
  router.service(Service, { shouldRateLimit: handler });
const server = createServer(connectNode.connectNodeAdapter({ routes, grpc: true, connect: false, grpcWeb: false }));
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
