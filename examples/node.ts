// node.ts: a plain node:http server protected by floodgate, with a route table and shadow mode for a safe rollout.
//
// Run: node --import tsx examples/node.ts
// It starts the server on a free loopback port, sends requests to itself, and exits.
// Set PORT=3000 to keep it running instead.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { withRateLimit } from "../src/adapters/node.js";
import { fixedWindow } from "../src/core/fixed-window.js";

const handler = withRateLimit(
  (req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end(`you asked for ${req.url}\n`);
  },
  {
    policy: fixedWindow({ name: "minute", limit: 3, windowMs: 60_000 }),
    // node:http has no route patterns: rules match the path without query or trailing
    // slash; unmatched paths share the default bucket, so random paths mint nothing.
    routes: { "GET /reports/:id": { cost: 2 } },
    // Shadow mode: decisions and headers as usual, but nothing is refused; watch onLimited first.
    shadow: process.env.SHADOW === "1",
    onLimited: (info) => console.log(`  limited (${info.shadow ? "shadow" : "enforced"}): ${info.violatedPolicies}`),
  },
);

const server = createServer(handler).listen(Number(process.env.PORT ?? 0), "127.0.0.1", async () => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`listening on ${base}`);
  if (process.env.PORT) return;
  for (const path of ["/", "/a/", "/a?x=1", "/b", "/reports/7", "/reports/8"]) {
    const res = await fetch(base + path);
    console.log(`GET ${path}: ${res.status}  RateLimit: ${res.headers.get("ratelimit")}`);
  }
  server.close();
});
