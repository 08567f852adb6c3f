// http-adapters.test.ts: every adapter over real HTTP on loopback: bursts, headers, refill, routes, tiers, skip, shadow, failures.

import { afterEach, describe, expect, it } from "vitest";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import type { LimitedInfo } from "../../src/http/core.js";
import type { Store } from "../../src/stores/store.js";
import { checkRefusal, parseLimits } from "./conformance.js";
import { ADAPTERS, hit, type Running, start } from "./servers.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** clock is an injected clock the tests advance by hand. */
function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe.each(ADAPTERS)("%s adapter", (adapter) => {
  it("a burst of 5 turns into 429 at exactly request 6, headers on every response, refill by the injected clock", async () => {
    const c = clock();
    const policy = tokenBucket({ name: "api", capacity: 5, refillRate: 1 });
    running = await start(adapter, { policy, now: c.now });
    for (let i = 1; i <= 5; i++) {
      const r = await hit(running.base, "/");
      const where = `${adapter} request ${i}`;
      expect(r.status, `${where}: GET / = ${r.status} ${r.body}`).toBe(200);
      const { policies, limits } = parseLimits(r.headers, where);
      expect(policies.get("api"), where).toEqual({ q: 5, w: 5 });
      // r counts down; t is the time until the next token drips back (1 s at 1/s), not until full.
      expect(limits.get("api"), where).toEqual({ r: 5 - i, t: 1 });
    }
    const denied = await hit(running.base, "/");
    const body = checkRefusal(denied, `${adapter} request 6`);
    expect(body["violated-policies"]).toEqual(["api"]);
    expect(denied.headers.get("retry-after")).toBe("1");
    expect(parseLimits(denied.headers, `${adapter} request 6`).limits.get("api")).toEqual({ r: 0, t: 1 });

    c.advance(1000);
    const refilled = await hit(running.base, "/");
    expect(refilled.status, `${adapter}: after 1 s, one token back: ${refilled.body}`).toBe(200);
    expect(parseLimits(refilled.headers, "after refill").limits.get("api")).toEqual({ r: 0, t: 1 });
    expect((await hit(running.base, "/")).status, `${adapter}: the refilled token is spent`).toBe(429);

    c.advance(2500);
    for (let i = 0; i < 2; i++)
      expect((await hit(running.base, "/")).status, `${adapter}: +2.5 s, call ${i + 1}`).toBe(200);
    const third = await hit(running.base, "/");
    checkRefusal(third, `${adapter}: +2.5 s, call 3`);
    // Half a token is there; the next whole one is 0.5 s away, so t and Retry-After round up to 1.
    expect(third.headers.get("retry-after")).toBe("1");
  });

  it("route rules: own bucket per pattern, /a, /a/ and /a?x=1 share it, random paths do not mint buckets", async () => {
    const c = clock();
    const login = tokenBucket({ name: "login", capacity: 2, refillRate: 0.01 });
    const user = tokenBucket({ name: "user", capacity: 3, refillRate: 0.01 });
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 100, refillRate: 1 }),
      now: c.now,
      routes: { "POST /login": { policy: login }, "/users/:id": { policy: user }, "GET /health": false },
    });
    const l1 = await hit(running.base, "/login", { method: "POST" });
    const l2 = await hit(running.base, "/login/", { method: "POST" });
    expect([l1.status, l2.status], `${adapter}: POST /login x2`).toEqual([200, 200]);
    expect(parseLimits(l2.headers, "login 2").limits.get("login")).toEqual({ r: 0, t: 100 });
    checkRefusal(await hit(running.base, "/login?x=1", { method: "POST" }), `${adapter}: POST /login?x=1 (3rd)`);
    // Other spellings that a framework may route to the same handler stay under the rule.
    for (const spelling of ["/LOGIN", "//login", "/%6Cogin"]) {
      checkRefusal(await hit(running.base, spelling, { method: "POST" }), `${adapter}: POST ${spelling}`);
    }
    // Another route still has its own quota, and the default bucket is untouched by login.
    const home = await hit(running.base, "/");
    expect(home.status).toBe(200);
    expect(parseLimits(home.headers, "home").limits.get("api")?.r).toBe(99);
    // Three different ids share the /users/:id bucket of 3.
    const users = [];
    for (const p of ["/users/1", "/users/2/", "/users/3?x=1", "/users/4"])
      users.push((await hit(running.base, p)).status);
    expect(users, `${adapter}: /users/:id statuses`).toEqual([200, 200, 200, 429]);
    // A rule of false leaves the route unlimited: no headers, never 429.
    const health = await hit(running.base, "/health");
    expect(health.status).toBe(200);
    expect(health.headers.get("ratelimit")).toBeNull();
    // Unknown paths (404s) count against the default bucket, not a new one per path.
    for (let i = 0; i < 3; i++) {
      const r = await hit(running.base, `/random-${i}`);
      expect(r.status, `${adapter}: /random-${i}`).toBe(404);
      expect(
        parseLimits(r.headers, `404 ${i}`).limits.get("api")?.r,
        `${adapter}: 404 ${i} spends the default bucket`,
      ).toBe(98 - i);
    }
  });

  it("tiers and cost: select picks the policy by plan and a cost of 3 for /expensive", async () => {
    const c = clock();
    const free = tokenBucket({ name: "free", capacity: 3, refillRate: 1 });
    const paid = tokenBucket({ name: "paid", capacity: 10, refillRate: 1 });
    running = await start(adapter, {
      policy: free,
      now: c.now,
      key: (req) => req.header("x-user") ?? undefined,
      select: (req) => ({
        policy: req.header("x-plan") === "paid" ? paid : free,
        cost: req.url.includes("/expensive") ? 3 : 1,
      }),
    });
    const freeUser = { "x-user": "ann" };
    const paidUser = { "x-user": "bob", "x-plan": "paid" };
    const e = await hit(running.base, "/expensive", { headers: freeUser });
    expect(e.status).toBe(200);
    expect(parseLimits(e.headers, "free expensive").limits.get("free")).toEqual({ r: 0, t: 1 });
    checkRefusal(await hit(running.base, "/", { headers: freeUser }), `${adapter}: free user after cost 3`);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await hit(running.base, "/expensive", { headers: paidUser })).status);
    expect(statuses, `${adapter}: paid user, 4 x cost 3 of 10`).toEqual([200, 200, 200, 429]);
    const p = await hit(running.base, "/", { headers: paidUser });
    expect(parseLimits(p.headers, "paid").limits.get("paid")).toEqual({ r: 0, t: 1 });
  });

  it("a cost above the limit answers 429 with a clear problem, not a crash", async () => {
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 5, refillRate: 1 }),
      select: () => ({ cost: 12 }),
    });
    const r = await hit(running.base, "/");
    const body = checkRefusal(r, `${adapter}: cost 12 of 5`);
    expect(String(body.detail)).toContain('costs 12 units, more than the 5 that policy "api" allows');
    expect(body["violated-policies"]).toEqual(["api"]);
  });

  it("skip: skipped requests are never limited and carry no headers", async () => {
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 1, refillRate: 0.01 }),
      skip: (req: { path: string }) => req.path === "/health",
    });
    expect((await hit(running.base, "/")).status).toBe(200);
    expect((await hit(running.base, "/")).status).toBe(429);
    for (let i = 0; i < 3; i++) {
      const h = await hit(running.base, "/health");
      expect(h.status, `${adapter}: /health ${i}`).toBe(200);
      expect(h.headers.get("ratelimit")).toBeNull();
    }
  });

  it("allowList: clients in the list are never limited", async () => {
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 1, refillRate: 0.01 }),
      allowList: ["loopback"],
    });
    for (let i = 0; i < 3; i++) expect((await hit(running.base, "/")).status, `${adapter}: call ${i}`).toBe(200);
  });

  it("shadow: computes decisions and headers, reports would-be refusals, never refuses", async () => {
    const seen: LimitedInfo[] = [];
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 2, refillRate: 0.01 }),
      shadow: true,
      onLimited: (info: LimitedInfo) => void seen.push(info),
    });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await hit(running.base, "/");
      statuses.push(r.status);
      expect(parseLimits(r.headers, `shadow ${i}`).limits.get("api")?.r).toBe(Math.max(0, 1 - i));
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(seen.map((s) => [s.reason, s.shadow, s.violatedPolicies])).toEqual([
      ["quota", true, ["api"]],
      ["quota", true, ["api"]],
    ]);
  });

  it("a throwing store never becomes a 500: allow by default (onError told), deny on request", async () => {
    const broken: Store = {
      ownsClock: false,
      consume: async () => Promise.reject(new Error("store down")),
      peek: async () => Promise.reject(new Error("store down")),
      refund: async () => {},
      reset: async () => {},
    };
    const errors: unknown[] = [];
    const policy = tokenBucket({ name: "api", capacity: 1, refillRate: 1 });
    running = await start(adapter, { policy, store: broken, onError: (e: unknown) => void errors.push(e) });
    for (let i = 0; i < 3; i++) expect((await hit(running.base, "/")).status, `${adapter}: allow ${i}`).toBe(200);
    expect(errors.length).toBe(3);
    await running.close();
    running = await start(adapter, { policy, store: broken, onStoreError: "deny" });
    const r = await hit(running.base, "/");
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("1");
    expect(JSON.parse(r.body).type).toBe("https://iana.org/assignments/http-problem-types#temporary-reduced-capacity");
  });

  it("several policies: one item each, all-or-nothing, the 429 names the exhausted one", async () => {
    const c = clock();
    const burst = tokenBucket({ name: "burst", capacity: 3, refillRate: 1 });
    const minute = fixedWindow({ name: "minute", limit: 4, windowMs: 60_000 });
    running = await start(adapter, { policy: [burst, minute], now: c.now, legacyHeaders: true });
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const r = await hit(running.base, "/");
      seen.push(r.status);
      const { limits, policies } = parseLimits(r.headers, `multi ${i}`);
      expect(policies.get("minute")).toEqual({ q: 4, w: 60 });
      expect(limits.get("burst")?.r).toBe(2 - i);
      expect(limits.get("minute")?.r).toBe(3 - i);
      expect(r.headers.get("x-ratelimit-limit")).toBe(i < 2 ? "3" : "3");
    }
    const r = await hit(running.base, "/");
    const body = checkRefusal(r, "burst exhausted");
    expect(body["violated-policies"]).toEqual(["burst"]);
    c.advance(3000);
    expect((await hit(running.base, "/")).status).toBe(200);
    const m = await hit(running.base, "/");
    const mb = checkRefusal(m, "minute exhausted");
    expect(mb["violated-policies"]).toEqual(["minute"]);
    expect(Number(m.headers.get("retry-after"))).toBe(Math.ceil((60_000 - ((1_000_000 + 3000) % 60_000)) / 1000));
    expect(seen).toEqual([200, 200, 200]);
  });
});
