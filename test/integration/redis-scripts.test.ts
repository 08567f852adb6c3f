// redis-scripts.test.ts: the generated script module is fresh, and its SHA1s are what a real Redis computes.

import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUTPUT, render } from "../../scripts/gen-lua.js";
import * as generated from "../../src/stores/redis/scripts.generated.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

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
          const a = (await client.evalsha(
            (lone as generated.LuaScript).sha1,
            1,
            kl,
            t,
            grace,
            ...params,
            cost,
          )) as number[];
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
          const [ta, td] = await Promise.all([client.pttl(kl), client.pttl(kd)]);
          const call = `step ${step}: ${kind}(${params.join(", ")}) at ${nowMs} cost ${cost}`;
          expect(a, `${call}: lone reply vs decide reply ${JSON.stringify(b)}`).toEqual(b);
          expect(sa?.toString("hex") ?? null, `${call}: stored state`).toBe(sd?.toString("hex") ?? null);
          // Both keys got the same PX in the same step, at most maxElapsedMs apart; Redis's cached
          // clock can add a few ms under load. A wrong TTL formula is off by far more (grace is 1000).
          expect(
            Math.abs(ta - td) <= maxElapsedMs + 20,
            `${call}: PTTL lone ${ta} vs decide ${td} (max step ${maxElapsedMs} ms, reply ${JSON.stringify(a)})`,
          ).toBe(true);
        }
      }
    });
  }
});
