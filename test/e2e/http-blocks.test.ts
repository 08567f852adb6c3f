// http-blocks.test.ts: a blocked client gets 429 with the block's true Retry-After over real HTTP, on every adapter (issue 10).

import { afterEach, describe, expect, it } from "vitest";
import { fixedWindow } from "../../src/core/fixed-window.js";
import type { HttpRequest } from "../../src/http/core.js";
import { joinKey } from "../../src/http/key.js";
import { RateLimiter } from "../../src/limiter.js";
import { ADAPTERS, hit, type Running, start } from "./servers.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe.each(ADAPTERS)("%s adapter: blocks", (adapter) => {
  it("an explicit block and an automatic one answer 429 with Retry-After = the time left of the block", async () => {
    let t = 1_020_000; // the start of an aligned 60 s window
    const limiter = new RateLimiter({
      policy: fixedWindow({ name: "login", limit: 2, windowMs: 60_000 }),
      now: () => t,
      autoBlock: { refusals: 2, withinMs: 60_000, blockMs: 15 * 60_000 },
    });
    running = await start(adapter, { limiter, key: (req: HttpRequest) => req.header("x-user") ?? "anon" });
    const as = (user: string) => ({ headers: { "x-user": user } });

    // The HTTP layer keys a client by its key function's string as joinKey(["key", ...]) (src/http/core.ts).
    await limiter.block(joinKey(["key", "mallory"]), 3_600_000);
    const m = await hit(running.base, "/", as("mallory"));
    expect(m.status, "explicitly blocked").toBe(429);
    expect(m.headers.get("retry-after"), "one hour, longer than the 60 s window").toBe("3600");

    expect((await hit(running.base, "/", as("ann"))).status).toBe(200);
    expect((await hit(running.base, "/", as("ann"))).status).toBe(200);
    const first = await hit(running.base, "/", as("ann"));
    expect([first.status, first.headers.get("retry-after")], "refusal 1: the window's wait").toEqual([429, "60"]);
    const second = await hit(running.base, "/", as("ann"));
    expect([second.status, second.headers.get("retry-after")], "refusal 2 blocks for 15 minutes").toEqual([429, "900"]);
    t += 120_000;
    const later = await hit(running.base, "/", as("ann"));
    expect([later.status, later.headers.get("retry-after")], "2 minutes on: a new window, still blocked").toEqual([
      429,
      "780",
    ]);
    t += 780_000;
    expect((await hit(running.base, "/", as("ann"))).status, "the block is over").toBe(200);
  });
});
