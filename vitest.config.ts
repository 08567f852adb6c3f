import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // One fixed fast-check seed unless FLOODGATE_FC_SEED says otherwise (see the file).
    setupFiles: ["./test/fast-check-seed.ts"],
    // The default output, then one plain closing line that CI can read.
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
