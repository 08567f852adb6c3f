// http.ts: the service's HTTP JSON API on node:http: decide, peek, refund, reset, health, OpenAPI.

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { UNITS } from "./config.js";
import type { DecideInput, Decider, PolicyInput, PolicyVerdict, RequestDescriptor, ServiceVerdict } from "./decide.js";
import type { MetricsUnavailable, ServiceMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";

/** HttpOptions configures the HTTP API. */
export interface HttpOptions {
  readonly decider: Decider;
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** tokens, when non-empty, are the bearer tokens decide and peek require. */
  readonly tokens: readonly string[];
  /** adminTokens, when non-empty, enable refund and reset for callers that send one; empty: they answer 403. */
  readonly adminTokens: readonly string[];
  /** maxBodyBytes bounds a request body (413 past it). */
  readonly maxBodyBytes: number;
  readonly log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** ready reports whether the service takes traffic (/readyz). */
  readonly ready: () => boolean;
  readonly onVerdict?: ((input: DecideInput, v: ServiceVerdict) => void) | undefined;
  /** metrics answers GET /metrics (Prometheus text), or says why it cannot (501). */
  readonly metrics?: ServiceMetrics | MetricsUnavailable | undefined;
  /** admin, when set, serves extra admin routes (reload, the top offenders) behind the admin credentials. */
  readonly admin?:
    | {
        readonly reload?: () => Promise<{ ok: boolean; message: string }>;
        readonly top?: (policy: string | undefined) => unknown;
      }
    | undefined;
  /**
   * adminListener makes this the separate admin address: it serves the admin routes (and the
   * probes) only, and the address itself is the credential: no token is asked unless
   * adminTokens are set. Bind it to loopback (the default of --admin-host).
   */
  readonly adminListener?: boolean;
}

/** HttpServer is a running HTTP API. */
export interface HttpServer {
  readonly port: number;
  readonly server: Server;
  /** close stops accepting connections and waits up to `graceMs` for requests in flight. */
  close(graceMs: number): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** ADMIN_ROUTES are the routes of the separate admin address (with /healthz and /readyz). */
const ADMIN_ROUTES = new Set(["/v1/refund", "/v1/reset", "/v1/admin/reload", "/v1/admin/top"]);

/** ROUTES maps the POST routes to what they do. */
const ROUTES = new Map<string, "decide" | "peek" | "refund" | "reset" | "reload">([
  ["/v1/decide", "decide"],
  ["/v1/peek", "peek"],
  ["/v1/refund", "refund"],
  ["/v1/reset", "reset"],
  ["/v1/admin/reload", "reload"],
]);

const BODY_KEYS = new Set(["domain", "descriptors", "hits_addend", "cost", "policy", "key"]);
const DESCRIPTOR_KEYS = new Set(["entries", "hits_addend", "limit"]);
const LIMIT_KEYS = new Set(["requests_per_unit", "unit"]);

/**
 * parseBody reads a decide/peek/refund/reset body: `{ domain, descriptors: [{ entries: [{ key, value }],
 * hits_addend? }], hits_addend? | cost? }`, or the policy-file form `{ policy, key, cost? }` (a named
 * policy of the service's policy file). Unknown fields are refused (400), so a typo never silently
 * decides something else.
 */
export function parseBody(body: unknown): DecideInput | PolicyInput {
  // The field checks walk keys with for...in (perf: no key array): JSON.parse makes plain objects, own keys only.
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "ERR_INVALID_REQUEST", "the body must be a JSON object with domain and descriptors.");
  }
  const b = body as Record<string, unknown>;
  for (const k in b) {
    if (!BODY_KEYS.has(k)) {
      throw new HttpError(
        400,
        "ERR_UNKNOWN_OPTION",
        `unknown field ${JSON.stringify(k)}; the fields are ${[...BODY_KEYS].join(", ")}.`,
      );
    }
  }
  if (b.policy !== undefined || b.key !== undefined) {
    if (b.domain !== undefined || b.descriptors !== undefined || b.hits_addend !== undefined) {
      throw new HttpError(
        400,
        "ERR_INVALID_REQUEST",
        "send either policy + key (+ cost) or domain + descriptors (+ hits_addend), not both.",
      );
    }
    if (b.policy === undefined || b.key === undefined) {
      throw new HttpError(
        400,
        "ERR_INVALID_REQUEST",
        'the policy form needs both policy and key, such as { "policy": "api", "key": "user:42" }.',
      );
    }
    return { policy: b.policy as string, key: b.key as string, cost: b.cost as number | undefined };
  }
  if (b.cost !== undefined && b.hits_addend !== undefined) {
    throw new HttpError(400, "ERR_INVALID_REQUEST", "send cost or hits_addend, not both (they are the same).");
  }
  if (!Array.isArray(b.descriptors)) {
    throw new HttpError(400, "ERR_INVALID_REQUEST", "descriptors must be a list of { entries: [{ key, value }] }.");
  }
  const descriptors: RequestDescriptor[] = (b.descriptors as unknown[]).map((d, i) => {
    if (typeof d !== "object" || d === null || Array.isArray(d)) {
      throw new HttpError(400, "ERR_INVALID_REQUEST", `descriptors[${i}] must be an object with entries.`);
    }
    for (const k in d) {
      if (!DESCRIPTOR_KEYS.has(k)) {
        throw new HttpError(400, "ERR_UNKNOWN_OPTION", `unknown field ${JSON.stringify(k)} in descriptors[${i}].`);
      }
    }
    const x = d as { entries?: unknown; hits_addend?: unknown; limit?: unknown };
    let limit: RequestDescriptor["limit"];
    if (x.limit !== undefined && x.limit !== null) {
      if (typeof x.limit !== "object" || Array.isArray(x.limit)) {
        throw new HttpError(
          400,
          "ERR_INVALID_REQUEST",
          `descriptors[${i}].limit must be { "requests_per_unit": N, "unit": "MINUTE" }.`,
        );
      }
      for (const k in x.limit) {
        if (!LIMIT_KEYS.has(k)) {
          throw new HttpError(
            400,
            "ERR_UNKNOWN_OPTION",
            `unknown field ${JSON.stringify(k)} in descriptors[${i}].limit; the fields are requests_per_unit, unit.`,
          );
        }
      }
      const l = x.limit as { requests_per_unit?: unknown; unit?: unknown };
      // Checked by the decider (checkOverride), as the gRPC API's.
      limit = { requestsPerUnit: l.requests_per_unit as number, unit: l.unit as string };
    }
    const entries = x.entries as RequestDescriptor["entries"];
    const hitsAddend = x.hits_addend as number | undefined;
    return limit === undefined ? { entries, hitsAddend } : { entries, hitsAddend, limit };
  });
  return {
    domain: b.domain as string,
    descriptors,
    hitsAddend: (b.cost ?? b.hits_addend ?? 0) as number,
  };
}

