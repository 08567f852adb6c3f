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
  // Requests 11-14 and 18 are 429 unless the machine stalls for 500 ms mid-burst (a token refills):
  // the assertions pin what the demo promises and nothing a slow machine could flip.
  expect(statuses.length, out).toBe(18);
  expect(statuses.slice(0, 10), out).toEqual(Array(10).fill(200));
  expect([statuses[10], statuses[14]], out).toEqual([429, 200]);
  expect(out).toMatch(/request 11: 429 .*Retry-After: 1/);
  expect(out).toMatch(/request 10: 200 .*RateLimit: "demo";r=0;t=1/);
});
