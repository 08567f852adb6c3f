// table.ts: the step-table helpers the per-algorithm table tests share.

import { expect, it } from "vitest";
import type { Policy } from "../../src/index.js";
import { describeStep, replayTable, type Step } from "../vectors/load.js";

/** table registers a test that replays `rows` against `policy` and checks each step's `want`. */
export function table(name: string, policy: Policy, rows: Step[]): void {
  it(name, () => {
    for (const { step, got } of replayTable([policy], rows)) {
      expect(
        got,
        `${describeStep(step)} = ${JSON.stringify(got)} want ${JSON.stringify(step.want)} (${step.why})`,
      ).toEqual(step.want);
    }
  });
}

/** ok is the want of an admitted step. */
export const ok = (remaining: number, resetAfterMs: number) => ({
  allowed: true,
  remaining,
  retryAfterMs: 0,
  resetAfterMs,
});

/** no is the want of a denied step. */
export const no = (remaining: number, retryAfterMs: number, resetAfterMs: number) => ({
  allowed: false,
  remaining,
  retryAfterMs,
  resetAfterMs,
});
