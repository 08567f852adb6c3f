// suite.ts: the checks every runtime passes, over real HTTP against the fixture app (fixtures/app.mjs) it serves.

import { expect, it } from "vitest";
import { checkRefusal, parseLimits } from "../e2e/conformance.js";
import { waitFor } from "./runtime.js";

/** Target is a started runtime: its base URL and the headers every request of one client carries. */
export interface Target {
  base: () => string;
  /** client returns the headers that make a request come from client `n` (workerd: CF-Connecting-IP and a cf blob). */
  client: (n: number) => Record<string, string>;
}

interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

async function get(t: Target, path: string, client = 0): Promise<Reply> {
  const res = await fetch(t.base() + path, { headers: t.client(client) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/**
 * burstThenRefill checks one limited path: `capacity` passes with RateLimit
 * counting down, then a 429 with Retry-After and a problem body, then (after
 * the app's virtual clock moves one token's time) a pass again.
 */
async function burstThenRefill(t: Target, name: string, path: string, policy: string, where: string): Promise<void> {
  const rows: { step: number; want: number; r: number; why: string }[] = [
    { step: 1, want: 200, r: 2, why: "a fresh bucket of 3" },
    { step: 2, want: 200, r: 1, why: "burst" },
    { step: 3, want: 200, r: 0, why: "the last token" },
    { step: 4, want: 429, r: 0, why: "empty: refused" },
  ];
  for (const row of rows) {
    const reply = await get(t, path);
    const at = `${name} ${where} step ${row.step} (${row.why})`;
    expect(reply.status, `${at}: status; body ${reply.body}`).toBe(row.want);
    const { policies, limits } = parseLimits(reply.headers, at);
    expect(policies.get(policy), `${at}: RateLimit-Policy`).toEqual({ q: 3, w: 3 });
    expect(limits.get(policy), `${at}: RateLimit`).toEqual({ r: row.r, t: 1 });
    if (row.want === 429) {
      const body = checkRefusal(reply, at);
      expect(reply.headers.get("retry-after"), `${at}: Retry-After`).toBe("1");
      expect(body["violated-policies"], `${at}: violated-policies`).toEqual([policy]);
    }
  }
  // Step 5: one token's time (1 s at 1/s) on the app's injected clock, no sleep.
  await fetch(`${t.base()}/__advance?ms=1000`);
  const reply = await get(t, path);
  expect(reply.status, `${name} ${where} step 5 (refilled one token)`).toBe(200);
  expect(parseLimits(reply.headers, `${name} ${where} step 5`).limits.get(policy)).toEqual({ r: 0, t: 1 });
}

/** runtimeSuite declares the tests one runtime must pass; the caller starts the runtime in beforeAll. */
export function runtimeSuite(name: string, t: Target): void {
  it(`${name}: floodgate/http withRateLimit: burst, then 429 with the headers, then refill`, async () => {
    await burstThenRefill(t, name, "/http/a", "api", "withRateLimit");
  });

  it(`${name}: floodgate/hono rateLimit: burst, then 429 with the headers, then refill`, async () => {
    await burstThenRefill(t, name, "/hono/hello", "hono", "Hono");
    expect((await get(t, "/hono/hello")).body.length, "the handler did not run on a refusal").toBeGreaterThan(0);
  });

  it(`${name}: the runtime's own clock refills (capacity 1, 1/s: 429, then 200 again within 3 s)`, async () => {
    expect((await get(t, "/real/")).status, "first call").toBe(200);
    // The next token is 1000 ms away: a call right after is refused however slow a loaded machine makes the round
    // trip (at 50/s, a token every 20 ms, two round trips of over 20 ms each both got a token: CI, load 6).
    expect((await get(t, "/real/")).status, `${name}: a refusal right after the burst`).toBe(429);
    // Polled, not slept: the first 200 ends the wait; a clock that never advances fails after 3 s.
    await waitFor(
      "a refill on the runtime's clock",
      async () => ((await get(t, "/real/")).status === 200 ? true : undefined),
      3000,
    );
  });

  it(`${name}: the client address is found without a peer option (no FG_NO_PEER warning)`, async () => {
    const warnings = (await (await fetch(`${t.base()}/__warnings`)).json()) as string[];
    expect(warnings, `${name}: warnings`).toEqual([]);
  });

  it(`${name}: floodgate/client rateLimitedFetch against a floodgate-limited server honours Retry-After`, async () => {
    // adapt off: the third call gets a 429 with Retry-After: 1 and is retried once after exactly 1000 ms.
    const plain = (await (await fetch(`${t.base()}/__client?adapt=0`)).json()) as Record<string, unknown>;
    expect(plain, `${name}: client without pacing`).toEqual({
      statuses: [200, 200, 200],
      retries: [{ status: 429, waitMs: 1000 }],
      virtualMs: 1000,
    });
    // adapt on (the default): the RateLimit fields of the second response (r=0, t=1) pace the third; no 429.
    const paced = (await (await fetch(`${t.base()}/__client`)).json()) as Record<string, unknown>;
    expect(paced, `${name}: client pacing itself from the RateLimit fields`).toEqual({
      statuses: [200, 200, 200],
      retries: [],
      virtualMs: 1000,
    });
  });
}
