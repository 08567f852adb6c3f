// hono.ts: a Hono app protected by floodgate; the same code runs on Node, Bun, Deno and Cloudflare Workers.
//
// Run: node --import tsx examples/hono.ts
// On Node it is served by @hono/node-server on a free loopback port, sends a few
// requests to itself and exits (PORT=3000 keeps it running). On Bun, Deno or
// Workers, export `app` (export default app) instead of calling serve().

import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { rateLimit } from "../src/adapters/hono.js";
import { slidingWindow } from "../src/core/sliding-window.js";

const app = new Hono();
app.use(
  "/api/*",
  rateLimit({
    policy: slidingWindow({ name: "api", limit: 3, windowMs: 10_000 }),
    routes: { "POST /api/upload": { cost: 2 } }, // uploads cost 2 and have their own bucket
  }),
);
app.get("/api/items/:id", (c) => c.json({ id: c.req.param("id") }));
app.post("/api/upload", (c) => c.text("stored\n"));

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: "127.0.0.1" }, async (info) => {
  const base = `http://127.0.0.1:${info.port}`;
  console.log(`listening on ${base}`);
  if (process.env.PORT) return;
  for (const id of [1, 2, 3, 4]) {
    const res = await fetch(`${base}/api/items/${id}`);
    console.log(`GET /api/items/${id}: ${res.status}  RateLimit: ${res.headers.get("ratelimit")}`);
  }
  const up = await fetch(`${base}/api/upload`, { method: "POST" });
  console.log(`POST /api/upload: ${up.status}  RateLimit: ${up.headers.get("ratelimit")}`);
  server.close();
});
