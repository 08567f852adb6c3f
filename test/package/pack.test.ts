// pack.test.ts: the packed tarball installs and imports from ESM and CJS, JS and TS, on every subpath.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everySubpathLoads, root, rootFromCjs, rootFromEsm, run as runIn, subpaths, typechecks } from "./consumers.js";

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: Record<
    string,
    string | { import: { types: string; default: string }; require: { types: string; default: string } }
  >;
};

let dir = "";

beforeAll(() => {
  // Pack what npm would publish (needs a fresh build: `npm test` builds first), then unpack it as node_modules/floodgate.
  // --ignore-scripts: npm pack runs `prepare`, which would rebuild dist/ (tsup cleans it first) under the other tests.
  dir = mkdtempSync(join(tmpdir(), "floodgate-pack-"));
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: root,
    encoding: "utf8",
  });
  const tarball = join(dir, (JSON.parse(out) as { filename: string }[])[0]!.filename);
  const mod = join(dir, "node_modules", "floodgate");
  mkdirSync(mod, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", mod, "--strip-components=1"]);
  // TypeScript consumers resolve the package's types through our own typescript and @types/node.
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  // A consumer of an adapter has its framework installed: link the optional peers and their types.
  for (const dep of [
    "@types/node",
    "@types/express",
    "@types/koa",
    "express",
    "fastify",
    "hono",
    "koa",
    "ioredis",
    "redis",
    "undici",
    "@nestjs/common",
    "@nestjs/core",
    "prom-client",
    "@opentelemetry/api",
    "yaml",
  ]) {
    mkdirSync(dirname(join(dir, "node_modules", dep)), { recursive: true });
    execFileSync("ln", ["-s", join(root, "node_modules", dep), join(dir, "node_modules", dep)]);
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true }));
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = (file: string): string => runIn(dir, file);

