// prepare.mjs: npm's `prepare` step: builds dist/ so floodgate works when installed from a folder or a git URL.
//
// npm runs `prepare` after `npm install` / `npm ci` in a clone, before `npm pack` / `npm publish`, when a git
// dependency is installed (after npm installed its dev dependencies in a temporary clone), and when a folder is
// installed (`npm install ../floodgate`, linked or with --install-links). A registry install never runs it: the
// published tarball already holds dist/.
//
// A folder whose dev dependencies are not installed cannot build: if it has a dist/ already, that one is kept;
// if not, this says what to run instead of failing with "tsup: not found". Plain JavaScript: tsx is a dev
// dependency too.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "index.js");

/** tsupCli is the path of tsup's command-line entry, or undefined when tsup is not installed. */
function tsupCli() {
  try {
    const manifest = createRequire(join(root, "package.json")).resolve("tsup/package.json");
    return join(dirname(manifest), JSON.parse(readFileSync(manifest, "utf8")).bin.tsup);
  } catch {
    return undefined;
  }
}

const cli = tsupCli();
if (cli === undefined) {
  if (existsSync(built)) {
    console.log(`floodgate prepare: tsup is not installed in ${root}; keeping the dist/ that is there.`);
    process.exit(0);
  }
  console.error(
    `floodgate prepare: cannot build dist/: the dev dependencies are not installed in ${root}.\n` +
      `Run \`npm ci\` in ${root} (it builds dist/), then install the folder again.`,
  );
  process.exit(1);
}
const run = spawnSync(process.execPath, [cli], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);
