// stryker.config.mjs: mutation testing of src/core (`npm run mutate`; not part of `npm test` or CI).
//
// Each mutant of src/core/**/*.ts is run against the pure tests in vitest.mutate.config.ts; only the
// tests that cover the mutant run (perTest coverage). The score and the survivors we accept are in
// docs/architecture.md, "Mutation testing". Reports land in reports/mutation/ (git-ignored).
// `npm run mutate -- --incremental` reuses reports/mutation/mutation.incremental.json between runs.
// Static mutants (code run when a module or a test file loads, such as the descriptors and the policies tables
// build at collection time) run the whole suite each, so they are skipped unless FLOODGATE_MUTATE_STATIC=1.

// On a busy machine a whole run takes hours: FLOODGATE_MUTATE_RUN=<name> with `--mutate <files>` names that
// run's JSON report and incremental file (reports/mutation/<name>.json), so files can be run one at a time.
const run = process.env.FLOODGATE_MUTATE_RUN ?? "mutation";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts", related: false },
  mutate: ["src/core/**/*.ts"],
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 5_000,
  tempDirName: ".stryker-tmp",
  incrementalFile: `reports/mutation/${run}.incremental.json`,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/${run}.html` },
  jsonReporter: { fileName: `reports/mutation/${run}.json` },
  clearTextReporter: { allowColor: false, logTests: false },
  thresholds: { high: 95, low: 90, break: null },
  ignoreStatic: process.env.FLOODGATE_MUTATE_STATIC !== "1",
  // Stryker prepends `// @ts-nocheck` to the files it matches here (by default every file under src/ and test/),
  // which made the generated-file staleness check (service-config.test.ts: src/service/proto.generated.ts)
  // fail the initial run. Only the mutated files need it.
  disableTypeChecks: "src/core/**/*.ts",
};
