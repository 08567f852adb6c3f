// boundaries.test.ts: every import-direction rule in .dependency-cruiser.cjs fails on a copy of src/ with a wrong import.
//
// `npm run lint:boundaries` (part of `npm test`) runs the same checker over the real src/ and must find nothing.
// Here one copy of src/ gets one wrong import per row, the checker runs once over it, and each row's rule must be
// reported for the row's file, while the allowed imports (last rows) are not. A rule without a row fails the test.

import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const depcruise = join(root, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
const config = createRequire(import.meta.url)(join(root, ".dependency-cruiser.cjs")) as {
  forbidden: { name: string }[];
};

interface Row {
  /** Why this import is wrong (or, with no rules, why it is allowed). */
  reason: string;
  /** The file under the copy's root that gets the import; created, or appended to if it exists in src/. */
  file: string;
  code: string;
  /** A second file the row needs (the other end of a cycle, a helper), created with it; no rule may report it. */
  also?: { file: string; code: string };
  /** The rules that must report `file`; empty: no rule may report it. */
  rules: string[];
}

const rows: Row[] = [
  // 1-3: core is pure.
  {
    reason: "core reaches up to the limiter",
    file: "src/core/x-up.ts",
    code: `import "../limiter.js";`,
    rules: ["core-imports-only-core"],
  },
  {
    reason: "core imports an npm package",
    file: "src/core/x-npm.ts",
    code: `import "hono";`,
    rules: ["core-imports-only-core", "no-npm-below-the-subpaths"],
  },
  {
    reason: "core imports a node: module",
    file: "src/core/x-node.ts",
    code: `import "node:crypto";`,
    rules: ["core-imports-only-core"],
  },
  // 4-5: stores.
  {
    reason: "a store reaches up to the limiter",
    file: "src/stores/x-up.ts",
    code: `import "../limiter.js";`,
    rules: ["stores-below-limiter"],
  },
  {
    reason: "the store contract depends on the Redis store",
    file: "src/stores/x-redis.ts",
    code: `import "./redis/index.js";`,
    rules: ["store-contract-without-redis"],
  },
  // 6-7: the limiter layer.
  {
    reason: "the limiter layer reaches up to http",
    file: "src/x-limiter.ts",
    code: `import "./http/index.js";`,
    rules: ["limiter-below-http"],
  },
  {
    reason: "the limiter layer imports an npm package",
    file: "src/x-limiter-npm.ts",
    code: `import "fast-check";`,
    rules: ["no-npm-below-the-subpaths"],
  },
  // 8-9: http.
  {
    reason: "http reaches up to an adapter",
    file: "src/http/x-up.ts",
    code: `import "../adapters/express.js";`,
    rules: ["http-below-adapters"],
  },
  {
    reason: "http imports a framework",
    file: "src/http/x-npm.ts",
    code: `import "express";`,
    rules: ["no-npm-below-the-subpaths"],
  },
  // 10-14: adapters.
  {
    reason: "an adapter goes around http to the limiter",
    file: "src/adapters/x-limiter.ts",
    code: `import "../limiter.js";`,
    rules: ["adapters-only-http"],
  },
  {
    reason: "an adapter takes behaviour (a value) from core",
    file: "src/adapters/x-core.ts",
    code: `import { ceilMs } from "../core/policy.js";\nexport const f = ceilMs;`,
    rules: ["adapters-only-core-types"],
  },
  {
    reason: "an adapter imports another adapter",
    file: "src/adapters/x-cross.ts",
    code: `import "./express.js";`,
    rules: ["adapters-independent"],
  },
  {
    reason: "the koa adapter imports express",
    file: "src/adapters/koa.ts",
    code: `import "express";`,
    rules: ["adapter-imports-only-its-framework"],
  },
  {
    reason: "a shared adapter helper imports a framework",
    file: "src/adapters/x-helper.ts",
    code: `import "hono";`,
    rules: ["adapter-helpers-import-no-framework"],
  },
  // 15-16: the client.
  {
    reason: "the client reaches into http",
    file: "src/client/x-http.ts",
    code: `import "../http/index.js";`,
    rules: ["client-on-the-limiter"],
  },
  {
    reason: "the client imports a framework",
    file: "src/client/x-npm.ts",
    code: `import "express";`,
    rules: ["client-imports-only-undici"],
  },
  // metrics: each binding imports only its own peer.
  {
    reason: "a metrics binding imports another npm package",
    file: "src/metrics/x-npm.ts",
    code: `import "express";`,
    rules: ["metrics-import-only-their-peer"],
  },
  {
    reason: "the OpenTelemetry binding pulls prom-client",
    file: "src/metrics/otel.ts",
    code: `import "prom-client";`,
    rules: ["prom-client-only-in-prometheus"],
  },
  {
    reason: "the Prometheus binding pulls @opentelemetry/api",
    file: "src/metrics/prometheus.ts",
    code: `import "@opentelemetry/api";`,
    rules: ["otel-api-only-in-otel"],
  },
  // 17-18: on top of the limiter, and the root.
  {
    reason: "the simulator imports a framework adapter",
    file: "src/simulate/x.ts",
    code: `import "../adapters/hono.js";`,
    rules: ["on-top-not-adapters"],
  },
  {
    reason: "the root entry re-exports a subpath",
    file: "src/index.ts",
    code: `export * from "./client/index.js";`,
    rules: ["root-entry-stays-small"],
  },
  // 19: the Redis store.
  {
    reason: "the Redis store imports a framework",
    file: "src/stores/redis/x-npm.ts",
    code: `import "hono";`,
    rules: ["redis-store-imports-only-redis-clients"],
  },
  // The service: its peers only.
  {
    reason: "the service imports a framework",
    file: "src/service/x-npm.ts",
    code: `import "express";`,
    rules: ["service-imports-only-its-peers"],
  },
  // 20: a Web-standard entry reaches node:os through a helper (the helper itself is no entry, so it is not reported).
  {
    reason: "the fetch wrapper reaches node:os through a helper",
    file: "src/http/fetch.ts",
    code: `import "./x-node.js";`,
    also: { file: "src/http/x-node.ts", code: `import "node:os";` },
    rules: ["web-standard-no-node"],
  },
  // 21-23: cycles, typos, tools.
  {
    reason: "a value cycle (reported once, from its first module)",
    file: "src/core/x-cycle-a.ts",
    code: `import { b } from "./x-cycle-b.js";\nexport const a = (): unknown => b;`,
    also: {
      file: "src/core/x-cycle-b.ts",
      code: `import { a } from "./x-cycle-a.js";\nexport const b = (): unknown => a;`,
    },
    rules: ["no-circular"],
  },
  {
    reason: "an import that resolves to nothing",
    file: "src/http/x-typo.ts",
    code: `import "./no-such-module.js";`,
    rules: ["not-to-unresolvable"],
  },
  {
    reason: "shipped code imports a test helper",
    file: "src/http/x-test.ts",
    code: `import "../../test/x-helper.js";`,
    rules: ["src-not-to-tests-or-tools"],
  },
  // 24-26: allowed.
  {
    reason: "allowed: an adapter takes core types and errors, and http",
    file: "src/adapters/x-fine.ts",
    code: `import type { Policy } from "../core/policy.js";\nimport { FloodgateTypeError } from "../core/errors.js";\nimport { pathOnly } from "../http/routes.js";\nexport const f = (p: Policy) => [p, FloodgateTypeError, pathOnly];`,
    rules: [],
  },
  {
    reason: "allowed: a cycle of import type only",
    file: "src/core/x-types-a.ts",
    code: `import type { B } from "./x-types-b.js";\nexport interface A { b?: B }`,
    also: {
      file: "src/core/x-types-b.ts",
      code: `import type { A } from "./x-types-a.js";\nexport interface B { a?: A }`,
    },
    rules: [],
  },
  {
    reason: "allowed: the Redis store uses node:crypto (floodgate/redis is Node-only)",
    file: "src/stores/redis/x-node.ts",
    code: `import "node:crypto";`,
    rules: [],
  },
];

interface Violation {
  rule: string;
  from: string;
  to: string;
}

let dir = "";
let status = 0;
let output = "";
const violations: Violation[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "floodgate-boundaries-"));
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  for (const f of ["package.json", "tsconfig.json", ".dependency-cruiser.cjs"]) cpSync(join(root, f), join(dir, f));
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "test"));
  writeFileSync(join(dir, "test", "x-helper.ts"), "export const helper = 1;\n");
  for (const { file, code } of rows.flatMap((row) => [row, ...(row.also ? [row.also] : [])])) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    appendFileSync(join(dir, file), `\n${code}\n`);
  }
  // The same command as `npm run lint:boundaries`: its exit code is the number of errors, one line per violation.
  try {
    execFileSync(
      process.execPath,
      [depcruise, "src", "--config", ".dependency-cruiser.cjs", "--output-type", "err-long"],
      {
        cwd: dir,
        encoding: "utf8",
      },
    );
  } catch (e) {
    const err = e as { status: number; stdout: string };
    status = err.status;
    output = err.stdout;
    for (const m of output.matchAll(/^\s*error ([\w-]+): (\S+) \u2192 (.*)$/gm)) {
      violations.push({ rule: m[1]!, from: m[2]!, to: m[3]! });
    }
  }
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("import-direction rules (.dependency-cruiser.cjs)", () => {
  it("the checker fails on a copy of src with wrong imports: exit code = errors, each line naming its rule", () => {
    expect(status, output).toBe(violations.length);
    expect(status).toBeGreaterThan(rows.length / 2);
    expect(output).toContain("error core-imports-only-core: src/core/x-up.ts \u2192 src/limiter.ts");
  });

  it.each(rows.map((row, i) => ({ step: i + 1, ...row })))("step $step: $reason ($file)", ({ file, rules }) => {
    const found = [...new Set(violations.filter((v) => v.from === file).map((v) => v.rule))].sort();
    const shown = violations
      .filter((v) => v.from === file)
      .map((v) => `${v.rule}: ${v.from} -> ${v.to}`)
      .join("; ");
    expect(found, `${file}: got [${shown}]`).toEqual([...rules].sort());
  });

  it("every rule in the config has a row that makes it fail, and no violation comes from an untouched file", () => {
    const tested = new Set(rows.flatMap((r) => r.rules));
    expect(config.forbidden.map((r) => r.name).filter((name) => !tested.has(name))).toEqual([]);
    const touched = new Set(rows.map((r) => r.file));
    for (const r of rows) if (r.also) expect(violations.filter((v) => v.from === r.also?.file)).toEqual([]);
    // The Web-standard rule reports each entry that reaches node:os: fetch.ts, and the entries importing fetch.ts.
    const fromEntries = new Set(["src/http/index.ts", "src/adapters/hono.ts"]);
    expect(violations.filter((v) => !touched.has(v.from) && !fromEntries.has(v.from))).toEqual([]);
  });
});
