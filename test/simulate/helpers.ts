// helpers.ts: shared helpers of the simulator tests: reading traffic into arrays, and Poisson tolerances.

import type { Traffic } from "../../src/simulate/index.js";

/** Req is one request read back from a Traffic. */
export interface Req {
  timeMs: number;
  key: string;
  cost: number;
}

/** readAll reads every request of `traffic` into plain objects (small traces only). */
export async function readAll(traffic: Traffic): Promise<Req[]> {
  const out: Req[] = [];
  for await (const b of traffic.batches()) {
    for (let i = 0; i < b.length; i++)
      out.push({ timeMs: b.timeMs[i] as number, key: b.key[i] as string, cost: b.cost[i] as number });
  }
  return out;
}

/**
 * Z is how many standard deviations a count may stray from its mean in these
 * tests: 5 sigma, a false alarm about once in 1.7 million checks, whatever the seed.
 */
export const Z = 5;

/** poissonOk reports whether `count` is within Z standard deviations of a Poisson count of mean `mean`. */
export function poissonOk(count: number, mean: number): boolean {
  return Math.abs(count - mean) <= Z * Math.sqrt(mean);
}

/** binomialOk reports whether `count` of `n` trials of probability `p` is within Z standard deviations of n*p. */
export function binomialOk(count: number, n: number, p: number): boolean {
  return Math.abs(count - n * p) <= Z * Math.sqrt(n * p * (1 - p)) + 1e-9;
}
