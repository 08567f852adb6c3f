// .dependency-cruiser.cjs: the import direction of src/, checked by `npm run lint:boundaries` (part of `npm test`).
//
// Layers, lowest first; a module may import its own layer and the layers below it, never one above:
//   core      src/core/**             pure math, validation, errors, the clock module; imports nothing outside itself
//   stores    src/stores/**           the Store contract and the memory store; the Redis store on top of them
//   limiter   src/*.ts (not index)    RateLimiter and its siblings (the wait queue)
//   http      src/http/**             framework-neutral HTTP core
//   adapters  src/adapters/**         thin translations: from src/ only http/, core types and core's error classes
// Beside http, on top of the limiter: client/ (outbound throttling) and metrics/, service/, simulate/, policy-file/; cli/ on top
// of everything. src/index.ts is the package root: core, stores and limiter; every other layer is its own subpath.
// The Web-standard entries (the root, floodgate/http, floodgate/hono) reach no node: module.
// docs/architecture.md explains the layers; test/package/boundaries.test.ts proves that each rule can fail.

const { builtinModules } = require("node:module");
const { exports: exportMap } = require("./package.json");

const core = "^src/core/";
const stores = "^src/stores/";
const redisStore = "^src/stores/redis/";
const storeBase = "^src/stores/[^/]+\\.ts$";
const limiter = "^src/(?!index\\.ts$)[^/]+\\.ts$";
const http = "^src/http/";
const adapters = "^src/adapters/";
/** floodgate/nestjs's ThrottlerStorage for @nestjs/throttler: it decides on the limiter, not through src/http. */
const throttlerStorage = "^src/adapters/nestjs-throttler\\.ts$";
const client = "^src/client/";
const onTop = "^src/(metrics|service|simulate|policy-file)/";
const cli = "^src/cli/";
const root = "^src/index\\.ts$";
/** An npm package, whatever the field of package.json that lists it (or none). */
const npm = {
  dependencyTypes: ["npm", "npm-dev", "npm-peer", "npm-optional", "npm-bundled", "npm-no-pkg", "npm-unknown"],
};
/** Every node: built-in, with or without the prefix. */
const nodeBuiltin = `^(node:)?(${builtinModules.filter((m) => !m.startsWith("_")).join("|")})(/|$)`;
/** The adapter entries: src/adapters/<name>.ts for each subpath export ./<name> (a new adapter joins by its export). */
const entryNames = Object.keys(exportMap)
  .map((s) => s.slice(2))
  .filter((s) => /^[a-z0-9-]+$/.test(s));
const adapterEntry = `^src/adapters/(${entryNames.join("|")})\\.ts$`;

