// pnpm.test.ts: the packed tarball installed by pnpm with strict node_modules (no hoisting) runs its ESM, CJS and TS consumers.
//
// pnpm links each package only to what it declares: floodgate sees no package but its optional peers that the app
// installed, so an import of anything floodgate does not declare (a phantom dependency) fails here, where npm's flat
// node_modules would hide it. `hoist=false` also turns off pnpm's hidden hoisting into node_modules/.pnpm/node_modules.
// The app pins the peers to the versions of our lockfile; pnpm fetches them from the registry into a store kept in
// the temp folder across runs (about 7 s when cold).

import { execFileSync, spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everySubpathLoads, root, rootFromCjs, rootFromEsm, typechecks } from "./consumers.js";

/** PEERS are the packages the app installs beside floodgate: every optional peer an entry loads, and their types. */
const PEERS = [
  "express",
  "fastify",
  "hono",
  "koa",
  "ioredis",
  "redis",
  "undici",
  "@nestjs/common",
  "@nestjs/core",
  "reflect-metadata",
  "yaml",
  "rxjs",
  "@types/node",
  "@types/express",
  "@types/koa",
  "prom-client",
  "@opentelemetry/api",
];

const version = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

/** env is this process's environment without the npm_* variables `npm test` sets, which pnpm would read as config. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_/i.test(k) && k !== "INIT_CWD"),
) as NodeJS.ProcessEnv;

let dir = "";
let installLog = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "floodgate-pnpm-"));
  // --ignore-scripts: npm pack runs `prepare`, which would rebuild dist/ under the other tests.
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: root,
    encoding: "utf8",
    env,
  });
  const tarball = (JSON.parse(out) as { filename: string }[])[0]!.filename;
  const dependencies: Record<string, string> = { floodgate: `file:./${tarball}` };
  for (const p of PEERS) dependencies[p] = version(p);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "pnpm-consumer", private: true, dependencies }));
  writeFileSync(
    join(dir, ".npmrc"),
    [
      "hoist=false", // nothing hoisted into node_modules/.pnpm/node_modules either
      "node-linker=isolated", // pnpm's default, said out loud
      "auto-install-peers=false",
      `store-dir=${join(tmpdir(), "floodgate-pnpm-store")}`,
      "",
    ].join("\n"),
  );
  const pnpm = join(root, "node_modules", "pnpm", "bin", "pnpm.cjs");
  const r = spawnSync(process.execPath, [pnpm, "install", "--prefer-offline", "--reporter=append-only"], {
    cwd: dir,
    env,
    encoding: "utf8",
    timeout: 240_000,
  });
  installLog = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`;
  if (r.status !== 0) throw new Error(`pnpm install failed (${r.status}):\n${installLog}`);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("pnpm, strict node_modules", () => {
  it("installs floodgate in pnpm's virtual store, linked to the optional peers the app has and nothing else", () => {
    const link = join(dir, "node_modules", "floodgate");
    expect(lstatSync(link).isSymbolicLink(), "node_modules/floodgate is a link into .pnpm").toBe(true);
    const real = realpathSync(link);
    expect(real, "floodgate lives in the virtual store").toContain(`${join("node_modules", ".pnpm")}`);
    // What floodgate can resolve: itself and its optional peers, nothing else (no hoisting).
    const visible = readdirSync(join(real, "..")).flatMap((n) =>
      n.startsWith("@") ? readdirSync(join(real, "..", n)).map((m) => `${n}/${m}`) : [n],
    );
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      peerDependencies: Record<string, string>;
    };
    const peers = Object.keys(pkg.peerDependencies);
    expect(
      visible.filter((n) => n !== "floodgate" && !peers.includes(n)),
      "packages floodgate sees that it does not declare",
    ).toEqual([]);
    expect(readdirSync(join(dir, "node_modules", ".pnpm")), "no hoisted node_modules/.pnpm/node_modules").not.toContain(
      "node_modules",
    );
  });

  it("the root imports from ESM and makes a decision", () => {
    rootFromEsm(dir);
  });

  it("the root requires from CJS and makes a decision", () => {
    rootFromCjs(dir);
  });

  it("every subpath loads from both ESM and CJS", () => {
    everySubpathLoads(dir);
  });

  // tsc over every subpath twice: about 40 s on a loaded 2-core machine, past the default 30 s.
  it("typechecks for TypeScript consumers, ESM (NodeNext) and CJS", () => {
    typechecks(dir);
  }, 120_000);
});
