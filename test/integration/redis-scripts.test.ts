// redis-scripts.test.ts: the generated script module is fresh, and its SHA1s are what a real Redis computes.

import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LONE, OUTPUT, render, scriptSource } from "../../scripts/gen-lua.js";
import { fixedWindow, gcra, leakyBucket, type Policy, slidingWindow, tokenBucket } from "../../src/index.js";
import { specOf } from "../../src/stores/redis/protocol.js";
import * as generated from "../../src/stores/redis/scripts.generated.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { mulberry32 } from "./redis-util.js";

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, server.host);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

describe("generated Lua scripts", () => {
  it("scripts.generated.ts matches the .lua files (run: node --import tsx scripts/gen-lua.ts)", () => {
    expect(readFileSync(OUTPUT, "utf8") === render(), "scripts.generated.ts is stale").toBe(true);
  });

  const scripts = Object.values(generated).filter(
    (v): v is generated.LuaScript => typeof v === "object" && v !== null && "sha1" in v,
  );

  it("has at least one script", () => {
    expect(scripts.map((s) => s.name)).toContain("decide");
  });

  for (const s of scripts) {
    it(`${s.name}: SCRIPT LOAD returns the generated SHA1`, async () => {
      const sha1 = await client.script("LOAD", s.source);
      expect(sha1, `SCRIPT LOAD(${s.name})`).toBe(s.sha1);
    });
  }
});

describe("lone scripts (lone.lua) against decide.lua", () => {
  // Each kind's own script must decide exactly as decide.lua's batch form does for
  // one call: the same reply, the same stored bytes and the same TTL, step by step.
  const cases: [string, string[]][] = [
    ["tb", ["5", "2", "0"]],
    ["ts", ["5", "2", "700"]],
    ["gc", ["250", "1000", "4"]],
    ["lb", ["4", "3"]],
    ["fw", ["4", "1000"]],
    ["sw", ["4", "1000"]],
    ["sl", ["4", "1000"]],
  ].map(([k, p]) => [k as string, [...(p as string[]), "0", "0"].slice(0, 3)]);

  for (const [kind, params] of cases) {
    it(`${kind}: 300 random consumes and peeks at injected times`, async () => {
      const lone = generated.LONE[kind];
      expect(lone, `LONE[${kind}]`).toBeDefined();
      let seed = 7;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      for (const injected of [true]) {
        const kl = `lone:{${kind}${injected}}:a`;
        const kd = `lone:{${kind}${injected}}:b`;
        let nowMs = 1_700_000_000_000;
        let maxElapsedMs = 0;
        for (let step = 0; step < 300; step++) {
          nowMs += rand(4) === 0 ? rand(3000) : rand(40);
          const cost = String(rand(5) === 0 ? 0 : 1 + rand(3));
          const t = injected ? String(nowMs) : "";
          const grace = injected ? "1000" : "0";
          const t0 = performance.now();
          // base 2 at every third step (an admitted remaining of 2 or more then comes as the table),
          // else 2^20: an admitted outcome comes packed, resetAfterMs * base + remaining, unpacked here.
          const base = step % 3 === 0 ? 2 : 2 ** 20;
          const packed = (await client.evalsha(
            (lone as generated.LuaScript).sha1,
            1,
            kl,
            `${params.join(" ")} ${cost} ${base}`,
            ...(injected ? [t, grace] : []),
          )) as number | number[];
          const a = typeof packed === "number" ? [packed % base, Math.floor(packed / base)] : packed;
          const b = (await client.evalsha(
            generated.DECIDE.sha1,
            1,
            kd,
            t,
            grace,
            // one policy, one set (consume that policy), one run of one decision
            "1",
            kind,
            ...params,
            "1",
            "c",
            "1",
            "1",
            "1",
            "1",
            "1",
            cost,
          )) as number[];
          maxElapsedMs = Math.max(maxElapsedMs, performance.now() - t0);
          const [sa, sd] = await Promise.all([client.getBuffer(kl), client.getBuffer(kd)]);
          // PEXPIRETIME (Redis 7+): each key's absolute expiry, which does not move with the moment it
          // is read (two PTTL reads a few ms apart on a loaded machine made this test flake).
          const [ta, td] = (await Promise.all([client.call("PEXPIRETIME", kl), client.call("PEXPIRETIME", kd)])) as [
            number,
            number,
          ];
          const call = `step ${step}: ${kind}(${params.join(", ")}) at ${nowMs} cost ${cost}`;
          expect(a, `${call}: lone reply vs decide reply ${JSON.stringify(b)}`).toEqual(b);
          expect(sa?.toString("hex") ?? null, `${call}: stored state`).toBe(sd?.toString("hex") ?? null);
          // Both keys got the same PX in the same step, written at most maxElapsedMs apart (the step's
          // two calls, timed around both), plus a ms of rounding each. A wrong TTL formula is off by far
          // more (grace is 1000).
          expect(
            Math.abs(ta - td) <= maxElapsedMs + 2,
            `${call}: PEXPIRETIME lone ${ta} vs decide ${td} (max step ${maxElapsedMs} ms, reply ${JSON.stringify(a)})`,
          ).toBe(true);
        }
      }
    });
  }
});

