// ci.test.ts: .ci/run, the script CI runs on a bare machine, is a valid bash script.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const script = join(root, ".ci", "run");

describe(".ci/run", () => {
  // Regression (issue 12, .ci/run): a merge left conflict markers in .ci/run; bash refused the whole file
  // ("syntax error near unexpected token `<<<'"), so CI ran no test at all.
  it("parses (bash -n) and holds no merge conflict markers", () => {
    const r = spawnSync("bash", ["-n", script], { encoding: "utf8" });
    expect(r.stderr, "bash -n .ci/run").toBe("");
    expect(r.status).toBe(0);
    const markers = readFileSync(script, "utf8")
      .split("\n")
      .map((line, i) => [i + 1, line] as const)
      .filter(([, line]) => /^(<<<<<<<|=======$|>>>>>>>)/.test(line));
    expect(markers, "conflict markers (line, text)").toEqual([]);
  });
});
