// engines.test.ts: every package the lockfile installs runs on the Node versions floodgate is developed on.
//
// package.json `engines` (>=20) is what users need: the published package has no runtime dependency.
// `devEngines.runtime` is what developing needs (vite 8 and rolldown under vitest 4 need ^20.19.0; dependency-cruiser's watskeburt ^22.13).
// The first test is version-independent (it reads the lockfile); the second runs `npm ci --dry-run`
// with --engine-strict on the Node running the tests (CI's Node 20) and wants silent output.

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const semver = createRequire(import.meta.url)("semver") as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  engines: { node: string };
  devEngines: { runtime: { name: string; version: string } };
  dependencies?: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/** The lowest version of each `||` alternative of the development range: 20.19.0 and 22.13.0. */
const floors = pkg.devEngines.runtime.version.split("||").map((r) => semver.minVersion(r.trim())?.version ?? r);

describe("Node versions", () => {
  it("the published package has no runtime dependency, and its engines admit every development floor", () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.devEngines.runtime.name).toBe("node");
    expect(floors).toEqual(["20.19.0", "22.13.0"]);
    for (const v of floors)
      expect(semver.satisfies(v, pkg.engines.node), `${v} vs engines ${pkg.engines.node}`).toBe(true);
  });

  // Regression (issue 8, installing): npm ci on Node 20 warned EBADENGINE for cookie@2.0.2 (node >= 22), which
  // came in through fastify -> light-my-request@6.8.1; package.json overrides light-my-request to 6.6.0 (cookie 1.x).
  it("every package in package-lock.json admits each development floor (20.19.0 and 22.13.0)", () => {
    const refused: string[] = [];
    for (const [path, info] of Object.entries(lock.packages)) {
      const range = Array.isArray(info.engines) ? undefined : info.engines?.node;
      if (path === "" || range === undefined) continue;
      for (const v of floors) {
        if (!semver.satisfies(v, range)) refused.push(`${path}@${info.version}: engines.node "${range}" refuses ${v}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it(`npm ci (dry run, --engine-strict) on this Node (${process.version}) prints no warning`, () => {
    // Only package.json and the lockfile, in a scratch folder: a dry run there touches no node_modules.
    // --ignore-scripts: even a dry run would run our `prepare`, which has no scripts/ to run here.
    const dir = mkdtempSync(join(tmpdir(), "floodgate-engines-"));
    try {
      for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(root, f), join(dir, f));
      const r = spawnSync(
        "npm",
        [
          "ci",
          "--dry-run",
          "--ignore-scripts",
          "--engine-strict",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          "--loglevel=warn",
        ],
        { cwd: dir, encoding: "utf8" },
      );
      const said = `${r.stdout}${r.stderr}`;
      expect(r.status, said).toBe(0);
      expect(said).not.toMatch(/EBADENGINE|npm warn|npm error/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
