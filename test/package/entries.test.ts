// entries.test.ts: the README's table of entry points lists every subpath export, with the peers package.json declares.

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The rows of the table under "## Install": import specifier -> the row's last cell (the peers it needs). */
const rows = new Map<string, string>();
const install = readme.slice(
  readme.indexOf("\n## Install\n"),
  readme.indexOf("\n## ", readme.indexOf("\n## Install\n") + 1),
);
for (const m of install.matchAll(/^\| `(floodgate[^`]*)` \|.*\| ([^|]+) \|$/gm)) rows.set(m[1]!, m[2]!.trim());

const specifiers = Object.keys(pkg.exports)
  .filter((s) => s !== "./package.json")
  .map((s) => (s === "." ? "floodgate" : `floodgate/${s.slice(2)}`));

describe("README: Install", () => {
  it("has one row per subpath export, in the order of package.json", () => {
    expect([...rows.keys()]).toEqual(specifiers);
  });

  it("names each optional peer with the range package.json declares, and no peer it does not declare", () => {
    // A mention is "`name` >= N" (with an optional "(node-redis)" between); other `code` in the cell is not a peer.
    const mentioned = new Map<string, string>();
    for (const [specifier, cell] of rows) {
      for (const [, name, range] of cell.matchAll(/`([^`]+)`(?: \([^)]*\))? >= ?([\d.]+)/g)) {
        expect(pkg.peerDependencies[name!], `${specifier}: \`${name}\` >= ${range}`).toBe(`>=${range}`);
        mentioned.set(name!, specifier);
      }
    }
    expect([...mentioned.keys()].sort()).toEqual(Object.keys(pkg.peerDependencies).sort());
    for (const peer of Object.keys(pkg.peerDependencies)) {
      expect(pkg.peerDependenciesMeta[peer]?.optional, `${peer} is an optional peer`).toBe(true);
    }
  });
});
