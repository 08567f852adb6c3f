// policy-file.test.ts: the real `floodgate serve` process reading a floodgate policy file beside its Envoy YAML
// (memory and Redis): `policy + key` bodies decide through it, a reload under traffic applies the file's live
// strategy and keeps every key's state, a bad reload keeps the running policies and cites file:line, and
// `floodgate check` validates the file offline.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { postJson, root, type ServiceProcess, startServe, tempDir } from "./helpers.js";

const LIMITS = `
domain: api
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 3 }
`;

const policies = (version: number, limit: number | string) => `version: ${version}
strategy: additive
policies:
  api: { algorithm: fixedWindow, limit: ${limit}, windowMs: 3600000 }
  login: { algorithm: tokenBucket, capacity: 5, refillRate: 0.001 }
`;

const tmp = tempDir("policy-file");
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  tmp.remove();
});

/** decide sends `n` policy-form decides for `key` at once and counts the admitted ones. */
async function decide(s: ServiceProcess, n: number, key: string): Promise<number> {
  const rs = await Promise.all(
    Array.from({ length: n }, () => postJson(s.httpPort, "/v1/decide", { policy: "api", key })),
  );
  for (const r of rs) expect(r.status, JSON.stringify(r.body)).toBe(200);
  return rs.filter((r) => r.body.allowed === true).length;
}

for (const backend of ["memory", "redis"] as const) {
  describe(`a policy file beside the Envoy configuration (${backend})`, () => {
    let s: ServiceProcess;
    const dir = `${tmp.dir}/${backend}`;
    const file = join(dir, "policies.yaml");
    beforeAll(async () => {
      const { mkdirSync, writeFileSync } = await import("node:fs");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "limits.yaml"), LIMITS);
      writeFileSync(file, policies(1, 50));
      const where = backend === "redis" ? ["--redis", redis.url, "--redis-timeout-ms", "10000"] : [];
      s = await startServe(["--config", dir, ...where]);
    }, 60_000);
    afterAll(async () => {
      await s?.stop();
    });

    it("decides `policy + key` bodies with the file's policies, beside the Envoy domains", async () => {
      expect(s.logs.find((l) => l.msg === "floodgate serve listening")).toMatchObject({
        domains: ["api"],
        policies: ["api", "login"],
      });
      const r = await postJson(s.httpPort, "/v1/decide", { policy: "login", key: "ann", cost: 2 });
      expect(r.body).toMatchObject({ allowed: true, policy: "login", limit: 5, remaining: 3 });
      expect(r.headers.get("ratelimit-policy")).toMatch(/^"login";q=5/);
      const peek = await postJson(s.httpPort, "/v1/peek", { policy: "login", key: "ann" });
      expect(peek.body).toMatchObject({ remaining: 3 });
      const envoy = await postJson(s.httpPort, "/v1/decide", {
        domain: "api",
        descriptors: [{ entries: [{ key: "user", value: "ann" }] }],
      });
      expect(envoy.body).toMatchObject({ allowed: true, statuses: [{ limit_remaining: 2 }] });
      const unknown = await postJson(s.httpPort, "/v1/decide", { policy: "nope", key: "ann" });
      expect(unknown.status).toBe(400);
      expect(String(unknown.body.message)).toMatch(/has no policy "nope"; it has "api", "login"/);
      const both = await postJson(s.httpPort, "/v1/decide", { policy: "api", key: "k", domain: "api" });
      expect(both.status).toBe(400);
      // Refund and reset of the policy form are admin calls: off without an admin token.
      expect((await postJson(s.httpPort, "/v1/reset", { policy: "login", key: "ann" })).status).toBe(403);
      expect((await postJson(s.httpPort, "/v1/peek", { policy: "login", key: "ann" })).body).toMatchObject({
        remaining: 3,
      });
    });

    it("a reload under traffic applies the file's strategy (additive 50 -> 60) and keeps state: 60 admitted in all", async () => {
      const before = await decide(s, 30, "busy");
      expect(before).toBe(30);
      // 100 more while the file changes: whichever side of the reload each lands on, the key keeps what it spent.
      const during = decide(s, 100, "busy");
      const { writeFileSync } = await import("node:fs");
      writeFileSync(file, policies(2, 60));
      const reloaded = await s.waitForLog((l) => String(l.msg).startsWith("reloaded"));
      expect(reloaded).toMatchObject({ replaced: ["api"], strategy: "additive" });
      const admittedDuring = await during;
      const after = await decide(s, 40, "busy");
      // additive: the 10 units of the raise are added to what the key had left, never a fresh window.
      expect(before + admittedDuring + after).toBe(60);
      const peek = await postJson(s.httpPort, "/v1/peek", { policy: "api", key: "busy" });
      expect(peek.body).toMatchObject({ limit: 60, remaining: 0 });
      // A key untouched before the reload starts under the new limit.
      expect((await postJson(s.httpPort, "/v1/decide", { policy: "api", key: "new" })).body).toMatchObject({
        remaining: 59,
      });
    });

    it("a bad reload keeps the running policies and says why, at file:line field", async () => {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(file, policies(3, '"sixty"'));
      const bad = await s.waitForLog((l) => String(l.msg).startsWith("reload refused"));
      expect(String(bad.msg)).toMatch(/policies\.yaml:4:\d+ policies\.api\.limit/);
      // Still version 2: limit 60, and "new" keeps its state.
      const r = await postJson(s.httpPort, "/v1/decide", { policy: "api", key: "new" });
      expect(r.body).toMatchObject({ allowed: true, limit: 60, remaining: 58 });
    });
  });
}

describe("floodgate check", () => {
  const check = (...files: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(root, "src/cli/bin.ts"), "check", ...files], {
      cwd: root,
      encoding: "utf8",
    });

  it("validates a policy file offline: ok with its policies, or exit 1 with file:line and field", () => {
    const good = check(tmp.write("good.yaml", policies(1, 50)));
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^ok: policy file .*good\.yaml: 2 policies \(api, login\); strategy additive$/m);
    const bad = check(tmp.write("bad.yaml", policies(1, -5)));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/bad\.yaml:4:\d+ policies\.api\.limit: /);
    expect(bad.stderr).toMatch(/ERR_POLICY_FILE/);
  });
});
