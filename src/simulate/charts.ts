// charts.ts: Vega-Lite charts of a simulation, a self-contained HTML report, and SVG export (vega loaded lazily).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { FloodgateError, FloodgateTypeError } from "../core/errors.js";
import type { Advice } from "./advise.js";
import type { SimulationReport } from "./run.js";
import { duration, span } from "./units.js";

/** ChartName names the charts of a report. */
export type ChartName = "traffic" | "level" | "refusals" | "limited";

/** CHARTS lists the charts, in the order the HTML report shows them. */
export const CHARTS: readonly ChartName[] = ["traffic", "level", "refusals", "limited"];

/** VegaLiteSpec is a Vega-Lite specification, as plain JSON. */
export type VegaLiteSpec = Record<string, unknown>;

const WIDTH = 760;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

function colors(report: SimulationReport): { domain: string[]; range: string[] } {
  const domain = report.policies.map((p) => p.label);
  return { domain, range: domain.map((_, i) => PALETTE[i % PALETTE.length] as string) };
}

/** timeAxis is the x encoding of virtual time: UTC, so traffic generated from 0 reads as a clock from 00:00. */
function timeAxis(title: string): Record<string, unknown> {
  return {
    field: "t",
    type: "temporal",
    scale: { type: "utc" },
    title,
    axis: { format: "%H:%M:%S", labelOverlap: true },
  };
}

/**
 * chartSpec returns the Vega-Lite specification of one chart of `report`:
 * - "traffic": cost offered (grey) and admitted (a line per policy) per time bucket, one panel per policy;
 * - "level": the watched client's remaining quota over time, one line per policy;
 * - "refusals": the distribution of retryAfterMs over refused requests, one panel per policy;
 * - "limited": the clients refused most, per policy.
 * The data are inline, so the chart needs no network.
 */
