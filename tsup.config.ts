import { defineConfig } from "tsup";

// Every public subpath is an entry; package.json "exports" maps each to its ESM and CJS files,
// and test/package/pack.test.ts checks that every export exists in the packed tarball.
export const entries = {
  index: "src/index.ts",
  redis: "src/stores/redis/index.ts",
  http: "src/http/index.ts",
  express: "src/adapters/express.ts",
  fastify: "src/adapters/fastify.ts",
  hono: "src/adapters/hono.ts",
  koa: "src/adapters/koa.ts",
  node: "src/adapters/node.ts",
  nestjs: "src/adapters/nestjs.ts",
  client: "src/client/index.ts",
  simulate: "src/simulate/index.ts",
  cli: "src/cli/bin.ts",
};

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // Shared chunks keep one copy of the core, so RateLimiter and MemoryStore are the same
  // classes whichever subpath imports them.
  splitting: true,
  treeshake: true,
  outDir: "dist",
  external: [
    "ioredis",
    "redis",
    "express",
    "fastify",
    "hono",
    "koa",
    "@nestjs/common",
    "@nestjs/core",
    "@nestjs/websockets",
    "undici",
    "vega",
    "vega-lite",
  ],
});
