// http-fastify-hook.ts: floodgate's Fastify onRequest hook (or Express middleware) called in process on real request and reply objects, for callgrind.
//
// Run: bash bench/http-fastify-hook.sh [calls]   (instructions per call, under callgrind; the usual way)
//      node --max-semi-space-size=1 --import tsx bench/http-fastify-hook.ts <hook|none|express|express-none> <calls> [warm-up]
//
// A real Fastify app with one route gives the Request and Reply classes of that route (its own
// constructors, its route context); each call builds a fresh node IncomingMessage and ServerResponse,
// a Fastify Request and Reply over them, as Fastify's router does, and (variant "hook") calls
// floodgate's onRequest hook, taken from the plugin registered on a stand-in instance. Variant "none"
// runs the same loop without the hook. After the warm-up it prints "warm" and waits for a line on stdin
// (the shell turns callgrind's instrumentation on), runs the measured calls, prints "done" and waits for
// another line. Nothing is denied (the limit is far above the calls made). Variants "express" and
// "express-none" do the same for floodgate's Express middleware, on fresh node request/response pairs as
// Express's init middleware leaves them (res.locals, X-Powered-By set), as bench/http-hook.ts does.

import { readSync } from "node:fs";
import http from "node:http";
import { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { rateLimit as expressRateLimit } from "../src/adapters/express.js";
import { rateLimit } from "../src/adapters/fastify.js";
import { tokenBucket } from "../src/core/token-bucket.js";

type Hook = (request: FastifyRequest, reply: FastifyReply, next: (err?: Error) => void) => void;
type Ctor<T> = new (...args: unknown[]) => T;

const variant = process.argv[2] ?? "hook";
const calls = Number(process.argv[3] ?? 20_000);
const warm = Number(process.argv[4] ?? 200_000);
if (!["hook", "none", "express", "express-none"].includes(variant))
  throw new Error(`unknown variant ${JSON.stringify(variant)}`);

/** floodgateHook registers the plugin on a stand-in instance and returns its onRequest hook. */
function floodgateHook(): Hook {
  const hooks: Record<string, unknown> = {};
  const instance = {
    addHook(name: string, fn: unknown): void {
      hooks[name] = fn;
    },
  };
  let error: unknown;
  rateLimit(
    instance as unknown as FastifyInstance,
    { policy: tokenBucket({ name: "bench", capacity: 1_000_000_000, refillRate: 1_000_000 }) },
    (e) => {
      error = e;
    },
  );
  if (error !== undefined) throw error;
  return hooks.onRequest as Hook;
}

/** sample returns a real Request and Reply of the app's route "/" (captured from one injected request). */
async function sample(): Promise<{ request: FastifyRequest; reply: FastifyReply }> {
  const app = Fastify({ logger: false });
  let got: { request: FastifyRequest; reply: FastifyReply } | undefined;
  app.addHook("onRequest", (request, reply, done) => {
    got = { request, reply };
    done();
  });
  app.get("/", async () => "hello world");
  await app.inject({ method: "GET", url: "/" });
  if (got === undefined) throw new Error("no request captured");
  return got;
}

const { request: seen, reply: seenReply } = await sample();
const RequestClass = seen.constructor as Ctor<FastifyRequest>;
const ReplyClass = seenReply.constructor as Ctor<FastifyReply>;
const contextSymbol = Object.getOwnPropertySymbols(seen).find((s) => s.description === "fastify.context");
if (contextSymbol === undefined) throw new Error("no fastify.context on the request");
const context = (seen as unknown as Record<symbol, unknown>)[contextSymbol];
const log = seen.log;
const hook = floodgateHook();
// A socket with no handle whose peer is known: socket.remoteAddress runs node's own getter, which
// returns the cached peer name, as on a connected socket after its first read.
const socket = new Socket();
(socket as unknown as { _peername: object })._peername = { address: "203.0.113.7", family: "IPv4", port: 40000 };
if (socket.remoteAddress !== "203.0.113.7") throw new Error("socket.remoteAddress does not read _peername");
let nexts = 0;
const next = (): void => {
  nexts++;
};

/** fresh builds a request and reply pair as Fastify's router does for route "/". */
function fresh(): [FastifyRequest, FastifyReply] {
  const msg = new http.IncomingMessage(socket);
  msg.method = "GET";
  msg.url = "/";
  msg.headers = { host: "localhost" };
  const res = new http.ServerResponse(msg);
  const request = new RequestClass("req-1", {}, msg, {}, log, context);
  return [request, new ReplyClass(res, request, log)];
}

const POLICY = () => tokenBucket({ name: "bench", capacity: 1_000_000_000, refillRate: 1_000_000 });
const middleware = expressRateLimit({ policy: POLICY() });
const app = { get: (): undefined => undefined };

/** freshExpress builds a node request/response pair as Express's init middleware leaves it. */
function freshExpress(): [http.IncomingMessage, http.ServerResponse] {
  const req = new http.IncomingMessage(socket) as http.IncomingMessage & { originalUrl: string; app: unknown };
  req.method = "GET";
  req.url = "/";
  req.originalUrl = "/";
  req.app = app;
  req.headers = { host: "localhost" };
  const res = new http.ServerResponse(req) as unknown as http.ServerResponse & { locals: object };
  res.locals = Object.create(null) as object;
  res.setHeader("X-Powered-By", "Express");
  return [req, res];
}

function run(n: number): void {
  if (variant === "express") {
    for (let i = 0; i < n; i++) {
      const [req, res] = freshExpress();
      middleware(req as never, res as never, next);
    }
  } else if (variant === "express-none") {
    for (let i = 0; i < n; i++) {
      const [req, res] = freshExpress();
      if (res.req !== req) throw new Error("response without its request");
      next();
    }
  } else if (variant === "hook") {
    for (let i = 0; i < n; i++) {
      const [request, reply] = fresh();
      hook(request, reply, next);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const [request, reply] = fresh();
      if (reply.request !== request) throw new Error("reply without its request");
      next();
    }
  }
}

/** pause prints `word` and waits for a line on stdin. */
function pause(word: string): void {
  process.stdout.write(`${word}\n`);
  const buf = Buffer.alloc(64);
  readSync(0, buf);
}

// The first call must leave the fields on the reply (response), where the framework sends them from.
if (variant.startsWith("express")) {
  const [req, res] = freshExpress();
  middleware(req as never, res as never, next);
  if (typeof res.getHeader("ratelimit") !== "string") throw new Error("no RateLimit field set");
} else {
  const [request, reply] = fresh();
  hook(request, reply, next);
  if (typeof reply.getHeader("ratelimit") !== "string") throw new Error("no RateLimit field set");
}
run(warm);
pause("warm");
run(calls);
pause("done");
if (nexts !== warm + calls + 1) throw new Error(`next() called ${nexts} times, want ${warm + calls + 1}`);
