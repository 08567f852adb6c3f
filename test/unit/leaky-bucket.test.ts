// leaky-bucket.test.ts: table tests of the leaky bucket meter beyond the shared vectors.

import { describe, expect, it } from "vitest";
import { leakyBucket } from "../../src/index.js";
import { no, ok, table } from "./table.js";

describe("leakyBucket", () => {
  // Regression (issue 8, defect 5): a clock stepped back made the bucket wait for its old time (lockout); it rebases.
  table(
    "after a clock jumps back, the bucket rebases to that time keeping its level",
    leakyBucket({ capacity: 2, leakRate: 1 }),
    [
      { step: 1, at: 10000, cost: 1, want: ok(1, 1000), why: "level 1" },
      {
        step: 2,
        at: 9000,
        cost: 1,
        want: ok(0, 2000),
        why: "back 1 s: rebased to 9000 with its level 1, plus 1; empty 2000 ms later (it said 3000: 1 s of lag first)",
      },
      {
        step: 3,
        at: 9000,
        cost: 1,
        want: no(0, 1000, 2000),
        why: "room for 1 after 1000 ms of draining (it said 2000)",
      },
      { step: 4, at: 10000, cost: 1, want: ok(0, 2000), why: "the room promised by step 3" },
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
