// client-example.test.ts: examples/client.ts (the docs/client.md tour) runs and stays under every server limit.

import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

it("examples/client.ts: each recipe gets only 200s and the servers refuse nothing", () => {
  // The tour paces real requests to servers it starts itself (a few seconds of real time by design).
  const out = execFileSync(process.execPath, ["--import", "tsx", "examples/client.ts"], {
    cwd: root,
    encoding: "utf8",
    timeout: 30_000,
  });
  const refused = [...out.matchAll(/the server refused (\d+)/g)].map((m) => Number(m[1]));
  expect(refused, out).toEqual([0, 0]);
  expect(out, out).toMatch(/^Crawler: 12 pages/m);
  expect(out).not.toMatch(/-> [^\n]*\b(429|503)\b/);
});
