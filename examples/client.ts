// client.ts: floodgate/client recipes against local servers it starts itself: GitHub-style headers, LLM token costs, a polite crawler, Retry-After precedence.
//
// Run: node --import tsx examples/client.ts      (about 7 seconds; stops by itself)

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { rateLimitedFetch, throttle } from "../src/client/index.js";
import { fixedWindow, RateLimiter, tokenBucket } from "../src/index.js";

/** serve starts a server on 127.0.0.1 and returns its origin and a closer. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
}

// 1. A GitHub-style API: 5 requests per 2 s window, told in X-RateLimit-* (Reset in epoch seconds).
//    The client has no policy of its own: it learns the quota from the headers, spreads the last ones
//    and waits for the reset when none is left, before the server has to say 429.
async function githubStyle(): Promise<void> {
  const windowMs = 2000;
  const limiter = new RateLimiter({ policy: fixedWindow({ limit: 5, windowMs }), now: Date.now });
  let refused = 0;
  const api = await serve((_req, res) => {
    const d = limiter.consumeSync("token-abc");
    const resetEpochSec = Math.ceil((Date.now() + d.resetAfterMs) / 1000);
    res.setHeader("x-ratelimit-limit", "5");
    res.setHeader("x-ratelimit-remaining", String(d.remaining));
    res.setHeader("x-ratelimit-reset", String(resetEpochSec));
    if (!d.allowed) {
      refused++;
      res.writeHead(429, { "retry-after": String(Math.ceil(d.retryAfterMs / 1000)) }).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"login":"octocat"}');
  });
  // Two in flight at most, so the client hears the quota before it overspends it.
  const gh = rateLimitedFetch({ concurrency: 2 });
  const t0 = Date.now();
  const statuses = await Promise.all(Array.from({ length: 8 }, () => gh(`${api.origin}/user`).then((r) => r.status)));
  console.log(`GitHub-style: 8 calls -> ${statuses.join(",")} in ${Date.now() - t0} ms; the server refused ${refused}`);
  await api.close();
}

// 2. An LLM API that limits tokens per second: each call costs its token count.
async function llmTokens(): Promise<void> {
  const policy = tokenBucket({ name: "tokens", capacity: 4000, refillRate: 4000 }); // 4,000 tokens/s, bursts of 4,000
  const server = new RateLimiter({ policy, now: Date.now });
  let refused = 0;
  const api = await serve(async (req, res) => {
    const { prompt, maxTokens } = JSON.parse(await readBody(req)) as { prompt: string; maxTokens: number };
    const d = server.consumeSync("org-1", Math.ceil(prompt.length / 4) + maxTokens);
    if (!d.allowed) refused++;
    res.writeHead(d.allowed ? 200 : 429, { "content-type": "application/json" });
    res.end(JSON.stringify({ text: d.allowed ? "ok" : "rate limited" }));
  });
  const estimateTokens = (prompt: string, maxTokens: number) => Math.ceil(prompt.length / 4) + maxTokens;
  const complete = throttle(
    async (prompt: string, maxTokens: number) => {
      const res = await fetch(`${api.origin}/v1/complete`, {
        method: "POST",
        body: JSON.stringify({ prompt, maxTokens }),
      });
      return res.status;
    },
    // A smaller burst than the server's: the server's bucket starts filling when the first
    // request arrives, after the client's, so the client gives up 800 tokens (200 ms of the
    // server's refill) for that trip; a slightly lower rate leaves room for jitter.
    { policy: tokenBucket({ name: "tokens", capacity: 3200, refillRate: 3800 }), key: "org-1", cost: estimateTokens },
  );
  const t0 = Date.now();
  const prompts = [3000, 200, 1500, 1500, 800, 2500, 100].map((maxTokens, i) => ({
    prompt: `question ${i} `.repeat(20),
    maxTokens,
  }));
  const statuses = await Promise.all(prompts.map((p) => complete(p.prompt, p.maxTokens)));
  const tokens = prompts.reduce((sum, p) => sum + estimateTokens(p.prompt, p.maxTokens), 0);
  console.log(
    `LLM tokens: ${prompts.length} calls (${tokens} tokens) -> ${statuses.join(",")} in ${Date.now() - t0} ms; the server refused ${refused}`,
  );
  await api.close();
}

// 3. A crawler: at most 4 requests per second and 2 in flight per host, hosts independent.
async function crawler(): Promise<void> {
  const hits = new Map<string, number[]>();
  const site = (name: string) =>
    serve((req, res) => {
      const list = hits.get(name) ?? [];
      list.push(Date.now());
      hits.set(name, list);
      setTimeout(() => res.writeHead(200, { "content-type": "text/html" }).end(`<p>${name}${req.url}</p>`), 30);
    });
  const [a, b] = await Promise.all([site("a"), site("b")]);
  const crawl = rateLimitedFetch({
    policy: tokenBucket({ capacity: 1, refillRate: 4 }),
    key: (url) => url.host,
    concurrency: 2,
  });
  const urls = [a, b].flatMap((s) => Array.from({ length: 6 }, (_, i) => `${s.origin}/page/${i}`));
  const t0 = Date.now();
  const pages = await Promise.all(urls.map((u) => crawl(u).then((r) => r.text())));
  const spread = [...hits].map(([name, ts]) => `${name}: ${ts.map((t) => t - t0).join(" ")} ms`).join("; ");
  console.log(`Crawler: ${pages.length} pages in ${Date.now() - t0} ms, per host ${spread}`);
  await Promise.all([a.close(), b.close()]);
}

// 4. A server that says two things at once on a 429: Retry-After: 1 and RateLimit r=0;t=10. The IETF draft
//    (draft-ietf-httpapi-ratelimit-headers-11, section 7) says Retry-After takes precedence: the client retries
//    after about 1 s, not 10. A response a cache served (Age > 0) carries stale quota fields: they are ignored.
async function retryAfterWins(): Promise<void> {
  let calls = 0;
  const api = await serve((_req, res) => {
    calls++;
    if (calls === 1) res.writeHead(429, { "retry-after": "1", ratelimit: '"api";r=0;t=10' }).end();
    else res.writeHead(200, { age: "120", ratelimit: '"api";r=0;t=3600' }).end("cached");
  });
  const f = rateLimitedFetch();
  const t0 = Date.now();
  const first = await f(`${api.origin}/report`);
  const waitedMs = Date.now() - t0;
  const second = await f(`${api.origin}/report`); // not held for an hour: that quota came from a cache
  console.log(
    `Retry-After wins: ${first.status} after ${waitedMs} ms (Retry-After: 1, RateLimit t=10), then ${second.status} at once`,
  );
  await api.close();
}

await githubStyle();
await llmTokens();
await crawler();
await retryAfterWins();
