// http-hook.ts: CPU time of floodgate's Express middleware per request, in process (no sockets, no framework routing).
//
// Run: node --max-semi-space-size=1 --import tsx bench/http-hook.ts [rounds]
//
// Each call gets a fresh node IncomingMessage and ServerResponse (as Express hands them over, with
// res.locals), so node's own setHeader work (name and value validation) is counted with floodgate's.
// The same loop without the middleware runs interleaved, and the figure is the median of the
// per-round differences, in ns of CPU time (process.cpuUsage) per request. Not part of `npm run bench`:
// a tool for A/B work on a busy machine (run each variant in several processes, alternated).

import http from "node:http";
import { Socket } from "node:net";
import { loadavg } from "node:os";
import { rateLimit } from "../src/adapters/express.js";
import { tokenBucket } from "../src/index.js";

type Req = http.IncomingMessage & { originalUrl: string; app: unknown };
type Res = http.ServerResponse & { locals: object };

const middleware = rateLimit({ policy: tokenBucket({ capacity: 1_000_000_000, refillRate: 1_000_000 }) });
const socket = new Socket();
Object.defineProperty(socket, "remoteAddress", { value: "203.0.113.7" });
const app = { get: (): undefined => undefined };
let nexts = 0;
const next = (): void => {
  nexts++;
};

/** request returns a fresh request and response pair, as Express's init middleware leaves them. */
function request(): [Req, Res] {
  const req = new http.IncomingMessage(socket) as Req;
  req.method = "GET";
  req.url = "/";
  req.originalUrl = "/";
  req.app = app;
  req.headers = { host: "localhost" };
  const res = new http.ServerResponse(req) as unknown as Res;
  res.locals = Object.create(null) as object;
  return [req, res];
}

function withMiddleware(n: number): void {
  for (let i = 0; i < n; i++) {
    const [req, res] = request();
    middleware(req as never, res as never, next);
  }
}

function without(n: number): void {
  for (let i = 0; i < n; i++) {
    const [, res] = request();
    next();
    if (res.locals === undefined) throw new Error("no locals");
  }
}

function cpuNs(f: (n: number) => void, n: number): number {
  const c0 = process.cpuUsage();
  f(n);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

const rounds = Number(process.argv[2] ?? 15);
const N = 100_000;
withMiddleware(N);
without(N);
const diffs: number[] = [];
const totals: number[] = [];
for (let r = 0; r < rounds; r++) {
  const a = r % 2 === 0 ? cpuNs(withMiddleware, N) : 0;
  const b = cpuNs(without, N);
  const a2 = r % 2 === 1 ? cpuNs(withMiddleware, N) : a;
  diffs.push(a2 - b);
  totals.push(a2);
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
if (nexts !== (2 + 2 * rounds) * N) throw new Error(`next() called ${nexts} times`);
const load = (loadavg()[0] ?? 0).toFixed(2);
process.stdout.write(
  `express middleware: ${median(diffs).toFixed(0)} ns CPU per request (loop with it ${median(totals).toFixed(0)} ns; load ${load})\n`,
);