export function chartSpec(report: SimulationReport, chart: ChartName, title?: string): VegaLiteSpec {
  const c = colors(report);
  const base = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: { font: "sans-serif", view: { stroke: "#ddd" }, axis: { labelFontSize: 11, titleFontSize: 12 } },
  };
  const per = duration(report.timeline.bucketMs);
  switch (chart) {
    case "traffic": {
      const values: Record<string, unknown>[] = [];
      for (const p of report.policies) {
        report.timeline.startMs.forEach((t, i) => {
          values.push({ policy: p.label, t, offered: report.timeline.offered[i], admitted: p.admittedSeries[i] ?? 0 });
        });
      }
      return {
        ...base,
        title: title ?? `Offered and admitted, per ${per}`,
        data: { values },
        facet: {
          row: {
            field: "policy",
            type: "nominal",
            title: null,
            sort: c.domain,
            header: {
              labelFontSize: 12,
              labelFontWeight: "bold",
              labelAngle: 0,
              labelAlign: "left",
              labelAnchor: "start",
              labelOrient: "top",
            },
          },
        },
        spec: {
          width: WIDTH,
          height: 150,
          layer: [
            {
              mark: { type: "area", interpolate: "step-after", color: "#bbb", opacity: 0.6 },
              encoding: {
                x: timeAxis("time (UTC)"),
                y: { field: "offered", type: "quantitative", title: `per ${per}` },
              },
            },
            {
              mark: { type: "line", interpolate: "step-after", strokeWidth: 1.6 },
              encoding: {
                x: timeAxis("time (UTC)"),
                y: { field: "admitted", type: "quantitative" },
                color: { field: "policy", type: "nominal", scale: c, legend: null },
                tooltip: [
                  { field: "t", type: "temporal", scale: { type: "utc" }, format: "%H:%M:%S.%L", title: "from" },
                  { field: "offered", type: "quantitative" },
                  { field: "admitted", type: "quantitative" },
                ],
              },
            },
          ],
        },
        resolve: { scale: { y: "shared" } },
      };
    }
    case "level": {
      const values: Record<string, unknown>[] = [];
      for (const p of report.policies)
        for (const [t, remaining] of p.level) values.push({ policy: p.label, t, remaining });
      return {
        ...base,
        title: title ?? `Remaining quota of client ${report.watch}`,
        width: WIDTH,
        height: 220,
        data: { values },
        mark: { type: "line", interpolate: "step-after", strokeWidth: 1.4, point: false },
        encoding: {
          x: timeAxis("time (UTC)"),
          y: { field: "remaining", type: "quantitative", title: "remaining" },
          color: {
            field: "policy",
            type: "nominal",
            scale: c,
            legend: { orient: "bottom", direction: "vertical", title: null, labelLimit: 700 },
          },
          tooltip: [
            { field: "policy" },
            { field: "t", type: "temporal", scale: { type: "utc" }, format: "%H:%M:%S.%L" },
            { field: "remaining" },
          ],
        },
      };
    }
    case "refusals": {
      const values: Record<string, unknown>[] = [];
      for (const p of report.policies) {
        for (const bin of binRetries(p.retryAfter.buckets)) values.push({ policy: p.label, ...bin });
        if (p.retryAfter.count === 0) values.push({ policy: p.label, from: 0, to: 1, count: 0 });
      }
      return {
        ...base,
        title: title ?? "retryAfterMs of refused requests",
        data: { values },
        facet: {
          row: {
            field: "policy",
            type: "nominal",
            title: null,
            sort: c.domain,
            header: {
              labelFontSize: 12,
              labelFontWeight: "bold",
              labelAngle: 0,
              labelAlign: "left",
              labelAnchor: "start",
              labelOrient: "top",
            },
          },
        },
        spec: {
          width: WIDTH,
          height: 110,
          mark: { type: "rect" },
          encoding: {
            x: { field: "from", type: "quantitative", title: "retryAfterMs" },
            x2: { field: "to" },
            y: { field: "count", type: "quantitative", title: "refused" },
            color: { field: "policy", type: "nominal", scale: c, legend: null },
            tooltip: [{ field: "from", title: "from ms" }, { field: "to", title: "to ms" }, { field: "count" }],
          },
        },
        resolve: { scale: { x: "independent", y: "independent" } },
      };
    }
    case "limited": {
      const values: Record<string, unknown>[] = [];
      for (const p of report.policies) {
        for (const l of p.limited)
          values.push({ policy: p.label, key: l.key, refused: l.refused, offered: l.offered ?? null });
        if (p.limited.length === 0) values.push({ policy: p.label, key: "(none refused)", refused: 0, offered: null });
      }
      return {
        ...base,
        title: title ?? "Most limited clients",
        data: { values },
        facet: {
          row: {
            field: "policy",
            type: "nominal",
            title: null,
            sort: c.domain,
            header: {
              labelFontSize: 12,
              labelFontWeight: "bold",
              labelAngle: 0,
              labelAlign: "left",
              labelAnchor: "start",
              labelOrient: "top",
            },
          },
        },
        spec: {
          width: WIDTH - 200,
          mark: { type: "bar" },
          encoding: {
            y: { field: "key", type: "nominal", sort: "-x", title: null, axis: { labelLimit: 200 } },
            x: { field: "refused", type: "quantitative", title: "refused requests" },
            color: { field: "policy", type: "nominal", scale: c, legend: null },
            tooltip: [{ field: "key" }, { field: "refused" }, { field: "offered" }],
          },
        },
        resolve: { scale: { y: "independent" } },
      };
    }
  }
}

/** binRetries groups histogram buckets into at most 40 bins of equal width for a chart. */
export function binRetries(
  buckets: readonly (readonly [number, number, number])[],
): { from: number; to: number; count: number }[] {
  if (buckets.length === 0) return [];
  const lo = (buckets[0] as readonly number[])[0] as number;
  const hi = ((buckets[buckets.length - 1] as readonly number[])[1] as number) + 1;
  const width = Math.max(1, Math.ceil((hi - lo) / 40));
  const bins = new Map<number, number>();
  for (const [from, to, count] of buckets) {
    const i = Math.floor(((from + to) / 2 - lo) / width);
    bins.set(i, (bins.get(i) ?? 0) + count);
  }
  return [...bins.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, count]) => ({ from: lo + i * width, to: lo + (i + 1) * width, count }));
}

