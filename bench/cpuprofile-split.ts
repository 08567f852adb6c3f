// cpuprofile-split.ts: a V8 .cpuprofile's busy samples split by who ran them (floodgate's parts, ioredis, the framework, node).
//
// Run: node --import tsx bench/cpuprofile-split.ts <file.cpuprofile> [µs of CPU per request]
//
// Two splits of the busy samples (idle left out; start-up, module loading and tsx, is its own line and
// left out of the shares). "Self": by the script of the sampled function. "Charged": each sample goes
// to the nearest frame, walking from the sampled function towards the root, that is in a library or
// in floodgate (node's own scripts and native functions are skipped), so node's socket and header
// work is charged to whoever called it; samples with no such frame stay "node, no library caller".
// With the server's CPU µs per request (bench/http-redis.ts), each share is also shown as µs per request.
// Promise reaction jobs have no frame of their own in a V8 profile: their cost is in the function
// they resume (and the microtask runner, node:internal/process/task_queues).

import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const RULES: [string, (url: string, fn: string) => boolean][] = [
  ["idle", (_u, f) => f === "(idle)"],
  ["GC", (_u, f) => f === "(garbage collector)"],
  ["V8/native, unattributed ((program))", (_u, f) => f === "(program)"],
  [
    "start-up (module loading, tsx, esbuild)",
    (u) => /node_modules\/(tsx|esbuild)|node:internal\/modules|get-tsconfig/.test(u),
  ],
  ["floodgate: HTTP core and adapter (src/http, src/adapters)", (u) => /\/src\/(http|adapters)\//.test(u)],
  ["floodgate: RateLimiter and core math (src/limiter.ts, src/core)", (u) => /\/src\/(limiter\.ts|core\/)/.test(u)],
  ["floodgate: Redis store batcher (src/stores/redis/batcher*)", (u) => /\/src\/stores\/redis\/batch/.test(u)],
  ["floodgate: Redis store, other parts (src/stores/redis)", (u) => /\/src\/stores\//.test(u)],
  ["floodgate: other src", (u) => /\/wt\/[^/]+\/src\//.test(u) || /\/main\/src\//.test(u)],
  [
    "ioredis (+ redis-parser, denque, standard-as-callback)",
    (u) => /node_modules\/(ioredis|redis-parser|denque|standard-as-callback|cluster-key-slot|redis-errors)\//.test(u),
  ],
  ["rate-limiter-flexible", (u) => /node_modules\/rate-limiter-flexible\//.test(u)],
  [
    "Express and its modules",
    (u) =>
      /node_modules\/(express|router|finalhandler|send|on-finished|parseurl|path-to-regexp|content-type|etag|fresh|depd|debug|qs|body-parser|accepts|negotiator|mime-types|mime-db|type-is|media-typer|statuses|encodeurl|escape-html|range-parser|proxy-addr|forwarded|ipaddr\.js|vary|cookie|utils-merge|setprototypeof|http-errors|merge-descriptors|safe-buffer|content-disposition|on-headers|methods|array-flatten|is-promise|once|wrappy|ee-first|unpipe|inherits|toidentifier|call-bound|get-intrinsic|es-errors|function-bind|hasown|side-channel|object-inspect|math-intrinsics|dunder-proto|gopd|es-object-atoms|call-bind-apply-helpers|has-symbols|router)\//.test(
        u,
      ),
  ],
  ["node: HTTP (_http_*)", (u) => /node:_http_|node:http$/.test(u)],
  [
    "node: net, streams, sockets",
    (u) => /node:net|node:stream|node:internal\/(streams|stream_base_commons|net)/.test(u),
  ],
  [
    "node: microtask / nextTick runner, timers",
    (u) => /node:internal\/(process\/task_queues|timers)|node:timers/.test(u),
  ],
  ["node: other", (u) => u.startsWith("node:")],
  ["other JS", () => true],
];

const file = process.argv[2];
if (file === undefined) throw new Error("usage: cpuprofile-split.ts <file.cpuprofile> [µs per request]");
const perReqUs = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const totals = new Map<string, number>();
for (let i = 0; i < p.samples.length; i++) {
  const n = byId.get(p.samples[i] as number) as Node;
  const dt = (p.timeDeltas[i] ?? 0) as number;
  const rule = RULES.find(([, test]) => test(n.callFrame.url, n.callFrame.functionName)) as (typeof RULES)[number];
  totals.set(rule[0], (totals.get(rule[0]) ?? 0) + dt);
}
const busy = [...totals].filter(([k]) => k !== "idle").reduce((s, [, v]) => s + v, 0);
const startup = totals.get("start-up (module loading, tsx, esbuild)") ?? 0;
const served = busy - startup;
console.log(`${file}: busy ${(busy / 1e6).toFixed(2)} s of samples, ${(served / 1e6).toFixed(2)} s without start-up`);
for (const [name] of RULES) {
  const v = totals.get(name) ?? 0;
  if (name === "idle" || v === 0) continue;
  const share = name.startsWith("start-up") ? Number.NaN : v / served;
  const us = perReqUs === undefined || Number.isNaN(share) ? "" : `  ${(share * perReqUs).toFixed(1)} µs/req`;
  console.log(
    `${name.padEnd(66)} ${(v / 1e6).toFixed(2).padStart(6)} s  ${Number.isNaN(share) ? "   -  " : `${(share * 100).toFixed(1).padStart(5)}%`}${us}`,
  );
}

// Charged split.
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const LIBRARY = RULES.filter(([name]) => /^(floodgate|ioredis|rate-limiter|Express|start-up)/.test(name));
const charged = new Map<string, number>();
for (let i = 0; i < p.samples.length; i++) {
  let id: number | undefined = p.samples[i] as number;
  const leaf = byId.get(id) as Node;
  const dt = (p.timeDeltas[i] ?? 0) as number;
  let name: string | undefined;
  const f = leaf.callFrame.functionName;
  if (f === "(idle)" || f === "(garbage collector)" || f === "(program)") name = f;
  while (name === undefined && id !== undefined) {
    const n = byId.get(id) as Node;
    const u = n.callFrame.url;
    if (u !== "" && !u.startsWith("node:")) {
      name = (LIBRARY.find(([, test]) => test(u, n.callFrame.functionName)) ?? ["other JS"])[0];
    }
    id = parent.get(id);
  }
  name ??= "node, no library caller";
  charged.set(name, (charged.get(name) ?? 0) + dt);
}
const cStartup = charged.get("start-up (module loading, tsx, esbuild)") ?? 0;
const cServed = [...charged].filter(([k]) => k !== "(idle)").reduce((s2, [, v]) => s2 + v, 0) - cStartup;
console.log("charged to the nearest library or floodgate frame:");
for (const [name, v] of [...charged].sort((a, b) => b[1] - a[1])) {
  if (name === "(idle)" || name.startsWith("start-up")) continue;
  const share = v / cServed;
  const us = perReqUs === undefined ? "" : `  ${(share * perReqUs).toFixed(1)} µs/req`;
  console.log(
    `${name.padEnd(66)} ${(v / 1e6).toFixed(2).padStart(6)} s  ${(share * 100).toFixed(1).padStart(5)}%${us}`,
  );
}
