// base.ts: another revision of floodgate's source, loaded beside the current one, for A/B benches (BENCH_BASE).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** ROOT is the repository the benches run in. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Base is floodgate at another revision: its main and Redis entry points, a label for rows, and a cleanup. */
export interface Base {
  /** label names the revision in a row: "[base 1a2b3c4]". */
  label: string;
  main: typeof import("../src/index.js");
  redis: typeof import("../src/stores/redis/index.js");
  cleanup(): void;
}

/**
 * loadBase extracts src/ (with package.json and tsconfig.json) at git revision `rev`
 * into a temp directory, links node_modules, and imports it from source (tsx): a
 * second, independent copy of floodgate in this process.
 */
export async function loadBase(rev: string): Promise<Base> {
  const sha = execFileSync("git", ["rev-parse", "--verify", `${rev}^{commit}`], { cwd: ROOT })
    .toString()
    .trim();
  const dir = mkdtempSync(join(tmpdir(), "fg-base-"));
  const tar = execFileSync("git", ["archive", sha, "src", "package.json", "tsconfig.json"], {
    cwd: ROOT,
    maxBuffer: 1 << 30,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const main = (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as typeof import("../src/index.js");
  const redis = (await import(
    pathToFileURL(join(dir, "src", "stores", "redis", "index.ts")).href
  )) as typeof import("../src/stores/redis/index.js");
  return {
    label: `[base ${sha.slice(0, 7)}]`,
    main,
    redis,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
