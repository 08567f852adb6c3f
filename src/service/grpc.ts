// grpc.ts: Envoy's RateLimitService (envoy.service.ratelimit.v3) and grpc.health.v1 over @grpc/grpc-js.

import type * as GrpcJs from "@grpc/grpc-js";
import type * as ProtoLoader from "@grpc/proto-loader";
import { FloodgateError } from "../core/errors.js";
import { UNITS } from "./config.js";
import type { DecideInput, Decider, ServiceVerdict } from "./decide.js";
import { PROTO_JSON } from "./proto.generated.js";

/** LOADER_OPTIONS are the proto-loader options of the server (and of the tests' clients). */
export const LOADER_OPTIONS = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/** RLS_SERVICE is the full name of the rate limit service. */
export const RLS_SERVICE = "envoy.service.ratelimit.v3.RateLimitService";

/** RLS_PATH is the HTTP/2 path of ShouldRateLimit. */
const RLS_PATH = `/${RLS_SERVICE}/ShouldRateLimit`;

/** IDLE_MS is how long a draining server waits with no call in flight before it closes the connections left. */
const IDLE_MS = 250;

/** MAX_UINT32 is what an unlimited descriptor reports as remaining (as envoyproxy/ratelimit does). */
const MAX_UINT32 = 4_294_967_295;

let loaded: Promise<{ grpc: typeof GrpcJs; loader: typeof ProtoLoader }> | undefined;

/** loadGrpc imports @grpc/grpc-js and @grpc/proto-loader (optional peers) on first use; ERR_MISSING_PEER without them. */
export function loadGrpc(): Promise<{ grpc: typeof GrpcJs; loader: typeof ProtoLoader }> {
  loaded ??= (async () => {
    try {
      const grpc = (await import("@grpc/grpc-js")) as typeof GrpcJs;
      const loader = (await import("@grpc/proto-loader")) as typeof ProtoLoader;
      return { grpc, loader };
    } catch (err) {
      loaded = undefined;
      throw new FloodgateError(
        "ERR_MISSING_PEER",
        "floodgate serve: the gRPC API needs the optional peer dependencies @grpc/grpc-js and @grpc/proto-loader; install them with `npm install @grpc/grpc-js @grpc/proto-loader`, or pass --grpc-port off to serve HTTP only.",
        { cause: err },
      );
    }
  })();
  return loaded;
}

/** WireEntry, WireDescriptor and WireRequest are a RateLimitRequest as proto-loader decodes it. */
interface WireEntry {
  key?: string;
  value?: string;
}
interface WireDescriptor {
  entries?: WireEntry[];
  /** limit is Envoy's RateLimitOverride (null when absent); its unit is read as Envoy's number. */
  limit?: { requests_per_unit?: number; unit?: number } | null;
  hits_addend?: { value?: number } | null;
}
interface WireRequest {
  domain?: string;
  descriptors?: WireDescriptor[];
  hits_addend?: number;
}

/** toInput turns a decoded RateLimitRequest into the decider's input (validation happens there). */
export function toInput(req: WireRequest): DecideInput {
  return {
    domain: req.domain ?? "",
    hitsAddend: req.hits_addend ?? 0,
    descriptors: (req.descriptors ?? []).map((d) => ({
      entries: (d.entries ?? []).map((e) => ({ key: e.key ?? "", value: e.value ?? "" })),
      hitsAddend: d.hits_addend === null || d.hits_addend === undefined ? undefined : Number(d.hits_addend.value ?? 0),
      limit:
        d.limit === null || d.limit === undefined
          ? undefined
          : { requestsPerUnit: d.limit.requests_per_unit ?? 0, unit: d.limit.unit ?? 0 },
    })),
  };
}

