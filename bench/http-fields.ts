// http-fields.ts: CPU time of writing the two RateLimit fields through each public node and Fastify API, per response.
//
// Run: node --max-semi-space-size=1 --import tsx bench/http-fields.ts [rounds]
//
// node (Express's res is a node ServerResponse): each call makes a fresh IncomingMessage and
// ServerResponse with no socket, sets the headers Express's res.send sets (X-Powered-By before the
// middleware; Content-Type, Content-Length and ETag after), writes the two fields one way, and ends
// the response with a 5-byte body, so node's header block (_storeHeader, its second validation pass)
// is built as on the wire. Fastify in two parts (see below): "store", reply.header on one Reply, and
// "send", node's writeHead with Fastify's header object with and without the fields. Every variant is its own loop; variants run interleaved (the start rotates
// each round), and a figure is the median over rounds of (variant - the same loop without the
// fields), in ns of CPU time (process.cpuUsage) per response. Not part of `npm run bench`.

import http from "node:http";
import { Socket } from "node:net";
import { loadavg } from "node:os";
import Fastify, { type FastifyReply } from "fastify";

const ROUNDS = Number(process.argv[2] ?? 15);
const ROUND_MS = 30;
const POLICY = '"default";q=100;w=60';
const LIMIT = '"default";r=99;t=60';
const socket = new Socket();

function fresh(): http.ServerResponse {
  const req = new http.IncomingMessage(socket);
  req.method = "GET";
  req.url = "/";
  req.headers = { host: "localhost" };
  return new http.ServerResponse(req);
}
/** finish sets what Express's res.send sets after the middleware and ends the response. */
function finish(res: http.ServerResponse): number {
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Content-Length", "5");
  res.setHeader("ETag", 'W/"5-9/+ei3uy4Jtwk1pdeF4MxdnQq/A"');
  res.end("hello");
  return res.writableLength >= 0 ? 1 : 0;
}

function nodeNone(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    c += finish(res);
  }
  return c;
}
function nodeMixed(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    res.setHeader("RateLimit-Policy", POLICY);
    res.setHeader("RateLimit", LIMIT);
    c += finish(res);
  }
  return c;
}
function nodeLower(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    res.setHeader("ratelimit-policy", POLICY);
    res.setHeader("ratelimit", LIMIT);
    c += finish(res);
  }
  return c;
}
function nodeAppend(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    res.appendHeader("ratelimit-policy", POLICY);
    res.appendHeader("ratelimit", LIMIT);
    c += finish(res);
  }
  return c;
}
function nodeSetHeaders(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    res.setHeaders(
      new Map([
        ["ratelimit-policy", POLICY],
        ["ratelimit", LIMIT],
      ]),
    );
    c += finish(res);
  }
  return c;
}
/** The on-headers way: a closure per response wraps writeHead and sets the fields when the head is written. */
function nodeHookSet(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    const writeHead = res.writeHead;
    const policy = POLICY;
    const limit = LIMIT;
    res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
      this.setHeader("ratelimit-policy", policy);
      this.setHeader("ratelimit", limit);
      return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    } as typeof res.writeHead;
    c += finish(res);
  }
  return c;
}
/** The same hook handing the fields to writeHead as a raw [name, value, ...] array. */
function nodeHookRaw(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.setHeader("X-Powered-By", "Express");
    const writeHead = res.writeHead;
    const raw = ["ratelimit-policy", POLICY, "ratelimit", LIMIT];
    res.writeHead = function (this: http.ServerResponse, status: number) {
      return writeHead.call(this, status, raw);
    } as typeof res.writeHead;
    c += finish(res);
  }
  return c;
}

// Fastify: reply.header stores a field in the reply's own object (after lower-casing the name); at
// send, Fastify hands that object to node's writeHead, which validates every field once (no
// setHeader before it). The two parts are measured apart: the store on one real Reply (captured
// from inject(), the same two names overwritten each call), and the send on fresh node responses.
let captured: FastifyReply | undefined;
const fapp = Fastify();
fapp.get("/", (_req, reply) => {
  captured = reply;
  return "hello world";
});
await fapp.inject({ method: "GET", url: "/" });
const reply = captured as FastifyReply;
function storeNone(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (reply.statusCode === 200) c++;
  return c;
}
function storeHeader(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    reply.header("ratelimit-policy", POLICY);
    reply.header("ratelimit", LIMIT);
    if (reply.statusCode === 200) c++;
  }
  return c;
}
function storeHeaderMixed(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    reply.header("RateLimit-Policy", POLICY);
    reply.header("RateLimit", LIMIT);
    if (reply.statusCode === 200) c++;
  }
  return c;
}
function storeHeaders(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    reply.headers({ "ratelimit-policy": POLICY, ratelimit: LIMIT });
    if (reply.statusCode === 200) c++;
  }
  return c;
}
/** sendNone is Fastify's send of "hello world": writeHead with its header object, then end. */
function sendNone(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": "11" });
    res.end("hello world");
    c++;
  }
  return c;
}
function sendFields(n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const res = fresh();
    res.writeHead(200, {
      "ratelimit-policy": POLICY,
      ratelimit: LIMIT,
      "content-type": "text/plain; charset=utf-8",
      "content-length": "11",
    });
    res.end("hello world");
    c++;
  }
  return c;
}

interface Variant {
  group: string;
  name: string;
  run: (n: number) => number | Promise<number>;
  n: number;
  ns: number[];
}
const variants: Variant[] = (
  [
    ["node", "none", nodeNone],
    ["node", "setHeader, mixed-case names", nodeMixed],
    ["node", "setHeader, lower-case names", nodeLower],
    ["node", "appendHeader", nodeAppend],
    ["node", "setHeaders(Map)", nodeSetHeaders],
    ["node", "on-headers hook, setHeader", nodeHookSet],
    ["node", "on-headers hook, writeHead raw array", nodeHookRaw],
    ["store", "none", storeNone],
    ["store", "reply.header, lower-case", storeHeader],
    ["store", "reply.header, mixed-case", storeHeaderMixed],
    ["store", "reply.headers({...})", storeHeaders],
    ["send", "none", sendNone],
    ["send", "writeHead object with the fields", sendFields],
  ] as const
).map(([group, name, run]) => ({ group, name, run, n: 1000, ns: [] }));

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}
async function timed(v: Variant): Promise<number> {
  const a = cpuNs();
  const c = await v.run(v.n);
  if (c !== v.n) throw new Error(`${v.name}: ${c} of ${v.n}`);
  return cpuNs() - a;
}
for (let w = 0; w < 4; w++) {
  for (const v of variants) v.n = Math.max(200, Math.round((v.n * ROUND_MS * 1e6) / Math.max(await timed(v), 1)));
}
const load0 = loadavg()[0] as number;
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + round) % variants.length] as Variant;
    v.ns.push((await timed(v)) / v.n);
  }
}
const load1 = loadavg()[0] as number;
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1] as number;
console.log(`${ROUNDS} rounds, load ${load0.toFixed(2)} -> ${load1.toFixed(2)}, node ${process.version}`);
for (const group of ["node", "store", "send"]) {
  const base = variants.find((v) => v.group === group && v.name === "none") as Variant;
  for (const v of variants.filter((x) => x.group === group)) {
    const diffs = v.ns.map((x, i) => x - (base.ns[i] as number));
    console.log(
      `${group.padEnd(8)} ${v.name.padEnd(38)} ${median(v.ns).toFixed(0).padStart(7)} ns/response, fields ${median(diffs).toFixed(0).padStart(5)} ns`,
    );
  }
}
