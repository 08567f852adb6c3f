// bun.test.ts: floodgate's Web-standard entries and client on Bun (the `bun` npm package), over real HTTP.

import { afterAll, beforeAll, describe } from "vitest";
import { binary, listenedPort, type Running, start } from "./runtime.js";
import { runtimeSuite } from "./suite.js";

let bun: Running | undefined;
let base = "";

beforeAll(async () => {
  bun = start(binary("bun"), ["test/runtimes/fixtures/bun.mjs"], { env: { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" } });
  base = `http://127.0.0.1:${await listenedPort(bun, "bun")}`;
}, 60_000);

afterAll(async () => {
  await bun?.stop();
});

describe("Bun", () => {
  runtimeSuite("bun", { base: () => base, client: () => ({}) });
});
