// leaky-bucket.test.ts: table tests of the leaky bucket meter beyond the shared vectors.

import { describe, expect, it } from "vitest";
import { leakyBucket } from "../../src/index.js";
import { no, ok, table } from "./table.js";

describe("leakyBucket", () => {
  // Regression: after a clock went backwards, retryAfterMs/resetAfterMs ignored the time until draining resumes.
  table(
    "after a clock jumps back, waits count from the time draining resumes",
    leakyBucket({ capacity: 2, leakRate: 1 }),
    [
      { step: 1, at: 10000, cost: 1, want: ok(1, 1000), why: "level 1" },
      {
        step: 2,
        at: 9000,
        cost: 1,
        want: ok(0, 3000),
        why: "back 1 s: no drain; level 2 empties 1 s + 2 s from this clock",
      },
      { step: 3, at: 9000, cost: 1, want: no(0, 2000, 3000), why: "draining resumes at 10000; room for 1 at 11000" },
      { step: 4, at: 11000, cost: 1, want: ok(0, 2000), why: "the room promised by step 3" },
    ],
  );

  table(
    "never admits a burst larger than its size, however long it idled",
    leakyBucket({ capacity: 3, leakRate: 100 }),
    [
      { step: 1, at: 0, op: "peek", want: ok(3, 0), why: "a fresh bucket is empty" },
      { step: 2, at: 1000000000, cost: 3, want: ok(0, 30), why: "3 units drain in 30 ms at 100 per second" },
      { step: 3, at: 1000000000, cost: 1, want: no(0, 10, 30), why: "full: the next unit fits in 10 ms" },
      { step: 4, at: 1000000015, cost: 2, want: no(1, 5, 15), why: "1.5 drained: one unit of room, two wanted" },
      { step: 5, at: 1000000020, cost: 2, want: ok(0, 30), why: "2 drained" },
    ],
  );

  it("describes itself", () => {
    const p = leakyBucket({ capacity: 10, leakRate: 4, name: "meter" });
    expect([p.kind, p.name, p.limit, p.windowMs, p.stateSize]).toEqual(["leakyBucket", "meter", 10, 2500, 2]);
    expect(leakyBucket({ capacity: 10, leakRate: 4 }).name).toBe("leaky-bucket");
    expect(Object.isFrozen(p)).toBe(true);
  });
});