describe("step (the stored string, no table) against eval (parse, eval, serialize)", () => {
  // The kinds with a step (the stepped bucket and the sliding log have none). A kind's step must
  // answer exactly as eval on the parsed state, and return the bytes that serialize(next) would
  // store (or nil when nothing is kept): batch.lua and lone.lua use step where a kind has it. The
  // chunk walks one key through random calls, as a store would: each call's time (ms, possibly
  // fractional or earlier than the last: the clock going back) and cost come in ARGV.
  const CHUNK = `
local a = alg(ARGV[1])
local p1, p2, p3 = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local raw = false
local bad = {}
local n = 0
for i = 5, #ARGV, 2 do
  if ARGV[i] == 'state' then
    -- A crafted state (binary), to replace the key's.
    raw = ARGV[i + 1]
  else
    local now = tonumber(ARGV[i])
    local cost = tonumber(ARGV[i + 1])
    n = n + 1
    local ok1, rem1, retry1, reset1, w1 = a.step(raw, now, cost, p1, p2, p3)
    local st = nil
    if raw then st = parse(raw) end
    local ok2, rem2, retry2, reset2, nx, rebased = a.eval(st, now, cost, p1, p2, p3)
    local w2 = nil
    if (ok2 and cost > 0) or rebased then w2 = serialize(nx) end
    if ok1 ~= ok2 or rem1 ~= rem2 or retry1 ~= retry2 or reset1 ~= reset2 or w1 ~= w2 then
      bad[#bad + 1] = string.format('call %d at %.17g cost %s: step %s %.17g %.17g %.17g %s; eval %s %.17g %.17g %.17g %s',
        n, now, cost, tostring(ok1), rem1, retry1, reset1, tostring(w1 and #w1), tostring(ok2), rem2, retry2, reset2,
        tostring(w2 and #w2))
    end
    if w2 then
      if reset2 > 0 then raw = w2 else raw = false end
    end
  end
end
bad[#bad + 1] = n
return bad
`;
  // Each subject has a grid (ms): a window's length, a unit's emission interval, a token's refill
  // time. A quarter of the calls land on or next to a grid point, where the edge cases are.
  const subjects: [string, Policy, number][] = [
    ["smooth token bucket, fractional rate", tokenBucket({ capacity: 8, refillRate: 10 / 13 }), 1300],
    ["smooth token bucket, long-lived", tokenBucket({ capacity: 1e7, refillRate: 0.1 }), 10_000],
    ["smooth token bucket, fast", tokenBucket({ capacity: 3, refillRate: 1000 }), 1],
    ["GCRA", gcra({ limit: 10, periodMs: 1000, burst: 20 }), 100],
    ["GCRA, burst 1, period 7", gcra({ limit: 3, periodMs: 7, burst: 1 }), 7 / 3],
    ["leaky bucket", leakyBucket({ capacity: 8, leakRate: 2 }), 500],
    ["leaky bucket, fractional rate", leakyBucket({ capacity: 4, leakRate: 1.7 }), 1000 / 1.7],
    ["fixed window", fixedWindow({ limit: 8, windowMs: 1000 }), 1000],
    ["fixed window, odd length", fixedWindow({ limit: 3, windowMs: 333 }), 333],
    ["sliding window", slidingWindow({ limit: 8, windowMs: 1000 }), 1000],
    ["sliding window, odd length", slidingWindow({ limit: 7, windowMs: 1500 }), 1500],
  ];
  const OFFSETS = [0, 0, 0, -1, 1, 0.5, -0.5];
  for (const [name, policy, grid] of subjects) {
    it(`${name}: 3 x 3,000 random calls, the same answers and the same bytes`, async () => {
      const [code, p1, p2, p3] = specOf(policy);
      const source = `${scriptSource(["lib.lua", LONE[code] as string])}\n${CHUNK}`;
      for (const seed of [1, 2, 3]) {
        const rnd = mulberry32(seed * 31 + name.length);
        let now = 1_700_000_000_000 + (seed === 3 ? 0.25 : 0);
        const args: string[] = [code, p1, p2, p3];
        for (let j = 0; j < 3000; j++) {
          const r = rnd();
          if (r < 0.04) now -= Math.floor(rnd() * 800);
          else if (r < 0.25)
            now = Math.ceil(now / grid) * grid + (OFFSETS[Math.floor(rnd() * OFFSETS.length)] as number);
          else if (r < 0.45) now += 0;
          else if (r < 0.5) now += Math.floor(rnd() * 5000);
          else if (r < 0.6) now += Math.floor(rnd() * 100) + 0.5;
          else now += Math.floor(rnd() * 60);
          const c = rnd();
          const cost = c < 0.15 ? 0 : c < 0.7 ? 1 : Math.floor(rnd() * (policy.limit + 2));
          args.push(String(now), String(cost));
        }
        const got = (await client.eval(source, 0, ...args)) as (string | number)[];
        expect(got.slice(0, -1), `${name}, seed ${seed}: mismatches`).toEqual([]);
        expect(got.at(-1), "calls run").toBe(3000);
      }
    });
  }

  // The inclusive EPSILON edges: a smooth bucket within EPSILON of full is full (no state), a
  // leaky bucket within EPSILON of empty is empty; step must see them as eval does.
  const doubles = (...xs: number[]): Buffer => {
    const b = Buffer.alloc(8 * xs.length);
    for (let i = 0; i < xs.length; i++) b.writeDoubleLE(xs[i] as number, 8 * i);
    return b;
  };
  const at = 1_700_000_000_000;
  const edges: [string, Policy, Buffer[]][] = [
    [
      "smooth token bucket",
      tokenBucket({ capacity: 8, refillRate: 10 / 13 }),
      [doubles(8 - 5e-10, at), doubles(8 - 1e-9, at), doubles(8 - 2e-9, at), doubles(7, at - 1300 + 1e-7)],
    ],
    [
      "leaky bucket",
      leakyBucket({ capacity: 8, leakRate: 2 }),
      [doubles(5e-10, at), doubles(1e-9, at), doubles(2e-9, at), doubles(1, at - 500 + 1e-7), doubles(-1, at)],
    ],
  ];
  for (const [name, policy, states] of edges) {
    it(`${name}: states at the EPSILON edge, step as eval`, async () => {
      const [code, p1, p2, p3] = specOf(policy);
      const source = `${scriptSource(["lib.lua", LONE[code] as string])}\n${CHUNK}`;
      const args: (string | Buffer)[] = [code, p1, p2, p3];
      for (const st of states) for (const cost of ["1", "0", "8", "9"]) args.push("state", st, String(at), cost);
      const got = (await client.eval(source, 0, ...args)) as (string | number)[];
      expect(got.slice(0, -1), `${name}: mismatches`).toEqual([]);
      expect(got.at(-1), "calls run").toBe(states.length * 4);
    });
  }
});