/** VegaModule is the part of the vega package the charts use. */
interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (
    runtime: unknown,
    options: { renderer: string },
  ) => { toSVG(): Promise<string>; runAsync(): Promise<unknown>; finalize(): void };
}
/** VegaLiteModule is the part of the vega-lite package the charts use. */
interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}

let loaded: Promise<{ vega: VegaModule; vl: VegaLiteModule; vegaJs: () => string }> | undefined;

/** moduleBase is the file peers are resolved from: this module (ESM) or this bundle (CJS). */
function moduleBase(): string {
  return typeof __filename === "string" ? __filename : import.meta.url;
}

/**
 * loadCharting imports vega and vega-lite, the optional peers of the charts,
 * on first use only, so `import "floodgate/simulate"` costs nothing when no
 * chart is drawn. It rejects with ERR_MISSING_PEER when they are not installed.
 */
export function loadCharting(): Promise<{ vega: VegaModule; vl: VegaLiteModule; vegaJs: () => string }> {
  loaded ??= (async () => {
    let vega: VegaModule;
    let vl: VegaLiteModule;
    let vegaEntry: string;
    try {
      const require = createRequire(moduleBase());
      vegaEntry = require.resolve("vega");
      vega = (await import("vega")) as unknown as VegaModule;
      vl = (await import("vega-lite")) as unknown as VegaLiteModule;
    } catch (err) {
      loaded = undefined;
      throw new FloodgateError(
        "ERR_MISSING_PEER",
        "floodgate: charts need the optional peer dependencies vega and vega-lite; install them with `npm install vega vega-lite` (the numbers of a simulation need neither).",
        { cause: err },
      );
    }
    let js: string | undefined;
    return {
      vega,
      vl,
      // The browser build beside the module entry (vega's exports do not list it, so it is read by path).
      vegaJs: () => {
        js ??= readFileSync(join(dirname(vegaEntry), "vega.min.js"), "utf8");
        return js;
      },
    };
  })();
  return loaded;
}