/** verdictJson renders a verdict for the HTTP API. */
export function verdictJson(v: ServiceVerdict): Record<string, unknown> {
  return {
    allowed: v.overall === "OK",
    overall_code: v.overall,
    statuses: v.statuses.map((s) => ({
      code: s.code,
      ...(s.rule === undefined
        ? { unlimited: s.matched?.unlimited === true, matched: s.matched?.path ?? null }
        : {
            rule: s.rule.path,
            name: s.rule.name ?? null,
            algorithm: s.rule.algorithm,
            limit: { requests_per_unit: s.rule.requestsPerUnit, unit: s.rule.unit.toUpperCase() },
            limit_remaining: s.decision?.remaining ?? 0,
            duration_until_reset_ms: s.durationUntilResetMs,
            shadow_over_limit: s.shadowOverLimit,
            unit_code: UNITS[s.rule.unit].code,
          }),
    })),
    headers: Object.fromEntries(v.headers),
    ...(v.degraded ? { degraded: true } : {}),
  };
}

/** ruleHeads caches per rule the part of its status that never changes (perf), see verdictText. */
const ruleHeads = new WeakMap<object, string>();

/** CODE_JSON is each verdict code as a JSON string (perf: no JSON.stringify per status). */
const CODE_JSON: Readonly<Record<string, string>> = { OK: '"OK"', OVER_LIMIT: '"OVER_LIMIT"' };

