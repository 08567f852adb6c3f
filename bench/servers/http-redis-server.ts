// http-redis-server.ts: one hello-world server variant with a Redis-backed limiter, for bench/http-redis.ts.
//
// Run: FG_REDIS_PORT=6379 node --import tsx bench/servers/http-redis-server.ts <variant>
// (prints "listening <port>" on stdout; with an IPC channel, answers the message "cpu" with process.cpuUsage())
// Variants: express, express-floodgate, express-rlf, express-rate-limit, fastify, fastify-floodgate, fastify-rate-limit.
// Every limiter keys the client by the request header x-client (the bench sends one value, or many),
// talks to the redis-server on 127.0.0.1:FG_REDIS_PORT through its own ioredis connection, and has a
// limit far above what a run can send: nothing is denied, every request is a full read-modify-write.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import fastifyRateLimit from "@fastify/rate-limit";
import express from "express";
import { rateLimit as expressRateLimit } from "express-rate-limit";
import Fastify from "fastify";
import { Redis } from "ioredis";
import { RedisStore as RateLimitRedisStore } from "rate-limit-redis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { rateLimit as floodgateExpress } from "../../src/adapters/express.js";
import { rateLimit as floodgateFastify } from "../../src/adapters/fastify.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { RedisStore } from "../../src/stores/redis/index.js";

const HUGE = 1_000_000_000;
const variant = process.argv[2] ?? "";
const redisPort = Number(process.env.FG_REDIS_PORT);
const redis = (): Redis => new Redis(redisPort, "127.0.0.1");
const policy = () => tokenBucket({ name: "bench", capacity: HUGE, refillRate: 1_000_000 });
const clientOf = (h: string | string[] | undefined): string => (typeof h === "string" ? h : "anonymous");

async function main(): Promise<number> {
  if (variant.startsWith("express")) {
    const app = express();
    app.set("etag", false);
    if (variant === "express-floodgate") {
      app.use(
        floodgateExpress({
          policy: policy(),
          store: new RedisStore({ client: redis() }),
          key: (req) => req.header("x-client"),
        }),
      );
    }
    if (variant === "express-rlf") {
      // rate-limiter-flexible's documented Express middleware: consume, then next() or 429 (no headers).
      const rlf = new RateLimiterRedis({ storeClient: redis(), points: HUGE, duration: 60, keyPrefix: "rlf" });
      app.use((req, res, next) => {
        rlf.consume(clientOf(req.headers["x-client"])).then(
          () => next(),
          () => {
            res.status(429).send("Too Many Requests");
          },
        );
      });
    }
    if (variant === "express-rate-limit") {
      const client = redis();
      app.use(
        expressRateLimit({
          windowMs: 60_000,
          limit: HUGE,
          standardHeaders: "draft-8",
          legacyHeaders: false,
          keyGenerator: (req) => clientOf(req.headers["x-client"]),
          store: new RateLimitRedisStore({
            sendCommand: (command: string, ...args: string[]) =>
              client.call(command, ...args) as Promise<number | string>,
          }),
        }),
      );
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
    if (variant === "fastify-floodgate") {
      await app.register(floodgateFastify, {
        policy: policy(),
        store: new RedisStore({ client: redis() }),
        key: (req) => req.header("x-client"),
      });
    }
    if (variant === "fastify-rate-limit") {
      await app.register(fastifyRateLimit, {
        max: HUGE,
        timeWindow: 60_000,
        redis: redis(),
        keyGenerator: (req) => clientOf(req.headers["x-client"]),
      });
    }
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
