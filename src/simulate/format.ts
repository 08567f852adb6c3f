// format.ts: a simulation report (and advice) as plain text, for a terminal.

import type { Advice } from "./advise.js";
import { describePolicy, type SimulationReport } from "./run.js";
import { duration, span } from "./units.js";

function n(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  return Number.isInteger(x) ? x.toLocaleString("en-US") : Number(x.toPrecision(4)).toLocaleString("en-US");
}

function share(part: number, whole: number): string {
  if (whole === 0) return "0%";
  const p = (part / whole) * 100;
  return `${p === 0 ? "0" : p < 0.01 ? p.toPrecision(2) : Number(p.toPrecision(3))}%`;
}

/** formatReport renders `report` (and `advice`, if any) as text: one block per policy. */
export function formatReport(report: SimulationReport, advice?: Advice): string {
  const t = report.traffic;
  const out: string[] = [];
  out.push(`traffic: ${t.description}`);
  out.push(
    `  ${n(t.requests)} requests (cost ${n(t.cost)}) from ${n(t.clients)} clients over ${span(Math.max(0, t.endMs - t.startMs))}; ${n(Math.round(report.decisionsPerSecond))} decisions/s`,
  );
  if (t.issues && t.issues.skipped > 0) {
    out.push(`  ${n(t.issues.skipped)} line${t.issues.skipped === 1 ? "" : "s"} skipped (not requests); the first:`);
    for (const e of t.issues.examples) out.push(`    line ${e.line}: ${e.reason}: ${e.text}`);
  }
  for (const p of report.policies) {
    const r = p.retryAfter;
    out.push("");
    out.push(p.label);
    out.push(
      `  admitted  ${n(p.requests.admitted)} of ${n(p.requests.offered)} requests (${share(p.requests.admitted, p.requests.offered)})`,
    );
    out.push(
      `  refused   ${n(p.requests.refused)} (${share(p.requests.refused, p.requests.offered)})${p.neverAdmissible > 0 ? `, ${n(p.neverAdmissible)} of them costing more than the limit` : ""}`,
    );
    out.push(
      `  clients   ${n(p.clients.refused)} of ${n(p.clients.seen)} refused at least once (${share(p.clients.refused, p.clients.seen)})${p.clients.exact ? "" : ", estimated"}`,
    );
    out.push(
      `  window    at most ${n(p.window.admitted)} admitted to one client in any ${duration(p.window.windowMs)}${p.window.key ? ` (${p.window.key})` : ""}; bound ${n(p.window.bound)}`,
    );
    if (r.count > 0) {
      out.push(
        `  retryAfterMs of refused: p50 ${n(r.p50Ms)}, p90 ${n(r.p90Ms)}, p99 ${n(r.p99Ms)}, max ${n(r.maxMs)}, mean ${n(r.meanMs)}`,
      );
    }
    if (p.limited.length > 0) {
      out.push("  most limited:");
      for (const l of p.limited) {
        out.push(
          `    ${l.key}  refused ${n(l.refused)}${l.error > 0 ? ` (+-${n(l.error)})` : ""}${l.offered !== undefined ? ` of ${n(l.offered)}` : ""}`,
        );
      }
    }
  }
  if (advice) {
    out.push("");
    out.push(`advice: ${advice.policy ? describePolicy(advice.policy) : "none"}`);
    out.push(`  ${advice.why}`);
    out.push(
      `  ordinary clients: ${n(advice.clients.ordinary)} of ${n(advice.clients.seen)} (at most ${n(advice.clients.threshold)} requests each); ${advice.tried.length} candidates in ${advice.passes} reads of the traffic`,
    );
  }
  return `${out.join("\n")}\n`;
}