describe("packed tarball", () => {
  it("npm publish --dry-run warns about nothing in package.json (only that no one is logged in)", () => {
    // --ignore-scripts: publish runs `prepare` too. No npm_* variables from `npm test`: npm would read them as config.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const r = spawnSync("npm", ["publish", "--dry-run", "--ignore-scripts"], { cwd: root, env, encoding: "utf8" });
    const warnings = `${r.stdout}${r.stderr}`
      .split("\n")
      .filter((line) => /^npm (warn|error)/i.test(line))
      .filter((line) => !/requires you to be logged in .*\(dry-run\)/.test(line));
    expect(r.status, r.stderr).toBe(0);
    expect(warnings).toEqual([]);
  });

  it("contains dist, README, LICENSE and CHANGELOG, and no sources or tests", () => {
    const out = execFileSync("npm", ["pack", "--dry-run", "--ignore-scripts", "--json"], {
      cwd: root,
      encoding: "utf8",
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining(["README.md", "LICENSE", "CHANGELOG.md", "package.json", "dist/index.js"]),
    );
    expect(files.filter((f) => f.startsWith("src/") || f.startsWith("test/"))).toEqual([]);
  });

  it("every subpath export points at files that exist, with types for import and require", () => {
    for (const s of subpaths) {
      const e = pkg.exports[s];
      expect(typeof e, `exports["${s}"]`).toBe("object");
      if (typeof e !== "object") continue;
      for (const f of [e.import.types, e.import.default, e.require.types, e.require.default]) {
        expect(() => readFileSync(join(dir, "node_modules", "floodgate", f)), `exports["${s}"] -> ${f}`).not.toThrow();
      }
    }
  });

  it("the root imports from ESM and makes a decision", () => {
    rootFromEsm(dir);
  });

  it("the root requires from CJS and makes a decision", () => {
    rootFromCjs(dir);
  });

  // Regression (issue 8, defect 8): consumeSync with a MemoryStore of the other format threw ERR_STORE,
  // rateLimit({ limiter }) refused a RateLimiter of the other format, and instanceof failed across formats.
  it("ESM and CJS copies mixed in one process recognise each other's stores, limiters, policies and errors", () => {
    writeFileSync(
      join(dir, "mixed.mjs"),
      `import { createRequire } from "node:module";
import * as esm from "floodgate";
import { HttpRateLimit } from "floodgate/http";
const require = createRequire(import.meta.url);
const cjs = require("floodgate");
const cjsHttp = require("floodgate/http");
const out = [];
// A CJS store under an ESM limiter keeps the synchronous path.
const l = new esm.RateLimiter({ policy: cjs.tokenBucket({ capacity: 1, refillRate: 1 }), store: new cjs.MemoryStore(), now: () => 0 });
out.push(l.consumeSync("k").allowed, l.consumeSync("k").allowed);
// A limiter of either format is accepted by the HTTP core of the other.
out.push(new HttpRateLimit({ limiter: new cjs.RateLimiter({ policy: esm.fixedWindow({ limit: 1, windowMs: 1000 }) }) }).limiter !== undefined);
out.push(new cjsHttp.HttpRateLimit({ limiter: l }).limiter === l);
// Errors and classes answer instanceof across formats.
let e; try { cjs.fixedWindow({ limit: 0, windowMs: 1 }); } catch (x) { e = x; }
out.push(e instanceof esm.FloodgateRangeError, e instanceof RangeError, new cjs.MemoryStore() instanceof esm.MemoryStore, l instanceof cjs.RateLimiter);
console.log(JSON.stringify(out));`,
    );
    expect(run("mixed.mjs").trim()).toBe("[true,false,true,true,true,true,true,true]");
  });

  // The CJS build of floodgate/fastify is the plugin itself (module.exports = plugin, with .rateLimit and
  // .default), as Fastify plugins are; it used to be { rateLimit, default }, which made tsup warn about mixing
  // named and default exports. Every way of loading the plugin keeps working, from CJS and from ESM.
  it("the Fastify plugin loads and registers from CJS (the module is the plugin) and from ESM (named and default)", () => {
    const app = `const policy = tokenBucket({ name: "api", capacity: 1, refillRate: 1 });
async function statuses(plugin) {
  const app = Fastify();
  await app.register(plugin, { policy });
  app.get("/", async () => "ok");
  const a = await app.inject("/"); const b = await app.inject("/");
  await app.close();
  return [a.statusCode, a.headers.ratelimit, b.statusCode].join(" ");
}`;
    writeFileSync(
      join(dir, "fastify.cjs"),
      `const Fastify = require("fastify");
const { tokenBucket } = require("floodgate");
const m = require("floodgate/fastify");
${app}
(async () => {
  const shape = [typeof m, m.rateLimit === m, m.default === m, m[Symbol.for("skip-override")] === true];
  console.log(JSON.stringify([shape, await statuses(m), await statuses(m.rateLimit), await statuses(m.default)]));
})();`,
    );
    writeFileSync(
      join(dir, "fastify.mjs"),
      `import Fastify from "fastify";
import { tokenBucket } from "floodgate";
import rateLimit, { rateLimit as named } from "floodgate/fastify";
${app}
console.log(JSON.stringify([[typeof rateLimit, named === rateLimit], await statuses(rateLimit)]));`,
    );
    const ok = '200 "api";r=0;t=1 429';
    expect(JSON.parse(run("fastify.cjs"))).toEqual([["function", true, true, true], ok, ok, ok]);
    expect(JSON.parse(run("fastify.mjs"))).toEqual([["function", true], ok]);
  });

  // Two node processes per subpath, one after another: 32 s once at load ~14 (default 30 s).
  it("every subpath loads from both ESM and CJS", () => {
    everySubpathLoads(dir);
  }, 120_000);

  // tsc over every subpath twice: about 40 s on a loaded 2-core machine, past the default 30 s.
  it("typechecks for TypeScript consumers, ESM (NodeNext) and CJS", () => {
    typechecks(dir);
  }, 120_000);
});
