import { rmSync } from "node:fs";
import { defineConfig, type Options } from "tsup";

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
  client: "src/client/index.ts",
};

const outDir = "dist";

const common: Options = {
  dts: true,
  sourcemap: true,
  // dist/ is emptied once, below: the two builds run at the same time and must not clean each other's files.
  clean: false,
  target: "node20",
  // Shared chunks keep one copy of the core per format, so RateLimiter and MemoryStore are the same
  // classes whichever subpath imports them.
  splitting: true,
  treeshake: true,
  outDir,
  external: ["ioredis", "redis", "express", "fastify", "hono", "koa", "undici"],
};

// Two builds, one per format, because the CommonJS face of floodgate/fastify is another module:
// require("floodgate/fastify") is the plugin itself (with .rateLimit and .default), as Fastify
// plugins are, instead of an object with a named and a default export, which rollup warns about
// ("Entry module dist/fastify.cjs is using named and default exports together"). Its types are
// those of the ESM entry.
export default defineConfig(() => {
  rmSync(outDir, { recursive: true, force: true });
  return [
    { ...common, entry: entries, format: ["esm"] },
    {
      ...common,
      entry: { ...entries, fastify: "src/adapters/fastify-cjs.ts" },
      dts: { entry: entries },
      format: ["cjs"],
    },
  ];
});