/** HEADER_JSON is each header name a verdict carries as a JSON string (perf: no JSON.stringify per name). */
const HEADER_JSON: ReadonlyMap<string, string> = new Map(
  ["RateLimit-Policy", "RateLimit", "Retry-After"].map((k) => [k, JSON.stringify(k)]),
);

/** num renders a number as JSON.stringify does (a non-finite number is null). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : "null");

/**
 * verdictText is JSON.stringify(verdictJson(v)), byte for byte (a test holds them equal over every kind of
 * status), built as one string from a per-rule cached head and the few per-call numbers (perf: the hot path of
 * POST /v1/decide, without the intermediate objects).
 */
export function verdictText(v: ServiceVerdict): string {
  let out = `{"allowed":${v.overall === "OK"},"overall_code":${CODE_JSON[v.overall] ?? JSON.stringify(v.overall)},"statuses":[`;
  for (let i = 0; i < v.statuses.length; i++) {
    const s = v.statuses[i] as ServiceVerdict["statuses"][number];
    if (i > 0) out += ",";
    if (s.rule === undefined) {
      out += `{"code":${JSON.stringify(s.code)},"unlimited":${s.matched?.unlimited === true},"matched":${JSON.stringify(s.matched?.path ?? null)}}`;
      continue;
    }
    const r = s.rule;
    let head = ruleHeads.get(r);
    if (head === undefined) {
      head = `"rule":${JSON.stringify(r.path)},"name":${JSON.stringify(r.name ?? null)},"algorithm":${JSON.stringify(r.algorithm)},"limit":${JSON.stringify({ requests_per_unit: r.requestsPerUnit, unit: r.unit.toUpperCase() })},"limit_remaining":`;
      ruleHeads.set(r, head);
    }
    out += `{"code":${CODE_JSON[s.code] ?? JSON.stringify(s.code)},${head}${num(s.decision?.remaining ?? 0)},"duration_until_reset_ms":${num(s.durationUntilResetMs)},"shadow_over_limit":${s.shadowOverLimit},"unit_code":${UNITS[r.unit].code}}`;
  }
  out += '],"headers":{';
  const h = v.headers;
  // As Object.fromEntries: a repeated name keeps its first place and its last value (the service never repeats
  // one: the names are checked distinct, else the Map does it).
  let distinct = true;
  for (let i = 1; i < h.length && distinct; i++)
    for (let j = 0; j < i; j++) if ((h[i] as [string, string])[0] === (h[j] as [string, string])[0]) distinct = false;
  const fields: Iterable<readonly [string, string]> = distinct ? h : new Map<string, string>(h);
  let first = true;
  for (const [k, value] of fields) {
    out += `${first ? "" : ","}${HEADER_JSON.get(k) ?? JSON.stringify(k)}:${JSON.stringify(value)}`;
    first = false;
  }
  return `${out}}${v.degraded ? ',"degraded":true' : ""}}`;
}

/** policyJson renders the answer to a policy-form request. */
export function policyJson(input: PolicyInput, v: PolicyVerdict): Record<string, unknown> {
  const d = v.decision;
  return {
    allowed: d.allowed,
    policy: input.policy,
    limit: d.limit,
    remaining: d.remaining,
    retry_after_ms: d.retryAfterMs,
    reset_after_ms: d.resetAfterMs,
    headers: Object.fromEntries(v.headers),
    ...(d.degraded === undefined ? {} : { degraded: true }),
  };
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === "string" ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m ? (m[1] as string).trim() : undefined;
}

/**
 * send answers with a JSON body (an object, or `text` already rendered) in one write: status and every header
 * field go to writeHead as one flat list (perf: no per-field setHeader bookkeeping), with Content-Length, so the
 * answer is never chunked and the head and body leave in one write.
 */
