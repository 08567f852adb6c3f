// simulate.ts: simulated decisions per second (floodgate/simulate) against applyPolicy and consumeSync in bare loops,
// and the time of a day of traffic for 10,000 clients (about 10 million requests).
//
// Run: node --expose-gc --import tsx bench/simulate.ts        (writes bench/results/simulate.md)
//
// One trace of 500,000 requests from 10,000 clients (Poisson, Zipf skew 1, seed 1) is generated once into
// arrays. Three contestants decide it with the same token bucket, in one process, interleaved (A, B, C, then
// again with the first rotated) for ROUNDS rounds; the median round is reported:
// - simulate(): the whole simulator over the pre-generated trace (report, charts' series, window maxima, top-k);
// - consumeSync loop: RateLimiter.consumeSync with an injected clock, nothing measured;
// - applyPolicy loop: the pure, allocating front, with each key's state kept in a Map.
// Then one run each of simulate() over generate({ shape: "daily", ... }) (about 10 million requests,
// generation included) with one policy and with two; and one replay of about 1 GiB of combined access log
// (6.2 million lines made on the fly, nearly every line a new host: the worst case for client tracking,
// 1% junk lines), streamed through two policies, with the peak RSS sampled as lines are made.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { applyPolicy, fixedWindow, RateLimiter, tokenBucket } from "../src/index.js";
import { type Batch, generate, replay, simulate, type Traffic } from "../src/simulate/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROUNDS = 9;
const TRACE = 500_000;
const policy = tokenBucket({ capacity: 20, refillRate: 0.5 });

/** trace generates the benchmark trace into plain arrays. */
async function trace(): Promise<{ timeMs: Float64Array; key: string[] }> {
  const t = generate({
    shape: "poisson",
    rate: TRACE / 3600,
    durationMs: 3_600_000,
    clients: 10_000,
    skew: 1,
    seed: 1,
  });
  const timeMs: number[] = [];
  const key: string[] = [];
  for await (const b of t.batches()) {
    for (let i = 0; i < b.length; i++) {
      timeMs.push(b.timeMs[i] as number);
      key.push(b.key[i] as string);
    }
  }
  return { timeMs: Float64Array.from(timeMs), key };
}

/** arrayTraffic is Traffic over arrays already in memory (so generation is not timed). */
function arrayTraffic(tr: { timeMs: Float64Array; key: string[] }): Traffic {
  return {
    description: "pre-generated",
    *batches() {
      const size = 8192;
      for (let from = 0; from < tr.key.length; from += size) {
        const n = Math.min(size, tr.key.length - from);
        const b: Batch = {
          length: n,
          timeMs: tr.timeMs.subarray(from, from + n),
          cost: new Float64Array(n).fill(1),
          key: tr.key.slice(from, from + n),
        };
        yield b;
      }
    },
  };
}

