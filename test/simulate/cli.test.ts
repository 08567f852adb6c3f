// cli.test.ts: `floodgate simulate` as a child process: help, coded errors for bad flags, a log replay with
// every output, advice; and the progress bar, drawn only on a terminal.

import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const root = resolve(import.meta.dirname, "../..");
const dir = join(root, ".tmp", "cli-test");
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** floodgate runs the CLI from the sources in a child process. */
function floodgate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "src/cli/bin.ts"), ...args],
      { cwd: root, timeout: 60_000 },
      (err, stdout, stderr) => {
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** inProcess runs main() with captured output, as the child process would. */
async function inProcess(args: string[], isTTY = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), isTTY, columns: 80 },
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe("floodgate simulate (child process)", () => {
  it("--help lists every flag and examples; exit 0", async () => {
    const r = await floodgate("simulate", "--help");
    expect(r.code).toBe(0);
    for (const flag of [
      "--policy",
      "--traffic",
      "--log",
      "--format",
      "--html",
      "--svg",
      "--advise",
      "--template",
      "--window",
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain("Examples:");
  });

  it("bad flags and values: exit 2, the flag, the value and the fix, with a code", async () => {
    const rows: [string[], RegExp, string][] = [
      [
        ["simulate", "--polcy", "x"],
        /unknown flag --polcy \(did you mean --policy\?\).*--help.*\(ERR_UNKNOWN_OPTION\)/,
        "a misspelt flag",
      ],
      [
        [
          "simulate",
          "--policy",
          "tokenBucket(capacity=ten, refillRate=1)",
          "--traffic",
          "poisson(rate=1, durationMs=1s)",
        ],
        /--policy "capacity=ten": "ten" is not a number; pass a number.*\(ERR_INVALID_OPTION\)/,
        "a value that is not a number",
      ],
      [
        ["simulate", "--policy", "tokenBucket(capacity=1, refillRate=1)", "--traffic", "poison(rate=1, durationMs=1s)"],
        /--traffic "poison\(rate=1, durationMs=1s\)": generate\(\{ shape \}\) must be one of steady, poisson/,
        "an unknown shape",
      ],
      [
        ["simulate", "--policy", "tokenBucket(capacity=1, refillRate=1)"],
        /--traffic or --log is required; pass either --traffic/,
        "no traffic",
      ],
      [
        [
          "simulate",
          "--policy",
          "tokenBucket(capacity=1, refillRate=1)",
          "--traffic",
          "steady(rate=1, durationMs=1s)",
          "--window",
          "soon",
        ],
        /--window "soon" is not a duration; pass milliseconds or a duration such as 500ms/,
        "a bad duration",
      ],
      [
        ["simulate", "--policy", "tokenBucket(capacity=1, refillRate=1)", "--log", "x.txt"],
        /--format is needed: the format of "x\.txt" cannot be told from its name; add --format with one of clf, combined, jsonl, csv/,
        "a log of unknown format",
      ],
      [["simulate", "--policy"], /flag --policy needs a value \(SPEC\)/, "a flag without its value"],
      [["bogus"], /unknown command "bogus" \(ERR_UNKNOWN_OPTION\); the commands are simulate/, "an unknown command"],
    ];
    // The first row runs as a child process; the rest run main() in this process (the same code, faster).
    const [first, ...rest] = rows;
    const r = await floodgate(...(first as (typeof rows)[0])[0]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch((first as (typeof rows)[0])[1]);
    for (const [args, want, why] of rest) {
      const got = await inProcess(args);
      expect(got.code, `${why}: ${got.stderr}`).toBe(2);
      expect(got.stderr, why).toMatch(want);
    }
  });

  it("replays a log: the report on stdout, skipped lines quoted, JSON and SVG written, no progress bar off a terminal", async () => {
    const log = join(dir, "trace.csv");
    const lines = ["timestamp,key,cost"];
    for (let i = 0; i < 300; i++) lines.push(`${i * 100},${i % 3 === 0 ? "heavy" : `user${i % 7}`},1`);
    lines.splice(50, 0, "garbage line", "12,,");
    writeFileSync(log, `${lines.join("\n")}\n`);
    const json = join(dir, "report.json");
    const svg = join(dir, "chart.svg");
    const r = await floodgate(
      "simulate",
      "--policy",
      "fixedWindow(limit=5, windowMs=1s)",
      "--policy",
      "tokenBucket(capacity=5, refillRate=2) + fixedWindow(limit=50, windowMs=1m, name=minute); heavy => tokenBucket(capacity=1, refillRate=1)",
      "--log",
      log,
      "--window",
      "2s",
      "--json",
      json,
      "--svg",
      svg,
      "--chart",
      "level",
      "--watch",
      "heavy",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/300 requests \(cost 300\) from 8 clients/);
    expect(r.stdout).toMatch(/2 lines skipped.*\n\s+line 51: not timestamp,key\[,cost\]: garbage line/);
    expect(r.stdout).toContain("fixedWindow(limit=5, windowMs=1000)");
    expect(r.stdout).toMatch(
      /tokenBucket\(capacity=5, refillRate=2\) \+ fixedWindow\(limit=50, windowMs=60000\) \(\+1 tier\)/,
    );
    const report = JSON.parse(readFileSync(json, "utf8")).report;
    expect(report.policies).toHaveLength(2);
    expect(report.watch).toBe("heavy");
    expect(report.policies[0].requests.offered).toBe(300);
    expect(readFileSync(svg, "utf8")).toMatch(/^<svg[^>]*>[\s\S]*Remaining quota of client heavy[\s\S]*<\/svg>$/);
  });

  it("--advise (in process): the smallest policy of the first policy's shape, run beside it", async () => {
    // 10 clients in turn, 50 a second in all: each client exactly 5 a second.
    const r = await inProcess([
      "simulate",
      "--policy",
      "fixedWindow(limit=1, windowMs=1s)",
      "--traffic",
      "steady(rate=50, durationMs=10s, clients=10)",
      "--advise",
      "maxRefusedShare=0%, percentile=100, maxPerWindow=400, windowMs=1m",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/advice: fixedWindow\(limit=5, windowMs=1000\)/);
    expect(r.stdout).toMatch(/advised: fixedWindow\(limit=5, windowMs=1000\)\n\s+admitted\s+500 of 500/);
  });
});

describe("progress bar", () => {
  it("is drawn on stderr when it is a terminal, and cleared at the end", async () => {
    const {
      code,
      stdout: out,
      stderr: err,
    } = await inProcess(
      [
        "simulate",
        "--policy",
        "gcra(limit=10, periodMs=1s)",
        "--traffic",
        "poisson(rate=2000, durationMs=30s, clients=100)",
      ],
      true,
    );
    expect(code).toBe(0);
    expect(err).toMatch(/\rsimulating \[#*-*\]\s+\d+%/);
    expect(err).toMatch(/100%/);
    expect(err.endsWith("\r")).toBe(true);
    expect(out).toMatch(/gcra\(limit=10, periodMs=1000, burst=10\)/);
  });
});

describe("the README picture", () => {
  it("is what the command the README names draws today", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const block = /```sh\n(node dist\/cli\.js simulate [\s\S]*?--svg docs\/simulate-boundary\.svg[\s\S]*?)\n```/.exec(
      readme,
    )?.[1];
    expect(block, "README names the command that draws docs/simulate-boundary.svg").toBeDefined();
    // Split the shell line: backslash-newlines joined, double-quoted words kept whole.
    const words = [...(block as string).replace(/\\\n\s*/g, " ").matchAll(/"([^"]*)"|(\S+)/g)].map(
      (m) => m[1] ?? m[2] ?? "",
    );
    const out = join(dir, "picture.svg");
    const args = words.slice(2).map((w) => (w === "docs/simulate-boundary.svg" ? out : w));
    const r = await inProcess(args);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, "utf8"), "docs/simulate-boundary.svg is stale: run the README's command again").toBe(
      readFileSync(join(root, "docs/simulate-boundary.svg"), "utf8"),
    );
    // The numbers the README quotes beside it.
    expect(r.stdout).toMatch(/at most 194 admitted to one client in any 10 s \(client-0\); bound 200/);
    expect(r.stdout).toMatch(/at most 116 admitted to one client in any 10 s \(client-0\); bound 116\.7/);
  });
});
