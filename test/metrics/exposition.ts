// exposition.ts: reads a prom-client scrape for the metric tests: the text format through parse-prometheus-text-format, OpenMetrics through a strict reader of its grammar.

// @ts-expect-error: parse-prometheus-text-format ships no types; its output is typed below.
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** Family is one metric family as parse-prometheus-text-format returns it (values are strings). */
export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

/**
 * parseText parses the Prometheus text exposition format with
 * parse-prometheus-text-format, an independent reader. (It loses the labels, sum
 * and count of a labelled histogram whose `le` comes first, as prom-client writes
 * it: read those with parseOpenMetrics(text, "text").)
 */
export function parseText(text: string): Family[] {
  return (parsePrometheusTextFormat as (t: string) => Family[])(text);
}

/** Sample is one line of values: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** value returns the value of the sample named `name` with exactly `labels` in a parsed text scrape, or undefined. */
export function value(families: Family[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const m of f.metrics) {
      const same = JSON.stringify(sorted(m.labels ?? {})) === JSON.stringify(sorted(labels));
      if (f.name === name && same && m.value !== undefined) return Number(m.value);
      if (m.count !== undefined && same && name === `${f.name}_count`) return Number(m.count);
      if (m.sum !== undefined && same && name === `${f.name}_sum`) return Number(m.sum);
    }
  }
  return undefined;
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
}

/** TEXT_SUFFIXES are the sample suffixes of the text format (a counter family is named with its _total). */
const TEXT_SUFFIXES: Record<string, readonly string[]> = {
  counter: [""],
  gauge: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};
const SUFFIXES: Record<string, readonly string[]> = {
  counter: ["_total", "_created"],
  gauge: [""],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  summary: ["", "_sum", "_count", "_created"],
};
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

/**
 * parseOpenMetrics reads an OpenMetrics 1.0 text exposition strictly: every
 * sample belongs to the family declared by the last `# TYPE` with a suffix its
 * type allows (a counter's samples end in `_total`), label sets are well formed,
 * and the text ends with one `# EOF`. It throws on anything else. With
 * `format` "text" it reads the Prometheus text format by the same rules (blank
 * lines allowed, no # EOF, a counter family named with its `_total`).
 */
export function parseOpenMetrics(
  text: string,
  format: "openmetrics" | "text" = "openmetrics",
): { families: Map<string, string>; samples: Sample[] } {
  const om = format === "openmetrics";
  const table = om ? SUFFIXES : TEXT_SUFFIXES;
  let lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (om) {
    if (lines.at(-1) !== "# EOF") throw new Error("OpenMetrics: the exposition must end with # EOF");
    lines.pop();
  } else {
    lines = lines.filter((l) => l !== "");
  }
  const families = new Map<string, string>();
  const samples: Sample[] = [];
  let family: string | undefined;
  for (const [i, line] of lines.entries()) {
    if (line === "") throw new Error(`OpenMetrics: line ${i + 1} is empty`);
    if (line.startsWith("#")) {
      const m = /^# (TYPE|HELP|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
      if (m === null) throw new Error(`OpenMetrics: line ${i + 1} is not a descriptor: ${line}`);
      if (m[1] === "TYPE") {
        if (families.has(m[2] as string)) throw new Error(`OpenMetrics: family ${m[2]} declared twice`);
        if (!((m[3] ?? "") in table)) throw new Error(`OpenMetrics: unknown type ${m[3]}`);
        families.set(m[2] as string, m[3] as string);
        family = m[2];
      }
      continue;
    }
    const s = SAMPLE.exec(line);
    if (s === null || family === undefined) throw new Error(`OpenMetrics: line ${i + 1} is not a sample: ${line}`);
    const name = s[1] as string;
    const type = families.get(family) as string;
    const suffix = name.startsWith(family) ? name.slice(family.length) : undefined;
    if (suffix === undefined || !(table[type] ?? []).includes(suffix)) {
      throw new Error(`OpenMetrics: sample ${name} does not belong to the ${type} family ${family}`);
    }
    const labels: Record<string, string> = {};
    const body = s[3] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (l === null) throw new Error(`OpenMetrics: bad labels in ${line}`);
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const v = s[4] as string;
    const value = v === "+Inf" ? Number.POSITIVE_INFINITY : v === "-Inf" ? Number.NEGATIVE_INFINITY : Number(v);
    if (Number.isNaN(value) && v !== "NaN") throw new Error(`OpenMetrics: bad value in ${line}`);
    samples.push({ name, labels, value });
  }
  return { families, samples };
}
