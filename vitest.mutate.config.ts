// vitest.mutate.config.ts: the tests `npm run mutate` (StrykerJS, stryker.config.mjs) runs against each mutant of src/core.
//
// Only the pure tests in test/unit: tables, vectors, property tests, validation, the queue, the Redis wire protocol
// without Redis. Not Redis, HTTP, runtimes or packing: they need servers, are slow, and reach src/core through the
// same code these tests cover. FLOODGATE_MUTATE shortens the longest loops (test/unit/budget.ts). Stryker sets its
// own pool, coverage and bail on top of this file.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    testTimeout: 60_000,
    env: { FLOODGATE_MUTATE: "1" },
  },
});
