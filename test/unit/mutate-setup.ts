// mutate-setup.ts: vitest setup under `npm run mutate` only (vitest.mutate.config.ts): fewer fast-check runs.
//
// Each property test runs once per mutant it covers, on instrumented code. 25 runs of a property (the default is
// 100) still reach the cases a mutant breaks in the properties here; tests that set numRuns keep theirs.
import fc from "fast-check";

fc.configureGlobal({ numRuns: 25 });