/** renderSvg renders one chart of `report` to an SVG document, headlessly (vega's SVG renderer, no browser or canvas). */
export async function renderSvg(
  report: SimulationReport,
  chart: ChartName = "traffic",
  title?: string,
): Promise<string> {
  if (!CHARTS.includes(chart)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: renderSvg(chart) must be one of ${CHARTS.join(", ")}, got "${String(chart)}".`,
    );
  }
  const { vega, vl } = await loadCharting();
  const view = new vega.View(vega.parse(vl.compile(chartSpec(report, chart, title)).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** escapeHtml escapes text for HTML content and attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** scriptJson renders JSON safe to place inside a <script> element (no "</script>", no line separators). */
function scriptJson(x: unknown): string {
  return JSON.stringify(x)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "-∞";
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return Number(n.toPrecision(digits)).toLocaleString("en-US");
}

function pct(x: number): string {
  return `${x === 0 ? "0" : x < 0.0001 ? (x * 100).toPrecision(2) : fmt(x * 100)}%`;
}

/** HtmlOptions adds to the HTML report: a title and advice. */
export interface HtmlOptions {
  title?: string;
  advice?: Advice;
}

/**
 * renderHtml renders `report` as one self-contained HTML page: the numbers per
 * policy, and every chart drawn in the browser by vega, whose JavaScript is
 * inlined with the compiled specs and data. The page loads nothing from the
 * network and opens offline. Keys and log text are escaped.
 */
export async function renderHtml(report: SimulationReport, options: HtmlOptions = {}): Promise<string> {
  const { vl, vegaJs } = await loadCharting();
  const specs = CHARTS.map((name) => ({ name, spec: vl.compile(chartSpec(report, name)).spec }));
  const t = report.traffic;
  const title = options.title ?? "floodgate simulation";
  const rows = report.policies
    .map((p) => {
      const r = p.retryAfter;
      return `<tr><th>${escapeHtml(p.label)}</th><td>${fmt(p.requests.admitted)}</td><td>${fmt(p.requests.refused)} (${pct(p.requests.offered ? p.requests.refused / p.requests.offered : 0)})</td><td>${fmt(p.clients.refused)} of ${fmt(p.clients.seen)} (${pct(p.clients.share)})${p.clients.exact ? "" : " ≈"}</td><td>${fmt(p.window.admitted)} <span class="dim">(bound ${fmt(p.window.bound)})</span>${p.window.key ? ` <span class="dim">${escapeHtml(p.window.key)}</span>` : ""}</td><td>${fmt(r.p50Ms)} / ${fmt(r.p90Ms)} / ${fmt(r.p99Ms)} / ${fmt(r.maxMs)}</td></tr>`;
    })
    .join("\n");
  const limited = report.policies
    .map(
      (p) =>
        `<h3>${escapeHtml(p.label)}</h3>${
          p.limited.length === 0
            ? "<p>No client was refused.</p>"
            : `<table><tr><th>client</th><th>refused</th><th>offered</th></tr>${p.limited
                .map(
                  (l) =>
                    `<tr><td>${escapeHtml(l.key)}</td><td>${fmt(l.refused)}${l.error > 0 ? ` (±${fmt(l.error)})` : ""}</td><td>${l.offered === undefined ? "" : fmt(l.offered)}</td></tr>`,
                )
                .join("")}</table>`
        }`,
    )
    .join("\n");
  const issues = t.issues;
  const skipped =
    issues && issues.skipped > 0
      ? `<p>${fmt(issues.skipped)} line(s) of the log were skipped; the first:</p><ul>${issues.examples
          .map((e) => `<li>line ${e.line} (${escapeHtml(e.reason)}): <code>${escapeHtml(e.text)}</code></li>`)
          .join("")}</ul>`
      : "";
  const a = options.advice;
  const advice = a
    ? `<section id="advice"><h2>Advice</h2><p>${escapeHtml(a.why)}</p><p class="dim">Goals: refuse at most ${pct(a.goals.maxRefusedShare)} of the requests of clients at or below the ${a.goals.percentile}th percentile (${fmt(a.clients.ordinary)} of ${fmt(a.clients.seen)} clients, ${fmt(a.clients.threshold)} requests or fewer each)${Number.isFinite(a.goals.maxPerWindow) ? `; at most ${fmt(a.goals.maxPerWindow)} per ${duration(a.goals.windowMs)} to any client` : ""}. ${a.tried.length} candidates in ${a.passes} reads of the traffic.</p></section>`
    : "";
  const charts = specs
    .map((s) => `<figure><div class="chart" id="chart-${s.name}" data-chart="${s.name}"></div></figure>`)
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; } h3 { font-size: 14px; margin: 14px 0 4px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px; text-align: left; vertical-align: top; }
td { font-variant-numeric: tabular-nums; } .dim { color: #777; } figure { margin: 16px 0; } code { font-size: 12px; word-break: break-all; }
#advice { background: #f3f8ff; border: 1px solid #cfe0f7; padding: 4px 14px; border-radius: 6px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="dim">${escapeHtml(t.description)}: ${fmt(t.requests)} requests from ${fmt(t.clients)} clients over ${span(Math.max(0, t.endMs - t.startMs))}; ${fmt(report.decisionsPerSecond, 3)} decisions/s.</p>
${skipped}
${advice}
<h2>Per policy</h2>
<table>
<tr><th>policy</th><th>admitted</th><th>refused</th><th>clients ever refused</th><th>most to one client in ${duration(report.windowMs)}</th><th>retryAfterMs p50 / p90 / p99 / max</th></tr>
${rows}
</table>
<h2>Charts</h2>
${charts}
<h2>Most limited clients</h2>
${limited}
<script>${vegaJs().replace(/<\/script/gi, "<\\/script")}</script>
<script>
(function () {
  var specs = ${scriptJson(specs)};
  specs.forEach(function (s) {
    var el = document.getElementById("chart-" + s.name);
    var view = new vega.View(vega.parse(s.spec), { renderer: "svg", container: el, hover: true });
    view.runAsync().then(function () { el.setAttribute("data-drawn", "true"); });
  });
})();
</script>
</body>
</html>
`;
}