function send(res: ServerResponse, status: number, body: unknown, headers: readonly [string, string][] = []): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const flat = ["Content-Type", "application/json", "Content-Length", String(Buffer.byteLength(text))];
  for (const [k, v] of headers) flat.push(k, v);
  res.writeHead(status, flat);
  res.end(text);
}

/** readJson reads a JSON body of at most `max` bytes. */
function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => readBody(req, max, (err, body) => (err ? reject(err) : resolve(body))));
}

/**
 * readBody reads a JSON body of at most `max` bytes and calls `done` once, with the error or the parsed body
 * (perf: no promise, for the hot path of POST /v1/decide; readJson is its promise).
 */
function readBody(req: IncomingMessage, max: number, done: (err: unknown, body?: unknown) => void): void {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) {
    req.resume();
    done(new HttpError(415, "ERR_INVALID_REQUEST", "send the body as Content-Type: application/json."));
    return;
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) {
    req.resume();
    done(new HttpError(413, "ERR_INVALID_REQUEST", `the body is larger than ${max} bytes.`));
    return;
  }
  // A body nearly always comes in one chunk: kept alone, it is parsed without a concat (perf).
  let one: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  let finished = false;
  req.on("data", (c: Buffer) => {
    if (finished) return;
    size += c.length;
    if (size > max) {
      finished = true;
      done(new HttpError(413, "ERR_INVALID_REQUEST", `the body is larger than ${max} bytes.`));
      req.resume();
      return;
    }
    if (one === undefined && chunks === undefined) one = c;
    else {
      chunks ??= [one as Buffer];
      one = undefined;
      chunks.push(c);
    }
  });
  req.on("end", () => {
    if (finished) return;
    finished = true;
    let body: unknown;
    try {
      const all = one ?? (chunks === undefined ? Buffer.alloc(0) : Buffer.concat(chunks));
      body = JSON.parse(all.toString("utf8"));
    } catch {
      done(new HttpError(400, "ERR_INVALID_REQUEST", "the body is not valid JSON."));
      return;
    }
    done(undefined, body);
  });
  req.on("error", (e) => {
    if (!finished) {
      finished = true;
      done(e);
    }
  });
}

