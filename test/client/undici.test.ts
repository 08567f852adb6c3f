// undici.test.ts: throttleInterceptor composed on a real undici Agent and Client against a 127.0.0.1 server.

import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent, Client, type Dispatcher } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type DispatchHandler, type Interceptor, throttleInterceptor } from "../../src/client/index.js";
import { MemoryStore, RateLimiter, tokenBucket } from "../../src/index.js";
import { drive, FakeClock, startServer, type TestServer } from "./helpers.js";

const T0 = 1_000_000;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** counting is an interceptor placed under the throttle: it counts requests on the wire, for the virtual clock driver. */
function counting(state: { inFlight: number }): Interceptor {
  return (<D extends (opts: never, handler: never) => boolean>(next: D): D => {
    const dispatch = next as unknown as (opts: unknown, handler: DispatchHandler) => boolean;
    return ((opts: unknown, handler: DispatchHandler) => {
      state.inFlight++;
      let done = false;
      const end = () => {
        if (!done) {
          done = true;
          state.inFlight--;
        }
      };
      const h: DispatchHandler = {
        onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
        onResponseStart: (c, s, hd, m) => handler.onResponseStart?.(c, s, hd, m),
        onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
        onResponseEnd: (c, t) => {
          end();
          handler.onResponseEnd?.(c, t);
        },
        onResponseError: (c, e) => {
          end();
          handler.onResponseError?.(c, e);
        },
      };
      return dispatch(opts, h);
    }) as unknown as D;
  }) as Interceptor;
}

async function setup(handler: (clock: FakeClock) => (req: IncomingMessage, res: ServerResponse) => void) {
  const clock = new FakeClock(T0);
  const server: TestServer = await startServer(handler(clock));
  closers.push(() => server.close());
  const state = { inFlight: 0 };
  const run = <T>(work: Promise<T>) => drive(clock, () => state.inFlight > 0, work);
  return { clock, server, state, run };
}

async function get(d: Dispatcher, origin: string, path: string, signal?: AbortSignal) {
  const res = await d.request({ origin, path, method: "GET", ...(signal ? { signal } : {}) });
  const body = await res.body.text();
  return { status: res.statusCode, body };
}

