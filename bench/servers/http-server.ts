// http-server.ts: one hello-world server variant for bench/http.ts, run in its own child process.
//
// Run: node --import tsx bench/servers/http-server.ts <variant>   (prints "listening <port>" on stdout;
// with an IPC channel, answers the message "cpu" with process.cpuUsage())
// Variants: express, express-floodgate, express-rate-limit, express-headers, express-hook, and the same five
// for fastify. "-headers" sets the two header fields floodgate sends, as constants, and nothing else: it
// tells what sending the fields costs apart from deciding them. "-hook" adds an empty middleware (Express)
// or onRequest hook (Fastify): what the framework charges for any limiter's hook before it does anything.
// Nothing is ever denied: every limiter gets a limit far above what a run can send.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import fastifyRateLimit from "@fastify/rate-limit";
import express from "express";
import { rateLimit as expressRateLimit } from "express-rate-limit";
import Fastify from "fastify";
import { rateLimit as floodgateExpress } from "../../src/adapters/express.js";
import { rateLimit as floodgateFastify } from "../../src/adapters/fastify.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

const HUGE = 1_000_000_000;
const variant = process.argv[2] ?? "";
// The fields floodgate sends for the bench policy, as constants (same length as in a run).
const POLICY_FIELD = '"bench";q=1000000000;w=1000';
const LIMIT_FIELD = '"bench";r=999999999;t=1';
const policy = () => tokenBucket({ name: "bench", capacity: HUGE, refillRate: 1_000_000 });

async function main(): Promise<number> {
  if (variant.startsWith("express")) {
    const app = express();
    app.set("etag", false);
    if (variant === "express-floodgate") app.use(floodgateExpress({ policy: policy() }));
    if (variant === "express-headers") {
      app.use((_req, res, next) => {
        res.setHeader("RateLimit-Policy", POLICY_FIELD);
        res.setHeader("RateLimit", LIMIT_FIELD);
        next();
      });
    }
    if (variant === "express-hook") app.use((_req, _res, next) => next());
    if (variant === "express-rate-limit") {
      app.use(expressRateLimit({ windowMs: 60_000, limit: HUGE, standardHeaders: "draft-8", legacyHeaders: false }));
    }
    app.get("/", (_req, res) => {
      res.send("hello world");
    });
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return (server.address() as AddressInfo).port;
  }
  if (variant.startsWith("fastify")) {
    const app = Fastify({ logger: false });
    if (variant === "fastify-floodgate") await app.register(floodgateFastify, { policy: policy() });
    if (variant === "fastify-headers") {
      app.addHook("onRequest", (_req, reply, done) => {
        reply.header("RateLimit-Policy", POLICY_FIELD);
        reply.header("RateLimit", LIMIT_FIELD);
        done();
      });
    }
    if (variant === "fastify-hook") app.addHook("onRequest", (_req, _reply, done) => done());
    if (variant === "fastify-rate-limit") await app.register(fastifyRateLimit, { max: HUGE, timeWindow: 60_000 });
    app.get("/", async () => "hello world");
    await app.listen({ port: 0, host: "127.0.0.1" });
    return (app.server.address() as AddressInfo).port;
  }
  throw new Error(`unknown variant ${JSON.stringify(variant)}`);
}

// Exit normally on SIGTERM, so that --cpu-prof can write its profile.
process.on("SIGTERM", () => process.exit(0));
// The bench asks for this process's CPU time over IPC, around each measured slice.
process.on("message", (m) => {
  if (m === "cpu") process.send?.(process.cpuUsage());
});

main().then(
  (port) => process.stdout.write(`listening ${port}\n`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
