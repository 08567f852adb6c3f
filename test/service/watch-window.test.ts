// watch-window.test.ts: `floodgate serve` (in process) sees a configuration change saved after its first read
// and before its file watch starts. Regression: the service read the configuration, started its servers, then
// started fs.watch; a change saved in between was not applied until the next change or SIGHUP.

import { afterAll, describe, expect, it } from "vitest";
import { startService } from "../../src/service/serve.js";
import { tempDir } from "./helpers.js";

// `replaces` naming no rule loads with a warning: the service logs it right after its first read and before it
// starts anything, which is where this test saves the change (inside the window, deterministically).
const limits = (n: number) => `
domain: api
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: ${n}, name: per-user, replaces: [{ name: nobody }] }
`;

const tmp = tempDir("watch-window");
afterAll(() => tmp.remove());

describe("serve: a change saved while the service starts", () => {
  it("is applied once the watch runs, with no further change", async () => {
    const file = tmp.write("limits.yaml", limits(3));
    const logs: { level: string; msg: string }[] = [];
    let saved = false;
    let onReload: () => void = () => {};
    const reloaded = new Promise<void>((r) => {
      onReload = r;
    });
    const svc = await startService({
      config: [file],
      host: "127.0.0.1",
      grpcPort: -1,
      httpPort: 0,
      log: (level, msg) => {
        logs.push({ level, msg });
        if (!saved && level === "warn" && msg.includes("names no rule")) {
          saved = true;
          tmp.write("limits.yaml", limits(5));
        }
        if (msg.startsWith("reloaded")) onReload();
      },
    });
    try {
      expect(saved).toBe(true);
      // Bounded: the fix reloads as soon as the watch is set; without it nothing ever reloads.
      const outcome = await Promise.race([
        reloaded.then(() => "reloaded"),
        new Promise((r) => setTimeout(() => r("no reload within 5 s"), 5_000).unref()),
      ]);
      expect(outcome, JSON.stringify(logs)).toBe("reloaded");
      const rule = [...svc.decider.config.domains.get("api")!.rules][0];
      expect(rule?.requestsPerUnit).toBe(5);
    } finally {
      await svc.close(0);
    }
  });
});
