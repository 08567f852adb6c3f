// simulate.ts: `floodgate simulate`: run policies over traffic, print the report, write charts, advise.

import { statSync, writeFileSync } from "node:fs";
import { describe, FloodgateTypeError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { type Advice, advise } from "../simulate/advise.js";
import { CHARTS, type ChartName, renderHtml, renderSvg } from "../simulate/charts.js";
import { formatReport } from "../simulate/format.js";
import { LOG_FORMATS, type LogFormat, replay } from "../simulate/replay.js";
import { describePolicy, type SimPolicy, simulate } from "../simulate/run.js";
import {
  parseGoals,
  parsePolicyCall,
  parsePolicySpec,
  parseTrafficSpec,
  parseValue,
  rewrap,
} from "../simulate/spec.js";
import { generate, SHAPES, type Traffic } from "../simulate/traffic.js";
import { type FlagSpec, helpText, parseFlags } from "./args.js";
import type { Io } from "./main.js";

const FLAGS: Record<string, FlagSpec> = {
  policy: {
    type: "string",
    multiple: true,
    value: "SPEC",
    help: 'a policy to run; repeat to compare. "tokenBucket(capacity=10, refillRate=2)";\n"A(...) + B(...)" all-or-nothing; "...; paid:* => B(...)" a tier for keys with that prefix',
  },
  traffic: {
    type: "string",
    value: "SPEC",
    help: `generated traffic: "<shape>(rate=50, durationMs=1h, clients=100, seed=1, ...)",\nshape one of ${SHAPES.join(", ")} (options: docs/simulate.md)`,
  },
  log: { type: "string", value: "FILE", help: "replay a log instead (streamed; .gz is decompressed)" },
  format: {
    type: "string",
    value: "FORMAT",
    help: `the log's format: ${LOG_FORMATS.join(", ")} (default: from the extension)`,
  },
  window: { type: "string", value: "DURATION", help: "window of the most-admitted-to-one-client figure (default 1m)" },
  bucket: { type: "string", value: "DURATION", help: "chart bucket width (default: about 1/300 of the traffic)" },
  watch: {
    type: "string",
    value: "KEY",
    help: "client whose remaining quota is charted (default: the heaviest generated\nclient, or the first in a log)",
  },
  top: { type: "string", value: "N", help: "how many of the most limited clients to list (default 10)" },
  "max-clients": {
    type: "string",
    value: "N",
    help: "clients tracked one by one (default 250000); past it, counts are estimated",
  },
  html: {
    type: "string",
    value: "FILE",
    help: "write a self-contained HTML report with charts (needs vega, vega-lite)",
  },
  svg: { type: "string", value: "FILE", help: "write one chart as SVG (needs vega, vega-lite)" },
  chart: { type: "string", value: "NAME", help: `the chart --svg writes: ${CHARTS.join(", ")} (default traffic)` },
  title: { type: "string", value: "TEXT", help: "title of the HTML report or the SVG chart" },
  json: { type: "string", value: "FILE", help: "write the report as JSON" },
  advise: {
    type: "string",
    value: "GOALS",
    help: 'search the smallest policy meeting goals, and run it beside the others:\n"maxRefusedShare=0.1%, percentile=99, maxPerWindow=100, windowMs=1m"',
  },
  template: {
    type: "string",
    value: "SPEC",
    help: "the algorithm and shape --advise scales (default: the first --policy)",
  },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const USAGE =
  "usage: floodgate simulate --policy SPEC [--policy SPEC ...] (--traffic SPEC | --log FILE [--format FORMAT]) [flags]";
const ABOUT = `Runs each policy over the same traffic in virtual time (RateLimiter.consumeSync, a
virtual clock) and prints, per policy: admitted and refused requests, the share of
clients ever refused, the most admitted to one client in any window beside the
algorithm's bound, retryAfterMs percentiles, and the most limited clients.`;
const EXAMPLES = `Examples:
  floodgate simulate --policy "tokenBucket(capacity=100, refillRate=100/60)" \\
    --policy "fixedWindow(limit=100, windowMs=1m)" \\
    --traffic "bursts(rate=0.2, durationMs=4m, burstSize=200, burstLengthMs=10s, burstAtMs=55s, burstEveryMs=2m)" \\
    --window 10s --html report.html
  floodgate simulate --policy "slidingWindow(limit=600, windowMs=1m)" --log access.log --format combined
  floodgate simulate --policy "gcra(limit=10, periodMs=1s, burst=20)" \\
    --traffic "daily(rate=115, durationMs=6h, periodMs=6h, clients=10000, skew=1, abusers=10)" \\
    --advise "maxRefusedShare=0.1%, percentile=99, maxPerWindow=1200, windowMs=1m" --html advice.html`;

/** flagError is the coded error of a bad flag value: the flag, the value and the fix. */
function flagError(flag: string, value: unknown, problem: string, fix: string): FloodgateTypeError {
  return new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate simulate: --${flag} ${value === undefined ? "" : `${describe(value)} `}${problem}; ${fix}.`,
  );
}

/** progressBar returns a progress callback drawing on a terminal, or undefined when stderr is not one. */
function progressBar(io: Io, label: string): { update(f: number): void; done(): void } | undefined {
  if (io.stderr.isTTY !== true) return undefined;
  const width = Math.max(10, Math.min(40, (io.stderr.columns ?? 80) - label.length - 12));
  let last = -1;
  let lastMs = 0;
  return {
    update(f: number) {
      const pct = Math.max(0, Math.min(100, Math.floor(f * 100)));
      const nowMs = Date.now();
      if (pct === last || (nowMs - lastMs < 100 && pct < 100)) return;
      last = pct;
      lastMs = nowMs;
      const filled = Math.round((pct / 100) * width);
      io.stderr.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(pct).padStart(3)}%`);
    },
    done() {
      io.stderr.write(`\r${" ".repeat(label.length + width + 10)}\r`);
    },
  };
}

