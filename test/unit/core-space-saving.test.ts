// core-space-saving.test.ts: SpaceSaving (src/core/space-saving.ts) against a model of the algorithm, step by step:
// a new key past capacity replaces a key holding the smallest count (any of them, on a tie) and inherits that count as
// its error; top(n) lists the n highest counts, ties by key. Found missing by mutation testing (`npm run mutate`,
// docs/architecture.md): the summary's guarantees (space-saving.test.ts) hold loosely enough that a min-heap that is
// not kept ordered (so a larger counter is replaced) or a top() that ignores n or ties passed them.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpaceSaving, type TopEntry } from "../../src/core/space-saving.js";

/** byCount orders entries as top() promises: count descending, then key ascending (UTF-16 order). */
const byCount = (a: TopEntry, b: TopEntry): number => b.count - a.count || (a.key < b.key ? -1 : 1);

/** check adds `adds` to a summary of capacity k and a model, comparing them after every step. */
function check(k: number, adds: readonly [string, number][]): void {
  const s = new SpaceSaving(k);
  const model = new Map<string, { count: number; error: number }>();
  let total = 0;
  for (const [step, [key, by]] of adds.entries()) {
    const where = `step ${step + 1}: add(${key}, ${by}) with capacity ${k}`;
    const min = Math.min(...[...model.values()].map((e) => e.count));
    s.add(key, by);
    total += by;
    const got = s.top(k + 1);
    const held = model.get(key);
    if (held) held.count += by;
    else if (model.size < k) model.set(key, { count: by, error: 0 });
    else {
      // The summary chose which key to replace: it must hold the smallest count.
      const gone = [...model.keys()].filter((m) => !got.some((e) => e.key === m));
      expect(gone.length, `${where}: exactly one key replaced`).toBe(1);
      const out = gone[0] as string;
      expect(model.get(out)?.count, `${where}: replaced ${out}, which must hold the smallest count ${min}`).toBe(min);
      model.delete(out);
      model.set(key, { count: min + by, error: min });
    }
    const want = [...model.entries()].map(([key, e]) => ({ key, ...e })).sort(byCount);
    expect(got, where).toEqual(want);
    expect([s.size, s.total], `${where}: size and total`).toEqual([model.size, total]);
  }
}

describe("SpaceSaving against a model, step by step", () => {
  it("a table: capacity 3, replacements take the smallest counter and inherit its count", () => {
    check(3, [
      ["a", 5], // step 1: a 5
      ["b", 1], // step 2: b 1
      ["c", 3], // step 3: c 3; full
      ["d", 1], // step 4: replaces b (1): d 2 (error 1)
      ["e", 1], // step 5: replaces d (2): e 3 (error 2)
      ["c", 4], // step 6: c 7, moves down the heap past e
      ["f", 2], // step 7: replaces e (3): f 5 (error 3); ties with a, listed by key
      ["a", 1], // step 8: a 6
      ["g", 1], // step 9: replaces f (5), not a (6) or c (7): g 6 (error 5)
    ]);
  });

  it("random streams with weights, ties and evictions", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 9 }).map((i) => `k${i}`),
            fc.integer({ min: 1, max: 3 }),
          ),
          {
            maxLength: 60,
          },
        ),
        (k, adds) => check(k, adds),
      ),
      { numRuns: 200 },
    );
  });

  it("top(n) lists the n highest counts, ties by key", () => {
    const s = new SpaceSaving(5);
    for (const [key, by] of [
      ["m", 2],
      ["b", 2],
      ["z", 4],
      ["a", 2],
      ["q", 1],
    ] as const)
      s.add(key, by);
    expect(s.top(3)).toEqual([
      { key: "z", count: 4, error: 0 },
      { key: "a", count: 2, error: 0 },
      { key: "b", count: 2, error: 0 },
    ]);
    expect(s.top(0)).toEqual([]);
    expect(s.top(9).map((e) => e.key)).toEqual(["z", "a", "b", "m", "q"]);
    expect(s.size).toBe(5);
  });
});
