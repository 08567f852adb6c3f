#!/usr/bin/env node
// bin.ts: the executable behind `floodgate` (package.json "bin"): runs main() with this process's arguments.

import { main } from "./main.js";

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`floodgate: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
