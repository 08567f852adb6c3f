// budget.ts: how long the longest unit tests run: in full under `npm test`, shortened under `npm run mutate`.
//
// Under mutation testing (StrykerJS, vitest.mutate.config.ts sets FLOODGATE_MUTATE=1) each test runs once per
// mutant it covers, on instrumented code about five times slower, so a 3,000,000-step drift run would cost
// minutes per mutant. The short runs check the same exact formulas over fewer steps (chosen off and on the
// boundaries the same way); the full runs still guard long-horizon drift in `npm test`.

/** MUTATING is true inside `npm run mutate`. */
export const MUTATING = process.env.FLOODGATE_MUTATE === "1";

/** budget returns `full` normally and `short` under mutation testing. */
export function budget<T>(full: T, short: T): T {
  return MUTATING ? short : full;
}
