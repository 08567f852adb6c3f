// bench-cluster-model.test.ts: the least-squares fit behind docs/redis.md's Cluster cost model recovers known costs.

import { describe, expect, it } from "vitest";
import { leastSquares } from "../../bench/cluster-model.js";

describe("bench/cluster-model.ts leastSquares", () => {
  it("recovers a + b/d + c(m-1) exactly from exact rows, whatever their order", () => {
    // Rows as the bench makes them: masters 1-3, decisions per call from 2 to 88.
    const rows: [number, number][] = [
      [1, 16],
      [1, 64],
      [2, 5.4],
      [2, 30],
      [3, 2.2],
      [3, 48],
      [1, 88],
      [2, 14],
    ];
    const xs = rows.map(([m, d]) => [1, 1 / d, m - 1]);
    const ys = rows.map(([m, d]) => 4.6 + 15 / d + 0.96 * (m - 1));
    const { beta, rms } = leastSquares(xs, ys);
    const [a, b, c] = beta as [number, number, number];
    expect(a, "a (µs per decision in a batch)").toBeCloseTo(4.6, 9);
    expect(b, "b (µs per script call)").toBeCloseTo(15, 9);
    expect(c, "c (µs per further master)").toBeCloseTo(0.96, 9);
    expect(rms).toBeLessThan(1e-9);
  });

  it("with noise, gives the least-squares line and its rms residual", () => {
    // A line through (0, 1), (1, 6), (2, 7), which no line fits exactly.
    const xs = [
      [1, 0],
      [1, 1],
      [1, 2],
    ];
    const ys = [1, 6, 7];
    const { beta, rms } = leastSquares(xs, ys);
    // Normal equations: [3 3; 3 5] beta = [14; 20] -> beta = [5/3, 3].
    expect(beta[0]).toBeCloseTo(5 / 3, 12);
    expect(beta[1]).toBeCloseTo(3, 12);
    // Residuals: 1 - 5/3 = -2/3, 6 - 14/3 = 4/3, 7 - 23/3 = -2/3; rms = sqrt((4/9 + 16/9 + 4/9) / 3).
    expect(rms).toBeCloseTo(Math.sqrt(24 / 27), 12);
  });
});
