// http-surface.test.ts: the public surface: named middleware functions, runnable examples, an IPv6 peer over real HTTP.

import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { rateLimit as expressRateLimit } from "../../src/adapters/express.js";
import { rateLimit as fastifyRateLimit } from "../../src/adapters/fastify.js";
import { rateLimit as honoRateLimit } from "../../src/adapters/hono.js";
import { rateLimit as koaRateLimit } from "../../src/adapters/koa.js";
import { rateLimit as nodeRateLimit, withRateLimit as nodeWithRateLimit } from "../../src/adapters/node.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import type { LimitedInfo } from "../../src/http/core.js";
import { withRateLimit as fetchWithRateLimit } from "../../src/http/fetch.js";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const policy = tokenBucket({ name: "api", capacity: 2, refillRate: 0.001 });

describe("named functions, for readable stack traces", () => {
  it.each([
    ["express", () => expressRateLimit({ policy }), "floodgateExpress"],
    ["fastify", () => fastifyRateLimit, "floodgateFastify"],
    ["hono", () => honoRateLimit({ policy }), "floodgateHono"],
    ["koa", () => koaRateLimit({ policy }), "floodgateKoa"],
    ["node rateLimit", () => nodeRateLimit({ policy }), "floodgateNode"],
    ["node withRateLimit", () => nodeWithRateLimit(() => {}, { policy }), "floodgateNodeHandler"],
    ["fetch withRateLimit", () => fetchWithRateLimit(() => new Response(), { policy }), "floodgateFetch"],
  ])("%s returns %s", (_adapter, make, name) => {
    expect((make() as { name: string }).name).toBe(name);
  });
});

describe("examples run", () => {
  it.each(["express", "fastify", "hono", "koa", "node", "fetch"])(
    "node --import tsx examples/%s.ts exits 0 and shows a 429",
    async (name) => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", `examples/${name}.ts`], {
        cwd: ROOT,
        timeout: 30_000,
        env: { ...process.env, PORT: "" },
      });
      expect(stdout, `examples/${name}.ts output:\n${stdout}`).toMatch(/: 429 /);
      expect(stdout).toMatch(/RateLimit: "[a-z-]+";r=\d+;t=\d+/);
    },
    60_000,
  );
});

describe("IPv6 over real HTTP", () => {
  it("a client on ::1 is keyed by its /64, and the key never names the raw address", async () => {
    const keys: string[] = [];
    const server = createServer(
      nodeWithRateLimit((_req, res) => void res.end("ok"), {
        policy,
        onLimited: (i: LimitedInfo) => void keys.push(i.key),
      }),
    );
    await new Promise<void>((r) => server.listen(0, "::1", r));
    const { port } = server.address() as AddressInfo;
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`http://[::1]:${port}/`)).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(keys).toEqual(["2:ip5:::/64"]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