/** Forbids modules matching `from` to import modules matching `to`; `comment` says why and what to do. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: "error", from, to });

module.exports = {
  forbidden: [
    forbid(
      "core-imports-only-core",
      "src/core is pure: it imports nothing outside src/core (no store, limiter, npm package or node: module).",
      { path: core },
      { pathNot: core },
    ),
    forbid(
      "stores-below-limiter",
      "src/stores sits under the limiter: it must not import the limiter, http, adapters, client or anything on top.",
      { path: stores },
      { path: [limiter, root, http, adapters, client, onTop, cli] },
    ),
    forbid(
      "store-contract-without-redis",
      "The Store contract and the memory store do not depend on the Redis store (Redis builds on them).",
      { path: storeBase },
      { path: redisStore },
    ),
    forbid(
      "limiter-below-http",
      "The limiter layer (src/*.ts) must not import http, adapters, client, the Redis store or anything on top.",
      { path: limiter },
      { path: [root, http, adapters, client, onTop, cli, redisStore] },
    ),
    forbid(
      "http-below-adapters",
      "src/http is framework-neutral: it must not import adapters, client, the Redis store or anything on top.",
      { path: http },
      { path: [root, adapters, client, onTop, cli, redisStore] },
    ),
    forbid(
      "adapters-only-http",
      "Adapters are thin translations: from src/ they import only src/http, src/core (types and errors) and shared " +
        "helpers in src/adapters; move what they need into src/http.",
      { path: adapters, pathNot: throttlerStorage },
      { path: "^src/", pathNot: [http, core, adapters] },
    ),
    forbid(
      "adapters-only-core-types",
      "Adapters take from src/core only types (import type) and the error classes; behaviour comes through src/http.",
      { path: adapters, pathNot: throttlerStorage },
      { path: core, pathNot: "^src/core/errors\\.ts$", dependencyTypesNot: ["type-only"] },
    ),
    forbid(
      "adapters-independent",
      "An adapter never imports another adapter: each is its own subpath with its own optional peer.",
      { path: adapters },
      { path: adapterEntry },
    ),
    forbid(
      "adapter-imports-only-its-framework",
      "An adapter imports no npm package but its own framework (src/adapters/koa.ts: koa; nestjs: @nestjs/*), so " +
        "one peer never pulls another; shared helpers in src/adapters import none.",
      { path: adapterEntry },
      { ...npm, pathNot: "(^|/)node_modules/(@types/)?(@$1/[^/]+|$1)/" },
    ),
    forbid(
      "adapter-helpers-import-no-framework",
      "Shared helpers in src/adapters (anything that is not an adapter entry) import no npm package.",
      { path: adapters, pathNot: adapterEntry },
      npm,
    ),
    forbid(
      "client-on-the-limiter",
      "src/client sits on the limiter: it must not import http, adapters, the Redis store or anything on top.",
      { path: client },
      { path: [root, http, adapters, onTop, cli, redisStore] },
    ),
    forbid(
      "on-top-not-adapters",
      "metrics, service and simulate sit on the limiter: they never import a framework adapter or the CLI.",
      { path: onTop },
      { path: [root, adapters, cli] },
    ),
    forbid(
      "root-entry-stays-small",
      "The package root (src/index.ts) exports core, stores and limiter; http, adapters, client and Redis are subpaths.",
      { path: root },
      { path: [http, adapters, client, onTop, cli, redisStore] },
    ),
    forbid(
      "no-npm-below-the-subpaths",
      "Core, the store contract, the memory store, the limiter and http import no npm package: the core has no " +
        "runtime dependencies and peers belong only to the subpath that needs them.",
      { path: [core, storeBase, limiter, root, http] },
      npm,
    ),
    forbid(
      "redis-store-imports-only-redis-clients",
      "The Redis store imports no npm package but its clients (ioredis, redis).",
      { path: redisStore },
      { ...npm, pathNot: "(^|/)node_modules/(ioredis|redis|@redis/[^/]+)/" },
    ),
    forbid(
      "metrics-import-only-their-peer",
      "floodgate/prometheus imports no npm package but prom-client, floodgate/otel none but @opentelemetry/api, and " +
        "their shared helpers in src/metrics none: one binding never pulls the other's peer.",
      { path: "^src/metrics/" },
      {
        ...npm,
        pathNot: ["(^|/)node_modules/prom-client/", "(^|/)node_modules/@opentelemetry/api/"],
      },
    ),
    forbid(
      "prom-client-only-in-prometheus",
      "Only src/metrics/prometheus.ts (floodgate/prometheus) imports prom-client: floodgate/otel must not pull it.",
      { path: "^src/metrics/(?!prometheus\\.ts$)" },
      { ...npm, path: "(^|/)node_modules/prom-client/" },
    ),
    forbid(
      "otel-api-only-in-otel",
      "Only src/metrics/otel.ts (floodgate/otel) imports @opentelemetry/api: floodgate/prometheus must not pull it.",
      { path: "^src/metrics/(?!otel\\.ts$)" },
      { ...npm, path: "(^|/)node_modules/@opentelemetry/api/" },
    ),
    forbid(
      "client-imports-only-undici",
      "floodgate/client imports no npm package but undici (the optional peer of its interceptor).",
      { path: client },
      { ...npm, pathNot: "(^|/)node_modules/undici(-types)?/" },
    ),
    forbid(
      "service-imports-only-its-peers",
      "src/service (floodgate serve) imports no npm package but its optional peers: @grpc/grpc-js, @grpc/proto-loader, " +
        "yaml, ioredis (the Redis backend) and prom-client (/metrics, loaded on demand).",
      { path: "^src/service/" },
      { ...npm, pathNot: "(^|/)node_modules/(@grpc/(grpc-js|proto-loader)|yaml|ioredis|prom-client)/" },
    ),
    {
      name: "web-standard-no-node",
      comment:
        "The root, floodgate/http and floodgate/hono run on Workers, Deno and Bun: nothing they reach, even as a " +
        "type, imports a node: module. Keep Node-only code in its own module that these entries do not import.",
      severity: "error",
      from: { path: [root, "^src/http/(index|fetch)\\.ts$", "^src/adapters/hono\\.ts$"] },
      to: { path: nodeBuiltin, reachable: true },
    },
    {
      name: "no-circular",
      comment: "An import cycle hides the layer order and breaks tree-shaking; split the module instead.",
      severity: "error",
      from: { path: "^src/" },
      // A cycle made only of `import type` edges vanishes at runtime (core/policy.ts <-> core/algorithm.ts).
      to: { circular: true, dependencyTypesNot: ["type-only"], viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that resolves to nothing is a typo or a missing dependency.",
      severity: "error",
      from: { path: "^src/" },
      to: { couldNotResolve: true },
    },
    {
      name: "src-not-to-tests-or-tools",
      comment: "Shipped code never imports tests, benchmarks, examples or scripts.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|examples|scripts)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    // Keep `import type` edges, so rules can tell types from values.
    tsPreCompilationDeps: true,
    // Resolve packages as Node does for both formats: vega-lite exports only a "default" condition.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
