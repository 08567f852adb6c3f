// cluster-model.ts: fits a cost model to bench/cluster.ts samples (BENCH_JSON), for the sizing in docs/redis.md.
//
// Run: node --import tsx bench/cluster-model.ts samples.json [more.json ...]
//      (samples from BENCH_CONCURRENCY=16,64,256 BENCH_JSON=samples.json node --expose-gc --import tsx bench/cluster.ts)
//
// For each of floodgate's rows (by client) it fits, by least squares over every
// sample (d = decisions per script call, m = masters):
//   Node CPU µs per decision  = a + b / d + c (m - 1)
//   Redis CPU µs per decision = a + b / d + c (m - 1)   (all masters together)
// so a is the cost of a decision inside a batch, b the cost of a script call, and
// c what each further master adds. The kernel's part (sys) is fitted the same way.
// rate-limiter-flexible's rows (one command per decision) are printed as medians.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Sample is what bench/cluster.ts writes per row and round (the fields used here). */
interface Sample {
  name: string;
  masters: number;
  concurrency: number;
  decisions: number;
  scriptCalls: number;
  redisUsPerDecision: number[];
  redisSysUsPerDecision: number;
  nodeUsPerDecision: number;
  nodeSysUsPerDecision: number;
}

/** leastSquares solves least squares y ~ X beta (normal equations, Gaussian elimination); returns beta and the RMS residual. */
export function leastSquares(xs: number[][], ys: number[]): { beta: number[]; rms: number } {
  const k = (xs[0] as number[]).length;
  const a = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  xs.forEach((x, r) => {
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++)
        (a[i] as number[])[j] = ((a[i] as number[])[j] as number) + (x[i] as number) * (x[j] as number);
      (a[i] as number[])[k] = ((a[i] as number[])[k] as number) + (x[i] as number) * (ys[r] as number);
    }
  });
  for (let i = 0; i < k; i++) {
    let p = i;
    for (let r = i + 1; r < k; r++)
      if (Math.abs((a[r] as number[])[i] as number) > Math.abs((a[p] as number[])[i] as number)) p = r;
    [a[i], a[p]] = [a[p] as number[], a[i] as number[]];
    const row = a[i] as number[];
    for (let r = 0; r < k; r++) {
      if (r === i) continue;
      const other = a[r] as number[];
      const f = (other[i] as number) / (row[i] as number);
      for (let j = i; j <= k; j++) other[j] = (other[j] as number) - f * (row[j] as number);
    }
  }
  const beta = a.map((row, i) => (row[k] as number) / (row[i] as number));
  const res = xs.map((x, r) => (ys[r] as number) - x.reduce((s, v, i) => s + v * (beta[i] as number), 0));
  return { beta, rms: Math.sqrt(res.reduce((s, e) => s + e * e, 0) / res.length) };
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** main prints the fits and medians of the samples in the files named on the command line. */
function main(): void {
  const samples: Sample[] = process.argv
    .slice(2)
    .flatMap((f) => (JSON.parse(readFileSync(f, "utf8")) as { samples: Sample[] }).samples);
  const total = (s: Sample): number => s.redisUsPerDecision.reduce((a, b) => a + b, 0);
  const d = (s: Sample): number => s.decisions / Math.max(1, s.scriptCalls);
  const base = (name: string): string => name.replace(/ c=\d+$/, "");

  for (const client of ["ioredis", "node-redis"]) {
    const rows = samples.filter((s) => base(s.name).startsWith("floodgate") && base(s.name).includes(`${client} `));
    if (rows.length < 4) continue;
    const xs = rows.map((s) => [1, 1 / d(s), s.masters - 1]);
    const line = (label: string, y: (s: Sample) => number): string => {
      const { beta, rms } = leastSquares(xs, rows.map(y));
      const [a, b, c] = beta as [number, number, number];
      return `${label} = ${a.toFixed(2)} + ${b.toFixed(1)} / d + ${c.toFixed(2)} (m - 1) µs   (rms residual ${rms.toFixed(2)})`;
    };
    console.log(
      `floodgate, ${client} (${rows.length} samples, d ${Math.min(...rows.map(d)).toFixed(1)}-${Math.max(...rows.map(d)).toFixed(1)}):`,
    );
    console.log(`  ${line("Node CPU", (s) => s.nodeUsPerDecision)}`);
    console.log(`  ${line("  of it sys", (s) => s.nodeSysUsPerDecision)}`);
    console.log(`  ${line("Redis CPU", total)}`);
    console.log(`  ${line("  of it sys", (s) => s.redisSysUsPerDecision)}`);
  }

  console.log(
    "\nmedians per row (masters, concurrency): d, Node µs (sys), Redis µs all masters (sys), busiest master µs",
  );
  const keys = [...new Set(samples.map((s) => `${s.name}|${s.masters}`))];
  for (const k of keys) {
    const rs = samples.filter((s) => `${s.name}|${s.masters}` === k);
    const s0 = rs[0] as Sample;
    const m = (f: (s: Sample) => number): string => median(rs.map(f)).toFixed(2);
    console.log(
      `  ${s0.masters} masters, ${s0.name}: d ${m(d)}, Node ${m((s) => s.nodeUsPerDecision)} (${m((s) => s.nodeSysUsPerDecision)}), Redis ${m(total)} (${m((s) => s.redisSysUsPerDecision)}), busiest ${m((s) => Math.max(...s.redisUsPerDecision))}`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