/** durationOf renders milliseconds as a google.protobuf.Duration. */
function durationOf(ms: number): { seconds: number; nanos: number } {
  const whole = Math.max(0, Math.ceil(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

/** toResponse renders a verdict as a RateLimitResponse. */
export function toResponse(v: ServiceVerdict): Record<string, unknown> {
  return {
    overall_code: v.overall,
    statuses: v.statuses.map((s) => {
      if (s.rule === undefined || s.decision === undefined) {
        return { code: "OK", limit_remaining: s.matched?.unlimited ? MAX_UINT32 : 0 };
      }
      return {
        code: s.code,
        current_limit: {
          name: s.rule.name ?? "",
          requests_per_unit: s.rule.requestsPerUnit,
          unit: UNITS[s.rule.unit].code,
        },
        limit_remaining: Math.min(MAX_UINT32, s.decision.remaining),
        duration_until_reset: durationOf(s.durationUntilResetMs),
      };
    }),
    response_headers_to_add: v.headers.map(([key, value]) => ({ key, value })),
    request_headers_to_add: [],
  };
}

/** GrpcOptions configures the gRPC server. */
export interface GrpcOptions {
  readonly decider: Decider;
  readonly host: string;
  readonly port: number;
  /** tls, when set, serves TLS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** tokens, when non-empty, are the bearer tokens a caller must send (metadata `authorization: Bearer ...`). */
  readonly tokens: readonly string[];
  /** maxMessageBytes bounds a request message. */
  readonly maxMessageBytes: number;
  /** log writes one structured log line. */
  readonly log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** onVerdict is told of every verdict (metrics plug in here). */
  readonly onVerdict?: ((input: DecideInput, v: ServiceVerdict) => void) | undefined;
}

/** GrpcServer is a running gRPC server. */
export interface GrpcServer {
  readonly port: number;
  /** setServing flips the health status (NOT_SERVING while draining). */
  setServing(serving: boolean): void;
  /** close stops accepting calls, waits up to `graceMs` for calls in flight, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/** startGrpc starts the RateLimitService and the health service on `host:port` (0: any free port). */
export async function startGrpc(o: GrpcOptions): Promise<GrpcServer> {
  const { grpc, loader } = await loadGrpc();
  const def = loader.fromJSON(PROTO_JSON as never, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { ratelimit: { v3: { RateLimitService: { service: GrpcJs.ServiceDefinition } } } } };
    grpc: { health: { v1: { Health: { service: GrpcJs.ServiceDefinition } } } };
  };
  /**
   * inFlight counts ShouldRateLimit calls not yet answered, from the moment their stream is opened (a server
   * interceptor runs as the HTTP/2 stream arrives, before its message is read), and `started` every call
   * so far; onIdle is set while draining.
   */
  let inFlight = 0;
  let started = 0;
  let onIdle: (() => void) | undefined;
  const counting: GrpcJs.ServerInterceptor = (method, call) => {
    if (method.path !== RLS_PATH) return new grpc.ServerInterceptingCall(call);
    inFlight++;
    started++;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      inFlight--;
      if (inFlight === 0) onIdle?.();
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: end }),
      sendStatus: (status, next) => {
        next(status);
        end();
      },
    });
  };
  const server = new grpc.Server({
    "grpc.max_receive_message_length": o.maxMessageBytes,
    "grpc.max_concurrent_streams": 1000,
    interceptors: [counting],
  });
  const authorized = (md: GrpcJs.Metadata): boolean => {
    if (o.tokens.length === 0) return true;
    const h = md.get("authorization")[0];
    const m = typeof h === "string" ? /^Bearer\s+(.+)$/i.exec(h) : null;
    return m !== null && o.tokens.includes((m[1] as string).trim());
  };
  server.addService(pkg.envoy.service.ratelimit.v3.RateLimitService.service, {
    ShouldRateLimit: (
      call: GrpcJs.ServerUnaryCall<WireRequest, unknown>,
      callback: GrpcJs.sendUnaryData<Record<string, unknown>>,
    ) => {
      if (!authorized(call.metadata)) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: "floodgate serve: a valid bearer token is required" });
        return;
      }
      let input: DecideInput;
      try {
        input = toInput(call.request);
      } catch (err) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: String((err as Error).message) });
        return;
      }
      o.decider.decide(input).then(
        (v) => {
          try {
            o.onVerdict?.(input, v);
          } catch {
            // A listener that throws never reaches the caller.
          }
          callback(null, toResponse(v));
        },
        (err: unknown) => {
          const e = err as Error & { code?: unknown };
          if (typeof e?.code === "string" && e.code.startsWith("ERR_")) {
            callback({ code: grpc.status.INVALID_ARGUMENT, details: e.message });
            return;
          }
          o.log("error", "ShouldRateLimit failed", { error: String(e?.stack ?? err) });
          callback({ code: grpc.status.INTERNAL, details: "floodgate serve: internal error" });
        },
      );
    },
  });
  let serving = true;
  const watchers = new Set<GrpcJs.ServerWritableStream<{ service?: string }, unknown>>();
  const statusOf = (service: string | undefined): string | undefined =>
    service === "" || service === undefined || service === RLS_SERVICE
      ? serving
        ? "SERVING"
        : "NOT_SERVING"
      : undefined;
  server.addService(pkg.grpc.health.v1.Health.service, {
    Check: (
      call: GrpcJs.ServerUnaryCall<{ service?: string }, unknown>,
      callback: GrpcJs.sendUnaryData<{ status: string }>,
    ) => {
      const status = statusOf(call.request.service);
      if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: "unknown service" });
      else callback(null, { status });
    },
    Watch: (call: GrpcJs.ServerWritableStream<{ service?: string }, unknown>) => {
      call.write({ status: statusOf(call.request.service) ?? "SERVICE_UNKNOWN" });
      watchers.add(call);
      call.on("cancelled", () => watchers.delete(call));
      call.on("close", () => watchers.delete(call));
    },
  });
  const creds =
    o.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(null, [{ private_key: o.tls.key, cert_chain: o.tls.cert }], false);
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${o.port}`, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port,
    setServing(s: boolean) {
      serving = s;
      for (const w of watchers) w.write({ status: statusOf(w.request.service) ?? "SERVICE_UNKNOWN" });
    },
    close(graceMs: number) {
      for (const w of watchers) w.end();
      watchers.clear();
      return new Promise<void>((resolve) => {
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          server.forceShutdown();
          resolve();
        };
        // Past the grace period, calls still in flight are cut.
        const timer = setTimeout(finish, graceMs);
        timer.unref?.();
        // tryShutdown refuses new calls; it ends only when clients close their connections, so once the
        // calls in flight are answered (and their replies have had a moment to leave), the rest is cut.
        server.tryShutdown(finish);
        // Cut only after the count has stayed at zero for IDLE_MS with no call started meanwhile. The check
        // runs after an I/O turn (setImmediate): a process starved of CPU past IDLE_MS wakes up in the
        // timers phase, before it reads the streams that arrived meanwhile (regression: under load, calls
        // the server had accepted were cut as CANCELLED).
        onIdle = () => {
          const seen = started;
          setTimeout(() => {
            setImmediate(() => {
              if (inFlight !== 0) return;
              if (started === seen) finish();
              else onIdle?.();
            });
          }, IDLE_MS).unref?.();
        };
        if (inFlight === 0) onIdle();
      });
    },
  };
}
