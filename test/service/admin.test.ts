// admin.test.ts: the real `floodgate serve` process's separate admin address (loopback, the address as the
// credential) and its top-offenders view from the limiter's heavy hitters; without credentials an admin call gets
// 401 (or 403 where admin calls are off) and changes nothing.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descriptor, postJson, rlsClient, type ServiceProcess, startServe, tempDir } from "./helpers.js";

const LIMITS = `
domain: api
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 2, name: per_user }
  - key: ip
    rate_limit: { unit: hour, requests_per_unit: 1 }
`;

const tmp = tempDir("admin");
const file = tmp.write("limits.yaml", LIMITS);

afterAll(() => tmp.remove());

const user = (v: string) => ({ domain: "api", descriptors: [{ entries: [{ key: "user", value: v }] }] });

const getJson = async (port: number, path: string, headers: Record<string, string> = {}) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

const remaining = async (s: ServiceProcess, v: string) =>
  ((await postJson(s.httpPort, "/v1/peek", user(v))).body.statuses as { limit_remaining: number }[])[0]
    ?.limit_remaining;

describe("a separate admin address without an admin token", () => {
  let s: ServiceProcess;
  beforeAll(async () => {
    s = await startServe(["--config", file, "--admin-port", "0", "--top-offenders", "5"]);
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  it("listens on loopback by default and serves only the admin routes and probes", async () => {
    const l = s.logs.find((x) => x.msg === "floodgate serve listening") as Record<string, unknown>;
    expect(l.adminHost).toBe("127.0.0.1");
    const port = l.adminPort as number;
    expect((await postJson(port, "/v1/decide", user("x"))).status).toBe(404);
    expect((await getJson(port, "/healthz")).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  });

  it("resets there without a token; on the public address admin calls stay off (403) and change nothing", async () => {
    const port = s.logs.find((x) => x.msg === "floodgate serve listening")?.adminPort as number;
    await postJson(s.httpPort, "/v1/decide", user("amy"));
    expect(await remaining(s, "amy")).toBe(1);
    expect((await postJson(s.httpPort, "/v1/reset", user("amy"))).status).toBe(403);
    expect((await getJson(s.httpPort, "/v1/admin/top")).status).toBe(403);
    expect(await remaining(s, "amy")).toBe(1);
    const r = await postJson(port, "/v1/reset", user("amy"));
    expect(r).toMatchObject({ status: 200, body: { limits: 1 } });
    expect(await remaining(s, "amy")).toBe(2);
  });

  it("GET /v1/admin/top lists the most refused keys per rule, with their descriptors and counts", async () => {
    const port = s.logs.find((x) => x.msg === "floodgate serve listening")?.adminPort as number;
    const c = rlsClient(s.grpcPort);
    try {
      // step: "mallory" asks 7 times (2 admitted, 5 refused), "eve" 3 times (2 admitted, 1 refused).
      for (let i = 0; i < 7; i++)
        await c.shouldRateLimit({ domain: "api", descriptors: [descriptor({ user: "mallory" })] });
      for (let i = 0; i < 3; i++)
        await c.shouldRateLimit({ domain: "api", descriptors: [descriptor({ user: "eve" })] });
    } finally {
      c.close();
    }
    const top = await getJson(port, "/v1/admin/top?policy=per_user");
    expect(top.status).toBe(200);
    expect(top.body).toEqual({
      policies: [
        {
          policy: "per_user",
          domain: "api",
          rule: "api/user",
          refused: 6,
          keys: [
            {
              key: JSON.stringify(["api", "user", "mallory"]),
              descriptor: { domain: "api", entries: [{ key: "user", value: "mallory" }] },
              count: 5,
              error: 0,
            },
            {
              key: JSON.stringify(["api", "user", "eve"]),
              descriptor: { domain: "api", entries: [{ key: "user", value: "eve" }] },
              count: 1,
              error: 0,
            },
          ],
        },
      ],
    });
  });
});

describe("a separate admin address with an admin token", () => {
  let s: ServiceProcess;
  beforeAll(async () => {
    s = await startServe(["--config", file, "--admin-port", "0", "--admin-token", "t0p"]);
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  it("asks for the token there too: 401 without it, and nothing changes", async () => {
    const port = s.logs.find((x) => x.msg === "floodgate serve listening")?.adminPort as number;
    await postJson(s.httpPort, "/v1/decide", user("bo"));
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const r = await postJson(port, "/v1/reset", user("bo"), headers);
      expect(r).toMatchObject({ status: 401, body: { error: "ERR_UNAUTHENTICATED" } });
      expect((await getJson(port, "/v1/admin/top", headers)).status).toBe(401);
    }
    expect(await remaining(s, "bo")).toBe(1);
    const ok = await postJson(port, "/v1/reset", user("bo"), { authorization: "Bearer t0p" });
    expect(ok.status).toBe(200);
    expect(await remaining(s, "bo")).toBe(2);
  });
});
