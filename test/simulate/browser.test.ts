// browser.test.ts: the HTML report opens in headless Chromium (Debian's package, no browser download) with no
// console errors and no network request, every chart drawn; a screenshot is kept in test/artifacts/.

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { expect, it } from "vitest";
import { fixedWindow, tokenBucket } from "../../src/index.js";
import { advise, CHARTS, generate, renderHtml, simulate } from "../../src/simulate/index.js";

const CHROMIUM = "/usr/bin/chromium";
const artifacts = resolve(import.meta.dirname, "../artifacts");

it("the HTML report draws every chart offline in headless Chromium", async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`).toBe(true);
  const traffic = generate({
    shape: "bursts",
    rate: 5,
    durationMs: 180_000,
    clients: 20,
    skew: 1,
    burstSize: 300,
    burstEveryMs: 60_000,
    burstLengthMs: 10_000,
    burstAtMs: 55_000,
    seed: 2,
  });
  const current = fixedWindow({ limit: 60, windowMs: 60_000 });
  const advice = await advise({ traffic, template: current, goals: { maxRefusedShare: 0.01, percentile: 90 } });
  const report = await simulate({
    traffic,
    policies: [
      tokenBucket({ capacity: 60, refillRate: 1 }),
      current,
      ...(advice.policy ? [{ label: "advised", policy: advice.policy }] : []),
    ],
    windowMs: 10_000,
  });
  // A key with markup must be shown as text, never run.
  const html = await renderHtml(report, {
    title: "floodgate <b>simulation</b> </script><script>window.bad=1</script>",
    advice,
  });
  mkdirSync(artifacts, { recursive: true });
  const page = join(artifacts, "simulate-report.html");
  writeFileSync(page, html);

  const profile = mkdtempSync(join(tmpdir(), "floodgate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const leaving: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:")) return route.continue();
      leaving.push(url);
      return route.abort();
    });
    const tab = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    tab.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    tab.on("pageerror", (e) => errors.push(String(e)));
    await tab.goto(pathToFileURL(page).href);
    await tab.waitForFunction((n) => document.querySelectorAll(".chart[data-drawn=true]").length === n, CHARTS.length, {
      timeout: 20_000,
    });
    const drawn = await tab.evaluate(() =>
      Array.from(document.querySelectorAll(".chart")).map((el) => {
        const svg = el.querySelector("svg");
        const box = svg?.getBoundingClientRect();
        return {
          chart: el.getAttribute("data-chart"),
          marks: svg ? svg.querySelectorAll("path, rect, line").length : 0,
          width: box?.width ?? 0,
          height: box?.height ?? 0,
        };
      }),
    );
    for (const d of drawn) {
      expect(d.marks, `${d.chart} marks`).toBeGreaterThan(10);
      expect(d.width, `${d.chart} width`).toBeGreaterThan(300);
      expect(d.height, `${d.chart} height`).toBeGreaterThan(100);
    }
    expect(drawn.map((d) => d.chart)).toEqual([...CHARTS]);
    expect(await tab.evaluate(() => (window as unknown as { bad?: number }).bad)).toBeUndefined();
    expect(await tab.title()).toBe("floodgate <b>simulation</b> </script><script>window.bad=1</script>");
    await tab.screenshot({ path: join(artifacts, "simulate-report.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(leaving).toEqual([]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}, 60_000);
