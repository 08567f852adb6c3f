// http.test.ts: the real `floodgate serve` process's HTTP JSON API over loopback: decide and peek give the gRPC
// API's verdicts; refund, reset and reload are admin-only (off without a token; 401 and no change with a wrong
// one); bodies are bounded and checked; /openapi.json, /healthz, /readyz.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descriptor, postJson, rlsClient, type ServiceProcess, startServe, tempDir } from "./helpers.js";

const LIMITS = `
domain: api
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 3 }
  - key: route
    value: /export
    rate_limit: { unit: hour, requests_per_unit: 1 }
`;

const tmp = tempDir("http");
let svc: ServiceProcess;
const ADMIN = { authorization: "Bearer admin-secret" };

beforeAll(async () => {
  svc = await startServe(["--config", tmp.write("limits.yaml", LIMITS), "--admin-token", "admin-secret"]);
}, 60_000);

afterAll(async () => {
  await svc?.stop();
  tmp.remove();
});

const body = (user: string, extra: Record<string, unknown> = {}) => ({
  domain: "api",
  descriptors: [{ entries: [{ key: "user", value: user }] }],
  ...extra,
});

describe("decide and peek", () => {
  it("POST /v1/decide answers the verdict with its headers; cost counts like hits_addend", async () => {
    const r1 = await postJson(svc.httpPort, "/v1/decide", body("ann", { cost: 2 }));
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({
      allowed: true,
      overall_code: "OK",
      statuses: [{ code: "OK", rule: "api/user", limit: { requests_per_unit: 3, unit: "HOUR" }, limit_remaining: 1 }],
    });
    expect(r1.headers.get("ratelimit")).toMatch(/;r=1;t=\d+$/);
    const r2 = await postJson(svc.httpPort, "/v1/decide", body("ann", { cost: 2 }));
    expect(r2.body).toMatchObject({ allowed: false, overall_code: "OVER_LIMIT", statuses: [{ limit_remaining: 1 }] });
    expect(Number(r2.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("gives the same verdicts as the gRPC API: both count against one state", async () => {
    const c = rlsClient(svc.grpcPort);
    try {
      await c.shouldRateLimit({ domain: "api", descriptors: [descriptor({ user: "bob" })] });
      const r = await postJson(svc.httpPort, "/v1/peek", body("bob"));
      expect(r.body).toMatchObject({ statuses: [{ limit_remaining: 2 }] });
      await postJson(svc.httpPort, "/v1/decide", body("bob"));
      const g = await c.shouldRateLimit({ domain: "api", descriptors: [descriptor({ user: "bob" }, 0)] });
      expect((g.statuses as { limit_remaining: number }[])[0]?.limit_remaining).toBe(1);
    } finally {
      c.close();
    }
  });

  it("all-or-nothing: refused by the route, the user limit keeps its quota", async () => {
    const both = {
      domain: "api",
      descriptors: [{ entries: [{ key: "user", value: "cat" }] }, { entries: [{ key: "route", value: "/export" }] }],
    };
    expect((await postJson(svc.httpPort, "/v1/decide", both)).body.allowed).toBe(true);
    const r = await postJson(svc.httpPort, "/v1/decide", both);
    expect(r.body).toMatchObject({
      allowed: false,
      statuses: [{ code: "OK", limit_remaining: 2 }, { code: "OVER_LIMIT" }],
    });
    expect((await postJson(svc.httpPort, "/v1/peek", body("cat"))).body).toMatchObject({
      statuses: [{ limit_remaining: 2 }],
    });
  });
});

describe("admin calls", () => {
  it("refund and reset need the admin token: a wrong or missing one gets 401 and changes nothing", async () => {
    await postJson(svc.httpPort, "/v1/decide", body("dan", { cost: 3 }));
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const r = await postJson(svc.httpPort, "/v1/refund", body("dan", { cost: 3 }), headers);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("ERR_UNAUTHENTICATED");
      expect((await postJson(svc.httpPort, "/v1/reset", body("dan"), headers)).status).toBe(401);
    }
    expect((await postJson(svc.httpPort, "/v1/peek", body("dan"))).body).toMatchObject({
      statuses: [{ limit_remaining: 0 }],
    });
    expect((await postJson(svc.httpPort, "/v1/refund", body("dan", { cost: 2 }), ADMIN)).body).toEqual({ limits: 1 });
    expect((await postJson(svc.httpPort, "/v1/peek", body("dan"))).body).toMatchObject({
      statuses: [{ limit_remaining: 2 }],
    });
    expect((await postJson(svc.httpPort, "/v1/reset", body("dan"), ADMIN)).body).toEqual({ limits: 1 });
    expect((await postJson(svc.httpPort, "/v1/peek", body("dan"))).body).toMatchObject({
      statuses: [{ limit_remaining: 3 }],
    });
  });

  it("reload through the admin route", async () => {
    const r = await postJson(svc.httpPort, "/v1/admin/reload", {}, ADMIN);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true });
    expect((await postJson(svc.httpPort, "/v1/admin/reload", {})).status).toBe(401);
  });

  it("without --admin-token, admin calls are off (403)", async () => {
    const s = await startServe(["--config", tmp.write("noadmin.yaml", LIMITS), "--grpc-port", "off"]);
    try {
      expect(s.grpcPort).toBeUndefined();
      const r = await postJson(s.httpPort, "/v1/reset", body("x"), ADMIN);
      expect(r.status).toBe(403);
      expect(r.body.error).toBe("ERR_ADMIN_DISABLED");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

describe("bad input", () => {
  const rows: { step: number; body: unknown; headers?: Record<string, string>; status: number; want: RegExp }[] = [
    { step: 1, body: "{not json", status: 400, want: /not valid JSON/ },
    { step: 2, body: { ...body("e"), extra: 1 }, status: 400, want: /unknown field "extra"/ },
    {
      step: 3,
      body: { domain: "api", descriptors: [{ entries: [{ key: "user", value: "e" }], nope: 1 }] },
      status: 400,
      want: /unknown field "nope" in descriptors\[0\]/,
    },
    { step: 4, body: { domain: "api", descriptors: [] }, status: 400, want: /at least one descriptor/ },
    {
      step: 5,
      body: {
        domain: "api",
        descriptors: Array.from({ length: 65 }, () => ({ entries: [{ key: "user", value: "e" }] })),
      },
      status: 400,
      want: /more than 64/,
    },
    { step: 6, body: body("e", { cost: -1 }), status: 400, want: /hits_addend must be a whole number/ },
    { step: 7, body: body("e", { cost: 1, hits_addend: 1 }), status: 400, want: /cost or hits_addend, not both/ },
    { step: 8, body: { policy: "api", key: "u1" }, status: 400, want: /policy \+ key needs a policy file/ },
    { step: 9, body: body("x".repeat(70_000)), status: 413, want: /larger than 65536 bytes/ },
    { step: 10, body: body("e"), headers: { "content-type": "text/plain" }, status: 415, want: /application\/json/ },
  ];
  it.each(rows)("step $step: $status", async ({ step, body: b, headers, status, want }) => {
    const r = await postJson(svc.httpPort, "/v1/decide", b, headers);
    expect(r.status, `step ${step}: ${JSON.stringify(r.body)}`).toBe(status);
    expect(String(r.body.message)).toMatch(want);
  });

  it("nothing was counted for the refused bodies, and unknown routes and methods answer 404 and 405", async () => {
    expect((await postJson(svc.httpPort, "/v1/peek", body("e"))).body).toMatchObject({
      statuses: [{ limit_remaining: 3 }],
    });
    expect((await postJson(svc.httpPort, "/v2/decide", body("e"))).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${svc.httpPort}/v1/decide`)).status).toBe(405);
  });
});

describe("documents and probes", () => {
  it("serves /openapi.json, /healthz and /readyz", async () => {
    const doc = (await (await fetch(`http://127.0.0.1:${svc.httpPort}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/decide", "/v1/peek", "/v1/refund", "/v1/reset", "/healthz", "/readyz"]),
    );
    expect((await fetch(`http://127.0.0.1:${svc.httpPort}/healthz`)).status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toMatch(/^floodgate_ratelimit_total_hits_total\{domain="api",rule="api\/user"\} \d+$/m);
    expect(text).not.toContain("ann"); // a request's value is never a label
    expect(await (await fetch(`http://127.0.0.1:${svc.httpPort}/readyz`)).json()).toEqual({ status: "ready" });
  });
});