/** startHttp starts the HTTP API on `host:port` (0: any free port). */
export async function startHttp(o: HttpOptions): Promise<HttpServer> {
  const open = (req: IncomingMessage): boolean => o.tokens.length === 0 || o.tokens.includes(bearer(req) ?? "");
  const admin = (req: IncomingMessage): void => {
    if (o.adminListener && o.adminTokens.length === 0) return;
    if (o.adminTokens.length === 0) {
      throw new HttpError(
        403,
        "ERR_ADMIN_DISABLED",
        "admin calls are off; start the service with --admin-token to enable them.",
      );
    }
    if (!o.adminTokens.includes(bearer(req) ?? "")) {
      throw new HttpError(401, "ERR_UNAUTHENTICATED", "admin calls need Authorization: Bearer <admin token>.");
    }
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/healthz") return send(res, 200, { status: "ok" });
    if (method === "GET" && path === "/readyz") {
      const ready = o.ready();
      return send(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready" });
    }
    if (method === "GET" && path === "/v1/admin/top") {
      admin(req);
      const policy = new URL(req.url ?? "/", "http://x").searchParams.get("policy") ?? undefined;
      return send(res, 200, o.admin?.top?.(policy) ?? { policies: [] });
    }
    if (o.adminListener && !ADMIN_ROUTES.has(path)) {
      throw new HttpError(404, "ERR_NOT_FOUND", `the admin address serves ${[...ADMIN_ROUTES].join(", ")} only.`);
    }
    if (method === "GET" && path === "/openapi.json") return send(res, 200, openApiDocument());
    if (method === "GET" && path === "/metrics" && o.metrics !== undefined) {
      const m = o.metrics;
      if ("unavailable" in m) throw new HttpError(501, "ERR_MISSING_PEER", m.unavailable);
      const text = await m.render();
      res.setHeader("Content-Type", m.contentType);
      res.end(text);
      return;
    }
    const route = ROUTES.get(path);
    if (route === undefined) throw new HttpError(404, "ERR_NOT_FOUND", `no route ${path}; see /openapi.json.`);
    if (method !== "POST") {
      res.setHeader("Allow", "POST");
      throw new HttpError(405, "ERR_METHOD", `${path} takes POST.`);
    }
    if (route === "decide" || route === "peek") {
      if (!open(req)) throw new HttpError(401, "ERR_UNAUTHENTICATED", "send Authorization: Bearer <token>.");
    } else {
      admin(req);
    }
    if (route === "reload") {
      req.resume();
      const r = (await o.admin?.reload?.()) ?? { ok: false, message: "reload is not available" };
      return send(res, r.ok ? 200 : 409, r);
    }
    const input = parseBody(await readJson(req, o.maxBodyBytes));
    if ("policy" in input) {
      if (route === "decide" || route === "peek") {
        const v = await o.decider.decidePolicy(input, route);
        return send(res, 200, policyJson(input, v), v.headers);
      }
      await o.decider.changePolicy(input, route);
      return send(res, 200, { limits: 1 });
    }
    if (route === "decide") return answer(res, input, await o.decider.decide(input));
    if (route === "peek") {
      const v = await o.decider.peek(input);
      return send(res, 200, verdictText(v), v.headers);
    }
    const n = route === "refund" ? await o.decider.refund(input) : await o.decider.reset(input);
    return send(res, 200, { limits: n });
  };
  /** fail answers a request that failed: its HttpError, a coded floodgate error (400), else 500 (logged). */
  const fail = (res: ServerResponse, err: unknown): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      send(res, err.status, { error: err.code, message: err.message });
      return;
    }
    const e = err as Error & { code?: unknown };
    if (typeof e?.code === "string" && e.code.startsWith("ERR_")) {
      send(res, 400, { error: e.code, message: e.message });
      return;
    }
    o.log("error", "HTTP request failed", { error: String(e?.stack ?? err) });
    send(res, 500, { error: "ERR_INTERNAL", message: "internal error" });
  };
  /** answer sends a decide verdict (told to onVerdict first; a listener that throws never reaches the caller). */
  const answer = (res: ServerResponse, input: DecideInput, v: ServiceVerdict): void => {
    try {
      o.onVerdict?.(input, v);
    } catch {
      // A listener that throws never reaches the caller.
    }
    send(res, 200, verdictText(v), v.headers);
  };
  /**
   * decideNow is POST /v1/decide of the domain form without a promise where it can be (perf: the hot path): the
   * body read by callbacks, decided by Decider.decideNow (synchronous in process). Same answers as handle's.
   */
  const decideNow = (req: IncomingMessage, res: ServerResponse): void => {
    readBody(req, o.maxBodyBytes, (err, body) => {
      if (err !== undefined) return fail(res, err);
      try {
        const input = parseBody(body);
        if ("policy" in input) {
          // The catch also takes what the answer itself throws: never an unhandled rejection.
          o.decider
            .decidePolicy(input, "decide")
            .then((v) => send(res, 200, policyJson(input, v), v.headers))
            .catch((e: unknown) => fail(res, e));
          return;
        }
        const v = o.decider.decideNow(input);
        if (v instanceof Promise) v.then((x) => answer(res, input, x)).catch((e: unknown) => fail(res, e));
        else answer(res, input, v);
      } catch (e) {
        fail(res, e);
      }
    });
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === "POST" && req.url === "/v1/decide" && !o.adminListener && (o.tokens.length === 0 || open(req))) {
      decideNow(req, res);
      return;
    }
    handle(req, res).catch((err: unknown) => fail(res, err));
  };
  const server =
    o.tls === undefined
      ? createHttpServer(listener)
      : createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close(graceMs: number) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, graceMs);
        timer.unref?.();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
