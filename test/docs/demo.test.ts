// demo.test.ts: the README's first command (npm run demo) shows ten 200s, then 429s with Retry-After, then 200s.

import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

it("the demo's burst turns 200s into 429s and back after the refill", () => {
  // The demo waits for the real Retry-After (about 1.5 s): it is the one place a real clock is the point.
  const out = execFileSync(process.execPath, ["--import", "tsx", "examples/demo.ts"], {
    cwd: root,
    encoding: "utf8",
    timeout: 20_000,
  });
  const statuses = [...out.matchAll(/^request\s+\d+: (\d{3})/gm)].map((m) => Number(m[1]));
  expect(statuses, out).toEqual([
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 200, 200, 200, 429,
  ]);
  expect(out).toMatch(/request 11: 429 .*Retry-After: 1/);
  expect(out).toMatch(/request 10: 200 .*RateLimit: "demo";r=0;t=1/);
});
