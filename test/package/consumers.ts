// consumers.ts: the ESM, CJS and TypeScript programs that use an installed floodgate, shared by the npm and pnpm tests.

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect } from "vitest";

export const root = resolve(import.meta.dirname, "../..");

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> };

/** subpaths lists every subpath export but ./package.json (".", "./redis", ...). */
export const subpaths = Object.keys(pkg.exports).filter((s) => s !== "./package.json");

/** specifier turns a subpath export into what an app imports: "." -> "floodgate", "./http" -> "floodgate/http". */
export const specifier = (s: string): string => (s === "." ? "floodgate" : `floodgate/${s.slice(2)}`);

/** run runs a file with this Node in `dir` and returns what it printed. */
export const run = (dir: string, file: string): string =>
  execFileSync(process.execPath, [file], { cwd: dir, encoding: "utf8" });

/** rootFromEsm imports the root from ESM and makes three decisions: it must print [true,true,false,1000]. */
export function rootFromEsm(dir: string): void {
  writeFileSync(
    join(dir, "esm.mjs"),
    `import { RateLimiter, tokenBucket } from "floodgate";
const l = new RateLimiter({ policy: tokenBucket({ capacity: 2, refillRate: 1 }), now: () => 0 });
const a = await l.consume("k"); const b = await l.consume("k"); const c = await l.consume("k");
console.log(JSON.stringify([a.allowed, b.allowed, c.allowed, c.retryAfterMs]));`,
  );
  expect(run(dir, "esm.mjs").trim()).toBe("[true,true,false,1000]");
}

/** rootFromCjs requires the root from CJS, decides and checks an error class. */
export function rootFromCjs(dir: string): void {
  writeFileSync(
    join(dir, "cjs.cjs"),
    `const { RateLimiter, fixedWindow, FloodgateRangeError } = require("floodgate");
const l = new RateLimiter({ policy: fixedWindow({ limit: 1, windowMs: 1000 }), now: () => 0 });
const a = l.consumeSync("k"); const b = l.consumeSync("k");
let code = ""; try { fixedWindow({ limit: 0, windowMs: 1 }); } catch (e) { code = e instanceof FloodgateRangeError ? e.code : "wrong class"; }
console.log(JSON.stringify([a.allowed, b.allowed, code]));`,
  );
  expect(run(dir, "cjs.cjs").trim()).toBe('[true,false,"ERR_INVALID_OPTION"]');
}

/** everySubpathLoads imports and requires each subpath export and wants a module with exports. */
export function everySubpathLoads(dir: string): void {
  for (const s of subpaths) {
    writeFileSync(
      join(dir, "sub.mjs"),
      `const m = await import(${JSON.stringify(specifier(s))}); console.log(Object.keys(m).length);`,
    );
    writeFileSync(
      join(dir, "sub.cjs"),
      `const m = require(${JSON.stringify(specifier(s))}); console.log(Object.keys(m).length);`,
    );
    expect(Number(run(dir, "sub.mjs")), `import ${specifier(s)}`).toBeGreaterThan(0);
    expect(Number(run(dir, "sub.cjs")), `require ${specifier(s)}`).toBeGreaterThan(0);
  }
}

/**
 * typechecks compiles a TypeScript consumer of every subpath, as ESM and as CJS
 * (NodeNext), with our typescript; `dir` must hold @types/node and the peers' types.
 */
export function typechecks(dir: string): void {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const imports = subpaths
    .map((s, i) => `import * as m${i} from ${JSON.stringify(specifier(s))};\nvoid m${i};`)
    .join("\n");
  const body = `import { RateLimiter, tokenBucket, type Decision } from "floodgate";
${imports}
import fastifyDefault, { rateLimit as fastifyNamed } from "floodgate/fastify";
const l = new RateLimiter({ policy: tokenBucket({ capacity: 10, refillRate: 2 }) });
export async function f(): Promise<number> { const d: Decision = await l.consume("k"); return d.remaining; }
export const plugins: (typeof fastifyNamed)[] = [fastifyDefault, fastifyNamed];
// @ts-expect-error capacity must be a number
tokenBucket({ capacity: "10", refillRate: 2 });
`;
  for (const [name, type] of [
    ["ts-esm", "module"],
    ["ts-cjs", "commonjs"],
  ] as const) {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "package.json"), JSON.stringify({ type }));
    writeFileSync(join(d, "main.ts"), body);
    writeFileSync(
      join(d, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          skipLibCheck: true, // as most apps set it: @types/koa does not typecheck against its own deps
          target: "ES2022",
          noEmit: true,
          types: ["node"],
        },
        files: ["main.ts"],
      }),
    );
    let output = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", d], { cwd: d, encoding: "utf8" });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output, name).toBe("");
  }
}
