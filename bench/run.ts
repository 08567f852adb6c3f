// run.ts: runs the benchmark sections one after another and gathers their results in bench/RESULTS.md.
//
// Run: node --expose-gc --import tsx bench/run.ts [section ...]     (npm run bench [-- memory])
//
// Each section is a script bench/<name>.ts that writes bench/results/<name>.md.
// Sections run as child processes, one at a time (they measure, so they must not
// share the CPU), with the same node flags as this process. A section that exits
// with an error, times out, or writes no fresh results file is reported as FAILED
// in RESULTS.md with the tail of its output, never silently dropped. Sections not
// run by this command keep their last results, marked with the date they were made.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = join(HERE, "results");
/** SECTIONS lists the known sections, in the order they run and appear. */
const SECTIONS = [
  "memory",
  "redis",
  "cluster",
  "http",
  "http-redis",
  "client-timing",
  "simulate",
  "service",
  "metrics",
] as const;
/** RESULT_NAMES maps a section whose results file is not named after it. */
const RESULT_NAMES: Record<string, string> = { "client-timing": "client" };
/** SECTION_TIMEOUT_MS bounds one section; a section that takes longer is stopped and reported as failed. */
const SECTION_TIMEOUT_MS = 15 * 60_000;
/** TAIL_BYTES is how much of a failed section's output RESULTS.md quotes. */
const TAIL_BYTES = 4000;

/** Outcome is what happened to one section in this run. */
interface Outcome {
  name: string;
  status: "ok" | "failed" | "not run" | "missing";
  seconds: number;
  detail: string;
}

/** machine describes this machine: CPUs (nproc), CPU model, memory, Node version. */
function machine(): string {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) model = m[1].trim();
  } catch {
    // Not Linux: keep os.cpus()'s model.
  }
  const memGiB = (totalmem() / 2 ** 30).toFixed(1);
  return `${cpus().length} CPUs (nproc), ${model}, ${memGiB} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}`;
}

/** runSection runs bench/<name>.ts, streaming its output, and checks that it wrote a fresh results file. */
function runSection(name: string): Promise<Outcome> {
  const script = join(HERE, `${name}.ts`);
  const resultFile = resultPath(name);
  const startedMs = Date.now();
  return new Promise((resolve) => {
    let tail = "";
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
    };
    const child = spawn(process.execPath, [...process.execArgv, script], {
      cwd: join(HERE, ".."),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (c: Buffer) => {
      process.stdout.write(c);
      keep(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      process.stderr.write(c);
      keep(c);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, SECTION_TIMEOUT_MS);
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
      clearTimeout(timer);
      const seconds = (Date.now() - startedMs) / 1000;
      const fresh = existsSync(resultFile) && statSync(resultFile).mtimeMs >= startedMs - 1000;
      let why = "";
      if (error) why = `could not start: ${error.message}`;
      else if (timedOut) why = `stopped after ${SECTION_TIMEOUT_MS / 60_000} minutes`;
      else if (code !== 0) why = `exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
      else if (!fresh) why = `exited normally but did not write bench/results/${RESULT_NAMES[name] ?? name}.md`;
      if (why === "") {
        resolve({ name, status: "ok", seconds, detail: readFileSync(resultFile, "utf8").trim() });
      } else {
        resolve({ name, status: "failed", seconds, detail: `${why}. Last output:\n\n\`\`\`\n${tail.trim()}\n\`\`\`` });
      }
    };
    child.on("error", (err) => finish(null, null, err));
    child.on("close", (code, signal) => finish(code, signal));
  });
}

/** resultPath is the results file a section writes: bench/results/<name>.md unless RESULT_NAMES says otherwise. */
function resultPath(name: string): string {
  return join(RESULTS_DIR, `${RESULT_NAMES[name] ?? name}.md`);
}

/** previous reports a section this command did not run, with its last results if any. */
function previous(name: string): Outcome {
  const resultFile = resultPath(name);
  if (!existsSync(join(HERE, `${name}.ts`))) {
    return { name, status: "missing", seconds: 0, detail: `bench/${name}.ts does not exist yet.` };
  }
  if (!existsSync(resultFile)) {
    return { name, status: "not run", seconds: 0, detail: "Not run by this command, and no earlier results." };
  }
  const when = statSync(resultFile).mtime.toISOString();
  return {
    name,
    status: "not run",
    seconds: 0,
    detail: `Not run by this command; these results are from an earlier run (${when}).\n\n${readFileSync(resultFile, "utf8").trim()}`,
  };
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = asked.filter((a) => !existsSync(join(HERE, `${a}.ts`)) || a === "run");
  if (unknown.length > 0) {
    process.stderr.write(
      `bench/run.ts: no section ${unknown.map((u) => JSON.stringify(u)).join(", ")}; sections: ${SECTIONS.join(", ")}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const chosen = asked.length > 0 ? asked : SECTIONS.filter((s) => existsSync(join(HERE, `${s}.ts`)));
  const order = [...SECTIONS, ...asked.filter((a) => !(SECTIONS as readonly string[]).includes(a))];
  const date = new Date().toISOString();
  mkdirSync(RESULTS_DIR, { recursive: true });
  const outcomes = new Map<string, Outcome>();
  for (const name of chosen) {
    process.stderr.write(`\n=== bench: ${name} ===\n`);
    outcomes.set(name, await runSection(name));
  }
  const all = order.map((name) => outcomes.get(name) ?? previous(name));

  // BENCH_* variables change what sections do (BENCH_FIXED=sequential, BENCH_ROUNDS, ...): the command shows them.
  const env = Object.keys(process.env)
    .filter((k) => k.startsWith("BENCH_"))
    .sort()
    .map((k) => `${k}=${process.env[k]} `)
    .join("");
  const command = `${env}npm run bench${asked.length > 0 ? ` -- ${asked.join(" ")}` : ""}  (node --expose-gc --import tsx bench/run.ts${asked.length > 0 ? ` ${asked.join(" ")}` : ""})`;
  const out: string[] = [];
  out.push("# floodgate benchmarks", "");
  out.push(`Command: \`${command}\`  `);
  out.push(`Date: ${date}  `);
  out.push(`Machine: ${machine()}`, "");
  out.push("Generated by bench/run.ts from bench/results/*.md; each section is a script in bench/.", "");
  out.push("| section | status | time |");
  out.push("|---|---|---:|");
  for (const o of all) {
    const status = o.status === "failed" ? "**FAILED**" : o.status;
    out.push(
      `| ${o.name} | ${status} | ${o.status === "ok" || o.status === "failed" ? `${o.seconds.toFixed(0)} s` : ""} |`,
    );
  }
  for (const o of all) {
    out.push("", `# Section: ${o.name}${o.status === "failed" ? " (FAILED)" : ""}`, "", o.detail);
  }
  out.push("");
  writeFileSync(join(HERE, "RESULTS.md"), out.join("\n"));
  const failed = all.filter((o) => o.status === "failed").map((o) => o.name);
  process.stderr.write(`\nbench: wrote bench/RESULTS.md${failed.length > 0 ? `; FAILED: ${failed.join(", ")}` : ""}\n`);
  if (failed.length > 0) process.exitCode = 1;
}

await main();
