// vitest.mutate.config.ts: the tests `npm run mutate` (StrykerJS, stryker.config.mjs) runs against each mutant of src/core.
//
// Only the pure tests in test/unit that are about src/core: tables, vectors, property tests, validation, the
// descriptors and the Redis wire protocol without Redis (it reads the descriptors). Not the wait queue, acquire or
// the memory store's bounds (they test src/queue.ts, src/limiter.ts and src/stores), and not Redis, HTTP, runtimes
// or packing: they need servers, are slow, and reach src/core through the same code these tests cover.
// FLOODGATE_MUTATE shortens the longest loops (test/unit/budget.ts) and mutate-setup.ts lowers fast-check's default
// runs. Files run small and focused first, so that Stryker, which stops a mutant at its first failing test, stops
// early. Stryker sets its own pool (one thread), coverage and bail on top of this file.

import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** FIRST orders the files: tables and vectors, then the descriptor and helper tables, then the properties. */
const FIRST = [
  "fixed-window",
  "sliding-log",
  "sliding-window",
  "leaky-bucket",
  "gcra",
  "token-bucket",
  "exact-waits",
  "vectors",
  "descriptors",
  "core-",
  "validation",
  "properties",
  "redis-protocol",
];

const rank = (id: string): number => {
  const name = id.slice(id.lastIndexOf("/") + 1);
  const i = FIRST.findIndex((prefix) => name.startsWith(prefix));
  return i < 0 ? FIRST.length : i;
};

class FocusedFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a.moduleId) - rank(b.moduleId) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    exclude: ["test/unit/queue.test.ts", "test/unit/acquire.test.ts", "test/unit/memory-store-bounds.test.ts"],
    testTimeout: 60_000,
    env: { FLOODGATE_MUTATE: "1" },
    setupFiles: ["test/unit/mutate-setup.ts"],
    sequence: { sequencer: FocusedFirst },
    // One module graph for every test file of a run: about twice as fast per mutant. Static mutants need each
    // file loaded afresh, so a run that includes them (FLOODGATE_MUTATE_STATIC=1) isolates files again.
    isolate: process.env.FLOODGATE_MUTATE_STATIC === "1",
  },
});