describe("throttleInterceptor on undici", () => {
  it("an Agent whose policy matches the server's never receives a 429 (20 requests, burst 4, 8/s)", async () => {
    const seen: { at: number; path: string; status: number }[] = [];
    const h = await setup((clock) => {
      const limiter = new RateLimiter({
        policy: tokenBucket({ capacity: 4, refillRate: 8 }),
        store: new MemoryStore(),
        now: clock.now,
      });
      return (req, res) => {
        const d = limiter.consumeSync("all");
        seen.push({ at: clock.now() - T0, path: req.url ?? "", status: d.allowed ? 200 : 429 });
        res.writeHead(d.allowed ? 200 : 429, { "retry-after": "1" });
        res.end(req.url);
      };
    });
    const agent = new Agent();
    closers.push(() => agent.close());
    const d = agent.compose(
      counting(h.state),
      throttleInterceptor({ policy: tokenBucket({ capacity: 4, refillRate: 8 }), now: h.clock.now, timers: h.clock }),
    );
    const results = await h.run(Promise.all(Array.from({ length: 20 }, (_, i) => get(d, h.server.origin, `/${i}`))));
    expect(
      seen.filter((s) => s.status === 429),
      "no 429 at the server",
    ).toEqual([]);
    expect(
      results.map((r) => r.body),
      "each caller gets its own body",
    ).toEqual(Array.from({ length: 20 }, (_, i) => `/${i}`));
    expect(
      seen.map((s) => s.path),
      "FIFO",
    ).toEqual(Array.from({ length: 20 }, (_, i) => `/${i}`));
    expect(h.clock.now() - T0, "(20 - 4) / 8 s").toBe(2000);
  });

  it("retries a 429 after Retry-After; the handler sees only the final 200 and its body", async () => {
    const arrivals: number[] = [];
    const h = await setup((clock) => (_req, res) => {
      arrivals.push(clock.now() - T0);
      if (arrivals.length === 1) {
        res.writeHead(429, { "retry-after": "2", "content-type": "text/plain" });
        res.end("too many requests, this body is drained");
      } else {
        res.writeHead(200);
        res.end("fine");
      }
    });
    const client = new Client(h.server.origin);
    closers.push(() => client.close());
    const retried: number[] = [];
    const d = client.compose(
      counting(h.state),
      throttleInterceptor({
        now: h.clock.now,
        timers: h.clock,
        random: () => 0.5,
        onRetry: (i) => retried.push(i.waitMs),
      }),
    );
    const r = await h.run(get(d, h.server.origin, "/x"));
    expect(r).toEqual({ status: 200, body: "fine" });
    expect(arrivals, "second try 2 s + 5% jitter later").toEqual([0, 2100]);
    expect(retried).toEqual([2100]);
  });

  // Regression (issue 8, defect 12): the interceptor waited the 60 s window of RateLimit r=0;t=60 despite
  // Retry-After: 7 (draft-11, section 7: Retry-After MUST take precedence), and used the quota fields of a
  // response served from a cache (section 7.3: they SHOULD be ignored on a response with a positive age).
  it("Retry-After takes precedence over RateLimit; the quota of a cached (Age > 0) response is ignored", async () => {
    const arrivals: number[] = [];
    const h = await setup((clock) => (_req, res) => {
      arrivals.push(clock.now() - T0);
      if (arrivals.length === 1) res.writeHead(429, { "retry-after": "7", ratelimit: '"api";r=0;t=60' });
      else res.writeHead(200, { age: "30", ratelimit: '"api";r=0;t=600' });
      res.end();
    });
    const agent = new Agent();
    closers.push(() => agent.close());
    const d = agent.compose(
      counting(h.state),
      throttleInterceptor({ now: h.clock.now, timers: h.clock, random: () => 0.5, maxDelayMs: 1_000_000 }),
    );
    const first = await h.run(get(d, h.server.origin, "/"));
    const second = await h.run(get(d, h.server.origin, "/"));
    expect({ statuses: [first.status, second.status], arrivals }).toEqual({
      statuses: [200, 200],
      // 7 s + 5% jitter, then at once: the cached 200's r=0;t=600 is not news.
      arrivals: [0, 7350, 7350],
    });
  });

  it("garbage Retry-After falls back to the backoff, never to the garbage", async () => {
    const arrivals: number[] = [];
    const h = await setup((clock) => (_req, res) => {
      arrivals.push(clock.now() - T0);
      res.writeHead(arrivals.length === 1 ? 429 : 200, { "retry-after": arrivals.length === 1 ? "-1e99" : "0" });
      res.end();
    });
    const agent = new Agent();
    closers.push(() => agent.close());
    const d = agent.compose(
      counting(h.state),
      throttleInterceptor({ now: h.clock.now, timers: h.clock, random: () => 0, backoffMs: 500 }),
    );
    const r = await h.run(get(d, h.server.origin, "/"));
    expect({ status: r.status, arrivals }).toEqual({ status: 200, arrivals: [0, 500] });
  });

  it("returns the 429 to the caller once retries are spent", async () => {
    let hits = 0;
    const h = await setup(() => (_req, res) => {
      hits++;
      res.writeHead(429, { "retry-after": "1" });
      res.end("no");
    });
    const agent = new Agent();
    closers.push(() => agent.close());
    const d = agent.compose(counting(h.state), throttleInterceptor({ retries: 1, now: h.clock.now, timers: h.clock }));
    const r = await h.run(get(d, h.server.origin, "/"));
    expect({ ...r, hits }).toEqual({ status: 429, body: "no", hits: 2 });
  });

  it("an abort while the origin is paused rejects the request and leaves no timer", async () => {
    let hits = 0;
    const h = await setup(() => (_req, res) => {
      hits++;
      res.writeHead(429, { "retry-after": "30" });
      res.end();
    });
    const agent = new Agent();
    closers.push(() => agent.close());
    const d = agent.compose(counting(h.state), throttleInterceptor({ now: h.clock.now, timers: h.clock }));
    const ac = new AbortController();
    const outcome = get(d, h.server.origin, "/", ac.signal).then(
      (r) => `resolved ${r.status}`,
      (e: Error) => e.name,
    );
    for (let i = 0; i < 500 && (hits === 0 || h.clock.pending === 0); i++) await new Promise((r) => setTimeout(r, 2));
    expect(h.clock.pending, "the retry waits on a timer").toBeGreaterThan(0);
    ac.abort();
    expect(await outcome).toBe("AbortError");
    expect({ hits, pending: h.clock.pending }).toEqual({ hits: 1, pending: 0 });
  });
});
