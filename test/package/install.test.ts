// install.test.ts: `npm install <folder>` gives a working package: npm runs floodgate's `prepare`, which builds dist/.
//
// The folder is a scratch copy of the repository as a clone has it: the files git tracks (and new files it does not
// ignore), so no dist/. Its node_modules is a link to ours, standing in for the `npm ci` a newcomer runs in the
// clone (the same packages, without installing 350 of them again). Three installs, each into its own scratch app:
//   1. `npm install <folder>`: what a newcomer types. npm links the folder (install-links is off by default) and runs
//      its `prepare`, which builds dist/ in the folder. The one build of this file (~15 s).
//   2. `npm install --install-links <folder>`: npm packs the folder and installs the tarball's files, the path a git
//      URL takes too (after npm installed the clone's dev dependencies and ran `prepare`). --ignore-scripts keeps this
//      file to one build: dist/ was built by step 1; what this step checks is what the packed copy holds and loads.
//   3. `npm install <folder>` on a copy without node_modules: `prepare` cannot build, and says what to run.
// test/package/pack.test.ts checks the published tarball in depth (every subpath, ESM and CJS, TypeScript).

import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
let dir = "";

/** env is this process's environment without the npm_* variables `npm test` sets, which would point npm at root. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "INIT_CWD"),
) as NodeJS.ProcessEnv;

/** sh runs a command in `cwd` and returns its exit status and everything it printed. */
function sh(cwd: string, cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

/** cloneLike copies the files a clone of the repository has (tracked, or new and not ignored) into `to`. */
function cloneLike(to: string): void {
  const listed = sh(root, "git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  expect(listed.status, listed.out).toBe(0);
  for (const file of listed.out.split("\0")) {
    if (file === "" || !existsSync(join(root, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(root, file), join(to, file));
  }
}

/** app makes an empty project to install into. */
function app(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, "package.json"), JSON.stringify({ name, private: true }));
  return d;
}

const install = (cwd: string, ...args: string[]) =>
  sh(cwd, "npm", ["install", ...args, "--no-audit", "--no-fund", "--offline", "--no-update-notifier"]);

/** Loads floodgate from `cwd` both ways and makes a decision: prints [allowed, allowed, retryAfterMs]. */
const esm = `import { RateLimiter, tokenBucket } from "floodgate";
import { withRateLimit } from "floodgate/http";
const l = new RateLimiter({ policy: tokenBucket({ capacity: 1, refillRate: 1 }), now: () => 0 });
const a = await l.consume("k"); const b = await l.consume("k");
console.log(JSON.stringify([a.allowed, b.allowed, b.retryAfterMs, typeof withRateLimit]));`;
const cjs = `const { RateLimiter, fixedWindow } = require("floodgate");
const { throttle } = require("floodgate/client");
const l = new RateLimiter({ policy: fixedWindow({ limit: 1, windowMs: 1000 }), now: () => 0 });
console.log(JSON.stringify([l.consumeSync("k").allowed, l.consumeSync("k").allowed, typeof throttle]));`;

function loads(cwd: string): void {
  writeFileSync(join(cwd, "main.mjs"), esm);
  writeFileSync(join(cwd, "main.cjs"), cjs);
  const a = sh(cwd, process.execPath, ["main.mjs"]);
  const b = sh(cwd, process.execPath, ["main.cjs"]);
  expect(a.out.trim(), "import from ESM").toBe('[true,false,1000,"function"]');
  expect(b.out.trim(), "require from CJS").toBe('[true,false,"function"]');
}

let repo = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "floodgate-install-"));
  repo = join(dir, "floodgate");
  cloneLike(repo);
  symlinkSync(join(root, "node_modules"), join(repo, "node_modules"));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm install <folder>", () => {
  // Regression (issue 8, installing): without a prepare script a folder or git install had no dist/ and did not load.
  it("step 1: as a newcomer types it, npm links the folder and its prepare builds dist/", () => {
    expect(existsSync(join(repo, "dist")), "a clone has no dist/").toBe(false);
    const a = app("linked");
    const r = install(a, "../floodgate");
    expect(r.status, r.out).toBe(0);
    const mod = join(a, "node_modules", "floodgate");
    expect(lstatSync(mod).isSymbolicLink(), "npm links folder dependencies by default").toBe(true);
    expect(realpathSync(mod)).toBe(realpathSync(repo));
    expect(existsSync(join(repo, "dist", "index.js")), "prepare built dist/").toBe(true);
    loads(a);
  }, 240_000);

  it("step 2: with --install-links, npm packs the folder and installs only the files package.json lists", () => {
    expect(existsSync(join(repo, "dist", "index.js")), "step 1 built dist/").toBe(true);
    const a = app("packed");
    const r = install(a, "--install-links", "--ignore-scripts", "../floodgate");
    expect(r.status, r.out).toBe(0);
    const mod = join(a, "node_modules", "floodgate");
    expect(lstatSync(mod).isSymbolicLink(), "a real folder, not a link").toBe(false);
    expect(readdirSync(mod).sort()).toEqual(["CHANGELOG.md", "LICENSE", "README.md", "dist", "package.json"]);
    loads(a);
  }, 120_000);

  it("step 3: a folder without its dev dependencies fails with the command to run, not `tsup: not found`", () => {
    const bare = join(dir, "bare");
    cloneLike(bare);
    const a = app("bare-app");
    const r = install(a, "../bare");
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("floodgate prepare: cannot build dist/: the dev dependencies are not installed in");
    expect(r.out).toContain("Run `npm ci` in");
  }, 120_000);
});
