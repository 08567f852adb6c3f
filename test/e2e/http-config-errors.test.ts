// http-config-errors.test.ts: a broken injected clock (or another coded configuration error) reaches each framework's error path, never taken for a store failure.

import { afterEach, describe, expect, it } from "vitest";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { HttpRateLimit, isConfigError } from "../../src/http/core.js";
import type { Store } from "../../src/stores/store.js";
import { ADAPTERS, hit, type Running, start } from "./servers.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const policy = tokenBucket({ name: "api", capacity: 5, refillRate: 1 });

/** CLOCKS are broken injected clocks: each must fail the first request with ERR_INVALID_CLOCK. */
const CLOCKS: [string, () => number][] = [
  ["returns NaN", () => Number.NaN],
  ["returns Infinity", () => Number.POSITIVE_INFINITY],
  ["returns a string", () => "1000" as unknown as number],
  [
    "throws",
    () => {
      throw new Error("clock unplugged");
    },
  ],
];

describe.each(ADAPTERS)("%s adapter: a broken clock is a bug, not an outage", (adapter) => {
  // Regression (issue 8, defect 6): the HTTP layer took ERR_INVALID_CLOCK for a store failure and let every request
  // through silently (or answered 500 without the error when the clock threw).
  it.each(CLOCKS)("a clock that %s fails each request through the framework's error path, coded", async (_how, now) => {
    const seen: unknown[] = [];
    const storeErrors: unknown[] = [];
    running = await start(
      adapter,
      // node withRateLimit reports through onError: the hook below sees it there; a store failure would too.
      adapter === "node" ? { policy, now } : { policy, now, onError: (e: unknown) => void storeErrors.push(e) },
      { error: (e) => void seen.push(e) },
    );
    for (let i = 1; i <= 2; i++) {
      const r = await hit(running.base, "/");
      expect(r.status, `${adapter} request ${i}: ${r.body}`).toBe(500);
      expect(r.headers.get("ratelimit"), "no decision, no fields").toBeNull();
    }
    expect(
      seen.map((e) => (e as { code?: string }).code),
      `${adapter}: errors seen by the app's error path`,
    ).toEqual(["ERR_INVALID_CLOCK", "ERR_INVALID_CLOCK"]);
    expect((seen[0] as Error).message).toMatch(/\(\{ now \}\)/);
    expect(storeErrors, "never reported as a store failure").toEqual([]);
  });
});

describe("configuration errors vs store failures", () => {
  it.each([
    ["ERR_INVALID_CLOCK", true],
    ["ERR_INVALID_POLICY", true],
    ["ERR_INVALID_OPTION", true],
    ["ERR_UNKNOWN_OPTION", true],
    ["ERR_STORE", false],
    ["ERR_COST_EXCEEDS_LIMIT", false],
  ])("a floodgate error coded %s is a configuration error: %s", async (code, config) => {
    const { FloodgateTypeError } = await import("../../src/core/errors.js");
    expect(isConfigError(new FloodgateTypeError(code as never, "x"))).toBe(config);
  });

  it("an error that merely carries an ERR_INVALID_* code (Node's, a Redis client's) is a store failure", () => {
    const nodeError = Object.assign(new TypeError("bad arg"), { code: "ERR_INVALID_ARG_TYPE" });
    expect(isConfigError(nodeError)).toBe(false);
    expect(isConfigError(new Error("ECONNREFUSED"))).toBe(false);
    expect(isConfigError(undefined)).toBe(false);
  });

  // Regression (issue 8, defect 6): on the asynchronous path (a store other than memory) the broken clock
  // was a store failure too: onStoreError "allow" let the request through.
  it("with an asynchronous store and an injected broken clock, check() rejects with ERR_INVALID_CLOCK", async () => {
    let calls = 0;
    const store: Store = {
      ownsClock: true,
      consume: async () => {
        calls++;
        throw new Error("the store must not be reached");
      },
      peek: async () => Promise.reject(new Error("unused")),
      refund: async () => {},
      reset: async () => {},
    };
    const errors: unknown[] = [];
    const core = new HttpRateLimit({
      policy,
      store,
      now: () => Number.NaN,
      onError: (e) => void errors.push(e),
    });
    const req = { method: "GET", url: "/", path: "/", route: undefined, peer: "192.0.2.1", header: () => undefined };
    await expect(Promise.resolve().then(() => core.check({ ...req, raw: {} }))).rejects.toMatchObject({
      code: "ERR_INVALID_CLOCK",
    });
    expect(errors).toEqual([]);
    expect(calls).toBe(0);
  });
});
