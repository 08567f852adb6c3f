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