function durationFlag(flags: Record<string, unknown>, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  let ms: number;
  try {
    ms = parseValue(`--${name}`, "valueMs", v as string);
  } catch {
    throw flagError(name, v, "is not a duration", "pass milliseconds or a duration such as 500ms, 10s, 1m, 1h");
  }
  if (!(ms > 0)) throw flagError(name, v, "must be above 0", "pass a duration such as 10s or 1m");
  return ms;
}

function formatOf(file: string, given: unknown): LogFormat {
  if (given !== undefined) {
    if (!LOG_FORMATS.includes(given as LogFormat)) {
      throw flagError("format", given, "is not a log format", `use one of ${LOG_FORMATS.join(", ")}`);
    }
    return given as LogFormat;
  }
  const base = file.replace(/\.gz$/, "");
  if (/\.(jsonl|ndjson)$/.test(base)) return "jsonl";
  if (/\.csv$/.test(base)) return "csv";
  throw flagError(
    "format",
    undefined,
    `is needed: the format of ${JSON.stringify(file)} cannot be told from its name`,
    `add --format with one of ${LOG_FORMATS.join(", ")}`,
  );
}

/** run is `floodgate simulate` (see FLAGS and --help). */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags("simulate", argv, FLAGS);
  if (flags.help === true) {
    io.stdout.write(helpText(USAGE, ABOUT, FLAGS, EXAMPLES));
    return 0;
  }
  const specs = (flags.policy as string[] | undefined) ?? [];
  if (specs.length === 0) {
    throw flagError(
      "policy",
      undefined,
      "is required",
      'pass at least one, such as --policy "tokenBucket(capacity=10, refillRate=2)"',
    );
  }
  const policies: SimPolicy[] = specs.map((s) => parsePolicySpec("simulate --policy", s));
  if ((flags.traffic === undefined) === (flags.log === undefined)) {
    throw flagError(
      flags.traffic === undefined ? "traffic" : "log",
      undefined,
      flags.traffic === undefined ? "or --log is required" : "cannot be used with --traffic",
      'pass either --traffic "poisson(rate=50, durationMs=10m)" or --log FILE',
    );
  }
  if (flags.format !== undefined && flags.log === undefined) {
    throw flagError("format", flags.format, "applies to --log only", "drop --format, or replay a log with --log FILE");
  }
  let traffic: Traffic;
  if (flags.traffic !== undefined) {
    const text = flags.traffic as string;
    try {
      traffic = generate(parseTrafficSpec("simulate --traffic", text));
    } catch (err) {
      throw rewrap("simulate --traffic", text, err);
    }
  } else {
    const file = flags.log as string;
    traffic = replay(file, { format: formatOf(file, flags.format) });
    try {
      statSync(file);
    } catch (err) {
      throw flagError(
        "log",
        file,
        `cannot be read (${(err as { code?: string }).code ?? String(err)})`,
        "check the path",
      );
    }
  }
  const chart = (flags.chart as string | undefined) ?? "traffic";
  if (!CHARTS.includes(chart as ChartName)) {
    throw flagError("chart", chart, "is not a chart", `use one of ${CHARTS.join(", ")}`);
  }
  if (flags.chart !== undefined && flags.svg === undefined) {
    throw flagError("chart", chart, "applies to --svg only", "add --svg FILE, or drop --chart");
  }
  let top: number | undefined;
  if (flags.top !== undefined) {
    top = Number(flags.top);
    if (!Number.isInteger(top) || top < 1)
      throw flagError("top", flags.top, "is not a whole number above 0", "pass a count such as 10");
  }
  let maxClients: number | undefined;
  if (flags["max-clients"] !== undefined) {
    maxClients = Number(flags["max-clients"]);
    if (!Number.isInteger(maxClients) || maxClients < 1) {
      throw flagError(
        "max-clients",
        flags["max-clients"],
        "is not a whole number above 0",
        "pass a count such as 250000",
      );
    }
  }
  const windowMs = durationFlag(flags, "window");
  const bucketMs = durationFlag(flags, "bucket");

  let advice: Advice | undefined;
  if (flags.advise !== undefined) {
    const goals = parseGoals("simulate --advise", flags.advise as string);
    let template: Policy;
    if (flags.template !== undefined) {
      template = parsePolicyCall("simulate --template", flags.template as string);
    } else {
      const first = (policies[0] as SimPolicy).policy;
      template = Array.isArray(first) ? (first[0] as Policy) : (first as Policy);
    }
    const bar = progressBar(io, "advising");
    try {
      advice = await advise({ traffic, template, goals, ...(bar ? { onProgress: bar.update } : {}) }).catch((err) => {
        throw rewrap("simulate --advise", flags.advise as string, err);
      });
    } finally {
      bar?.done();
    }
    if (advice.policy !== undefined)
      policies.push({ label: `advised: ${describePolicy(advice.policy)}`, policy: advice.policy });
  } else if (flags.template !== undefined) {
    throw flagError("template", flags.template, "applies to --advise only", "add --advise GOALS, or drop --template");
  }

  const bar = progressBar(io, "simulating");
  let report: Awaited<ReturnType<typeof simulate>>;
  try {
    report = await simulate({
      traffic,
      policies,
      ...(windowMs !== undefined ? { windowMs } : {}),
      ...(bucketMs !== undefined ? { bucketMs } : {}),
      ...(flags.watch !== undefined ? { watch: flags.watch as string } : {}),
      ...(top !== undefined ? { top } : {}),
      ...(maxClients !== undefined ? { maxClients } : {}),
      ...(bar ? { onProgress: bar.update } : {}),
    });
  } finally {
    bar?.done();
  }
  io.stdout.write(formatReport(report, advice));
  const title = flags.title as string | undefined;
  if (flags.json !== undefined) {
    writeFileSync(
      flags.json as string,
      `${JSON.stringify({ report, advice: advice && { ...advice, policy: advice.policy && describePolicy(advice.policy), tried: advice.tried.map((c) => ({ ...c, policy: describePolicy(c.policy) })) } }, null, 2)}\n`,
    );
    io.stdout.write(`wrote ${flags.json}\n`);
  }
  if (flags.html !== undefined) {
    writeFileSync(
      flags.html as string,
      await renderHtml(report, { ...(title ? { title } : {}), ...(advice ? { advice } : {}) }),
    );
    io.stdout.write(`wrote ${flags.html}\n`);
  }
  if (flags.svg !== undefined) {
    writeFileSync(flags.svg as string, await renderSvg(report, chart as ChartName, title));
    io.stdout.write(`wrote ${flags.svg}\n`);
  }
  return 0;
}
