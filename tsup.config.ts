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
  nestjs: "src/adapters/nestjs.ts",
  client: "src/client/index.ts",
  simulate: "src/simulate/index.ts",
  prometheus: "src/metrics/prometheus.ts",
  otel: "src/metrics/otel.ts",
  service: "src/service/index.ts",
  "policy-file": "src/policy-file/index.ts",
  cli: "src/cli/bin.ts",
};

type Plugin = NonNullable<Options["plugins"]>[number];

/**
 * pluginIsModule makes the CommonJS face of floodgate/fastify the plugin itself, as Fastify
 * plugins are: `module.exports = rateLimit`, with `.rateLimit` and `.default` pointing at it.
 * The ESM entry has a named and a default export; converted to CommonJS as they are, they hang
 * on an exports object, which rollup (tsup's CJS step) warns about ("Entry module
 * dist/fastify.cjs is using named and default exports together"). In the CJS build only, this
 * rewrites the entry chunk's `export { a as default, b }` (esbuild's output, before rollup) to a
 * default export of the default value carrying every export as a property; rollup then emits
 * `module.exports = ...`. A chunk of another shape fails the build rather than ship a wrong one.
 * Types stay those of the ESM entry (dist/fastify.d.cts): `exports.default` and
 * `exports.rateLimit` exist as properties. test/package/pack.test.ts loads it every way.
 */
function pluginIsModule(entry: string): Plugin {
  return {
    name: "floodgate-plugin-is-module",
    renderChunk(code, chunk) {
      if (this.format !== "cjs" || chunk.entryPoint !== entry) return undefined;
      const found = /^export \{([^}]+)\};/m.exec(code);
      const pairs = (found?.[1] ?? "").split(",").map((s) => s.trim().split(/\s+as\s+/));
      const local = pairs.find(([, exported]) => exported === "default")?.[0];
      if (found === undefined || found === null || local === undefined) {
        throw new Error(`tsup.config.ts: ${entry} has no "export { x as default, ... }" in its CJS chunk to rewrite.`);
      }
      const props = pairs.map(([name, exported]) => `${exported ?? name}: ${name}`).join(", ");
      return { code: code.replace(found[0], `export default Object.assign(${local}, { ${props} });`) };
    },
  };
}

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
    "prom-client",
    "@opentelemetry/api",
    "@grpc/grpc-js",
    "@grpc/proto-loader",
    "yaml",
  ],
  plugins: [pluginIsModule(entries.fastify)],
});
