// redis-eviction.test.ts: RedisStore warns once when the server's maxmemory-policy may evict limiter keys (allkeys-*).

import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Policy, RateLimiter, tokenBucket } from "../../src/index.js";
import { evictionWarning, maxmemoryPolicy } from "../../src/stores/redis/eviction.js";
import {
  EVICTION_CODE,
  ioredisAdapter,
  type RedisAdapter,
  RedisStore,
  type RedisStoreEvents,
} from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

const policy: Policy = tokenBucket({ capacity: 5, refillRate: 1 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** until waits (bounded) until `check` holds: the check runs in the background. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  expect(check(), what).toBe(true);
}

/** watch records a store's warnings and errors. */
function watch(store: RedisStore) {
  const warnings: RedisStoreEvents["warning"][] = [];
  const errors: unknown[] = [];
  store.on("warning", (w) => warnings.push(w));
  store.on("error", (e) => errors.push(e.error));
  return { warnings, errors };
}

describe("maxmemoryPolicy and evictionWarning (pure)", () => {
  it("reads the field and warns for allkeys-* only, naming every evicting node", () => {
    const text = (p: string): string => `# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\nmaxmemory_policy:${p}\r\n`;
    expect(maxmemoryPolicy(text("allkeys-lru")), "read").toBe("allkeys-lru");
    expect(maxmemoryPolicy("# Memory\r\nused_memory:1\r\n"), "absent").toBeUndefined();
    const rows: [string, string[], boolean][] = [
      ["noeviction keeps every key", ["noeviction"], false],
      ["volatile-* is a deliberate choice", ["volatile-lru", "volatile-ttl"], false],
      ["allkeys-lru", ["allkeys-lru"], true],
      ["allkeys-lfu", ["allkeys-lfu"], true],
      ["allkeys-random", ["allkeys-random"], true],
      ["one Cluster master of three", ["noeviction", "allkeys-lru", "noeviction"], true],
    ];
    for (const [why, policies, warned] of rows) {
      const w = evictionWarning(policies.map((p, i) => ({ node: `10.0.0.${i}:6379`, text: text(p) })));
      expect(w !== undefined, why).toBe(warned);
    }
    const w = evictionWarning([
      { node: "10.0.0.1:6379", text: text("noeviction") },
      { node: "10.0.0.2:6379", text: text("allkeys-lfu") },
    ]);
    expect(w?.code).toBe(EVICTION_CODE);
    expect(w?.message).toMatch(
      /maxmemory-policy is allkeys-lfu on 10\.0\.0\.2:6379: .*Set maxmemory-policy to noeviction/,
    );
    expect(w?.message).not.toMatch(/10\.0\.0\.1/);
  });
});

describe("start-up check against real servers", () => {
  let lru: RedisServer;
  let plain: RedisServer;
  let noInfo: RedisServer;
  const clients: { disconnect(): void }[] = [];
  beforeAll(async () => {
    [lru, plain, noInfo] = await Promise.all([
      startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] }),
      startRedis(),
      // INFO renamed away (as some managed Redis do with CONFIG): neither INFO nor a script can read it.
      startRedis({ args: ["--maxmemory-policy", "allkeys-lfu", "--rename-command", "INFO", ""] }),
    ]);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([lru?.stop(), plain?.stop(), noInfo?.stop()]);
  });
  const io = (s: RedisServer): Redis => {
    const r = new Redis(s.port, s.host);
    clients.push(r);
    return r;
  };

  // Regression (issue 8, defect 10): an allkeys-* maxmemory-policy, which evicts limiter state, went unnoticed.
  it("allkeys-lru, ioredis: one warning naming the server and the fix; decisions unaffected", async () => {
    const store = new RedisStore({ client: io(lru) });
    const { warnings, errors } = watch(store);
    const limiter = new RateLimiter({ policy, store });
    const d = await limiter.consume("k");
    await until("a warning", () => warnings.length > 0);
    for (let i = 0; i < 3; i++) await limiter.consume("k");
    await sleep(50);
    expect(
      { allowed: d.allowed, degraded: d.degraded, errors, codes: warnings.map((w) => w.code) },
      "after 4 consumes",
    ).toEqual({ allowed: true, degraded: undefined, errors: [], codes: [EVICTION_CODE] });
    expect(warnings[0]?.message).toMatch(
      new RegExp(`allkeys-lru on 127\\.0\\.0\\.1:${lru.port}: .*evicted key starts full again.*noeviction`),
    );
  });

  it("allkeys-lru, node-redis: the same warning", async () => {
    const nr = createClient({ url: lru.url });
    await nr.connect();
    try {
      const store = new RedisStore({ client: nr });
      const { warnings } = watch(store);
      await until("a warning", () => warnings.length > 0);
      expect(warnings.map((w) => w.code)).toEqual([EVICTION_CODE]);
      expect(warnings[0]?.message).toContain(`127.0.0.1:${lru.port}`);
    } finally {
      await nr.close();
    }
  });

  it("node-redis not connected yet: the check fails quietly, then runs again once Redis answers", async () => {
    const nr = createClient({ url: lru.url });
    nr.on("error", () => {});
    const store = new RedisStore({ client: nr, probeIntervalMs: 1, onFailure: "fail-open" });
    const { warnings } = watch(store);
    await sleep(50);
    expect(warnings, "before connect").toEqual([]);
    await nr.connect();
    try {
      await sleep(5);
      const d = await store.consume("k", [policy], 1, undefined);
      expect(d.degraded, "the call after connect reached Redis").toBeUndefined();
      await until("a warning after Redis answered", () => warnings.length > 0);
      expect(warnings.map((w) => w.code)).toEqual([EVICTION_CODE]);
    } finally {
      await nr.close();
    }
  });

  it("an adapter without info(): read through a one-line script", async () => {
    const a = ioredisAdapter(io(lru));
    const adapter: RedisAdapter = { cluster: false, evalsha: a.evalsha, eval: a.eval };
    const store = new RedisStore({ adapter });
    const { warnings } = watch(store);
    await until("a warning", () => warnings.length > 0);
    expect(warnings[0]?.message).toMatch(/^floodgate: Redis maxmemory-policy is allkeys-lru: /);
  });

  it("nobody listening: console.warn, once, with the code", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const store = new RedisStore({ client: io(lru) });
      await store.consume("k", [policy], 1, undefined);
      await until("console.warn", () => warn.mock.calls.length > 0);
      await sleep(50);
      expect(warn.mock.calls.length, "calls").toBe(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/allkeys-lru.*\[FG_REDIS_EVICTION\]$/);
    } finally {
      warn.mockRestore();
    }
  });

  it("noeviction and volatile-lru: no warning", async () => {
    const admin = io(plain);
    for (const setting of ["noeviction", "volatile-lru"]) {
      await admin.config("SET", "maxmemory-policy", setting);
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        const store = new RedisStore({ client: io(plain) });
        const { warnings } = watch(store);
        await store.consume("k", [policy], 1, undefined);
        await sleep(100);
        expect({ warnings, console: warn.mock.calls.length }, setting).toEqual({ warnings: [], console: 0 });
      } finally {
        warn.mockRestore();
      }
    }
  });

  it("INFO disabled on the server (allkeys-lfu behind it): silent, and decisions unaffected", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      // ioredis's own ready check sends INFO too: off, as it must be against such a server.
      const client = new Redis(noInfo.port, noInfo.host, { enableReadyCheck: false });
      clients.push(client);
      const store = new RedisStore({ client });
      const { warnings, errors } = watch(store);
      const ds = await Promise.all([1, 2, 3].map(() => store.consume("k", [policy], 1, undefined)));
      await sleep(100);
      expect({
        allowed: ds.map((d) => d.allowed),
        degraded: ds.filter((d) => d.degraded).length,
        warnings,
        errors,
        console: warn.mock.calls.length,
      }).toEqual({ allowed: [true, true, true], degraded: 0, warnings: [], errors: [], console: 0 });
    } finally {
      warn.mockRestore();
    }
  });
});
