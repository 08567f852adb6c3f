// deno.test.ts: floodgate's Web-standard entries and client on Deno (the `deno` npm package), over real HTTP.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { binary, listenedPort, type Running, root, start } from "./runtime.js";
import { runtimeSuite } from "./suite.js";

let deno: Running | undefined;
let base = "";
const cache = mkdtempSync(join(tmpdir(), "floodgate-deno-"));

beforeAll(async () => {
  // Loopback only, read access to the repository (dist/ and node_modules/hono), no lock file, a scratch cache.
  deno = start(
    binary("deno"),
    [
      "run",
      "--no-prompt",
      "--no-lock",
      "--allow-net=127.0.0.1",
      `--allow-read=${root}`,
      "test/runtimes/fixtures/deno.mjs",
    ],
    { env: { DENO_DIR: cache, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } },
  );
  base = `http://127.0.0.1:${await listenedPort(deno, "deno")}`;
}, 60_000);

afterAll(async () => {
  await deno?.stop();
  rmSync(cache, { recursive: true, force: true });
});

describe("Deno", () => {
  runtimeSuite("deno", { base: () => base, client: () => ({}) });
});