type Contestant = { name: string; run(): Promise<number> | number };

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function rate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(0)} k/s`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg()[0] as number;
  const tr = await trace();
  const n = tr.key.length;
  const traffic = arrayTraffic(tr);
  const contestants: Contestant[] = [
    {
      name: "simulate() (floodgate/simulate, whole report)",
      run: async () => (await simulate({ traffic, policies: [policy] })).policies[0]?.requests.admitted ?? 0,
    },
    {
      name: "RateLimiter.consumeSync loop (injected clock)",
      run: () => {
        let nowMs = 0;
        const limiter = new RateLimiter({ policy, now: () => nowMs });
        let admitted = 0;
        for (let i = 0; i < n; i++) {
          nowMs = tr.timeMs[i] as number;
          if (limiter.consumeSync(tr.key[i] as string).allowed) admitted++;
        }
        return admitted;
      },
    },
    {
      name: "applyPolicy loop (state per key in a Map)",
      run: () => {
        const states = new Map<string, readonly number[] | null>();
        let admitted = 0;
        for (let i = 0; i < n; i++) {
          const k = tr.key[i] as string;
          const r = applyPolicy(policy, states.get(k) ?? null, tr.timeMs[i] as number, 1);
          states.set(k, r.state);
          if (r.allowed) admitted++;
        }
        return admitted;
      },
    },
  ];
  // Warm up, and check every contestant decides the same.
  const admitted = await Promise.all(contestants.map(async (c) => c.run()));
  if (new Set(admitted).size !== 1) throw new Error(`contestants disagree: ${admitted.join(", ")}`);
  const perSecond: number[][] = contestants.map(() => []);
  const ratios: number[][] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    const got: number[] = new Array(contestants.length).fill(0);
    for (let j = 0; j < contestants.length; j++) {
      const i = (round + j) % contestants.length;
      (globalThis as { gc?: () => void }).gc?.();
      const t0 = cpuMs();
      await contestants[i]?.run();
      got[i] = (n * 1000) / (cpuMs() - t0);
      perSecond[i]?.push(got[i] as number);
    }
    ratios[0]?.push((got[0] as number) / (got[1] as number));
    ratios[1]?.push((got[0] as number) / (got[2] as number));
  }

  // A day for 10,000 clients: about 10 million requests, generated as it runs.
  const day = generate({
    shape: "daily",
    rate: 10_000_000 / 86_400,
    durationMs: 86_400_000,
    clients: 10_000,
    skew: 1,
    abusers: 10,
    seed: 1,
  });
  const days: { policies: string; seconds: number; requests: number; rssMb: number }[] = [];
  for (const policies of [[policy], [policy, fixedWindow({ limit: 60, windowMs: 60_000 })]]) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    const r = await simulate({ traffic: day, policies });
    days.push({
      policies: r.policies.map((p) => p.label).join(" and "),
      seconds: (performance.now() - t0) / 1000,
      requests: r.traffic.requests,
      rssMb: process.memoryUsage().rss / 2 ** 20,
    });
  }

  // About 1 GiB of combined log, streamed from a generator (no disk): bounded memory, lines per second.
  const LOG_LINES = 6_200_000;
  let logBytes = 0;
  let peakRss = 0;
  function* logLines(): Generator<string> {
    const base = Date.UTC(2024, 0, 1);
    for (let i = 0; i < LOG_LINES; i++) {
      const t = new Date(base + Math.floor(i * 8.64));
      const two = (x: number) => String(x).padStart(2, "0");
      const line =
        i % 97 === 0
          ? "junk line here\n"
          : `${10 + (i % 200)}.${(i >> 8) & 255}.${(i * 7) & 255}.${i % 251} - - [${two(t.getUTCDate())}/Jan/2024:${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())} +0000] "GET /api/items/${i % 1000}?page=2 HTTP/1.1" 200 5120 "https://example.test/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0"\n`;
      logBytes += line.length;
      if (i % 100_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
      yield line;
    }
  }
  (globalThis as { gc?: () => void }).gc?.();
  const logStarted = performance.now();
  const logReport = await simulate({
    traffic: replay(() => Readable.from(logLines()), { format: "combined" }),
    policies: [policy, fixedWindow({ limit: 60, windowMs: 60_000 })],
  });
  const logSeconds = (performance.now() - logStarted) / 1000;

  const out: string[] = [];
  out.push("## Simulator: decisions per second, and a day of traffic", "");
  out.push("Command: `node --expose-gc --import tsx bench/simulate.ts`  ");
  out.push(`Date: ${new Date().toISOString()}  `);
  out.push(
    `Machine: ${cpus().length} CPUs (nproc), ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}  `,
  );
  out.push(
    `Run time: ${((Date.now() - started) / 1000).toFixed(0)} s; load average (1 min) before / after: ${load0.toFixed(2)} / ${(loadavg()[0] as number).toFixed(2)}`,
    "",
  );
  out.push(
    `A trace of ${n.toLocaleString("en-US")} requests from 10,000 clients (Poisson over an hour, Zipf skew 1, seed 1), generated once into arrays, decided by \`tokenBucket({ capacity: 20, refillRate: 0.5 })\` in ${ROUNDS} interleaved rounds (the first contestant rotates each round); the median round, in decisions per second of CPU time. Every contestant admits the same ${admitted[0]?.toLocaleString("en-US")} requests.`,
    "",
  );
  out.push("| contestant | decisions/s (median) |", "|---|---:|");
  for (const [i, c] of contestants.entries()) out.push(`| ${c.name} | ${rate(median(perSecond[i] as number[]))} |`);
  out.push("", "| ratio (median of per-round ratios) | |", "|---|---:|");
  out.push(`| simulate() / consumeSync loop | ${median(ratios[0] as number[]).toFixed(2)}x |`);
  out.push(`| simulate() / applyPolicy loop | ${median(ratios[1] as number[]).toFixed(2)}x |`, "");
  out.push(
    'A day of traffic for 10,000 clients: `generate({ shape: "daily", rate: 10e6 / 86400, durationMs: 86_400_000, clients: 10_000, skew: 1, abusers: 10, seed: 1 })`, one run each, generation included (wall time; target under 30 s on this 2-core machine).',
    "",
  );
  out.push("| policies | requests | wall time | RSS after |", "|---|---:|---:|---:|");
  for (const d of days)
    out.push(
      `| ${d.policies} | ${d.requests.toLocaleString("en-US")} | ${d.seconds.toFixed(1)} s | ${d.rssMb.toFixed(0)} MiB |`,
    );
  out.push(
    "",
    `Replay of ${(logBytes / 2 ** 30).toFixed(2)} GiB of combined access log (${LOG_LINES.toLocaleString("en-US")} lines made on the fly, ${logReport.traffic.clients.toLocaleString("en-US")} distinct hosts, ${(logReport.traffic.issues?.skipped ?? 0).toLocaleString("en-US")} junk lines skipped), streamed through two policies with the default maxClients (250,000): ${logSeconds.toFixed(0)} s, ${Math.round(LOG_LINES / logSeconds).toLocaleString("en-US")} lines/s, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB.`,
    "",
  );
  mkdirSync(join(HERE, "results"), { recursive: true });
  writeFileSync(join(HERE, "results", "simulate.md"), out.join("\n"));
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
