import { defineConfig } from "tsup";

// Every public subpath is an entry; package.json "exports" maps each to its ESM and CJS files.
export const entries = {
  index: "src/index.ts",
};

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: true,
  treeshake: true,
  outDir: "dist",
});
