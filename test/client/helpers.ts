// helpers.ts: a virtual clock with timers, and a local HTTP server, for the client tests.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Timers } from "../../src/index.js";

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * FakeClock is a virtual clock: `now()` moves only when the test advances it,
 * and its timers fire in due order as it does. `pending` counts live timers, so
 * a test can check that nothing is left behind.
 */
export class FakeClock implements Timers {
  t: number;
  #next = 1;
  #timers: Pending[] = [];
  /** asked records every delay passed to setTimeout, in order. */
  readonly asked: number[] = [];
  /**
   * @param nodeClamp makes the timers behave like Node's: a delay above 2^31-1 ms
   * (setTimeout's limit) fires after 1 ms.
   */
  constructor(
    start = 1_000_000,
    readonly nodeClamp = false,
  ) {
    this.t = start;
  }
  now = (): number => this.t;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.asked.push(ms);
    const delayMs = this.nodeClamp && ms > 2 ** 31 - 1 ? 1 : ms;
    this.#timers.push({ id, at: this.t + Math.max(0, delayMs), fn });
    this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((p) => p.id !== handle);
  }
  get pending(): number {
    return this.#timers.length;
  }
  /** nextAt is the due time of the earliest timer, or undefined. */
  get nextAt(): number | undefined {
    return this.#timers[0]?.at;
  }
  /** advance moves the clock by `ms`, firing every timer due on the way (letting promises settle between). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const p = this.#timers[0];
      if (p === undefined || p.at > end) break;
      this.#timers.shift();
      this.t = Math.max(this.t, p.at);
      p.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
  /** runNext jumps to the earliest timer and fires it; false when none is pending. */
  async runNext(): Promise<boolean> {
    const at = this.nextAt;
    if (at === undefined) return false;
    await this.advance(at - this.t);
    return true;
  }
}

/** settle lets pending promise chains run (microtasks and a few macrotask turns). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** TestServer is a node:http server on 127.0.0.1 with a swappable handler. */
export interface TestServer {
  url: string;
  origin: string;
  server: Server;
  handler: Handler;
  /** log holds every request seen: method, url and arrival order. */
  log: { method: string; url: string }[];
  close(): Promise<void>;
}

/** startServer listens on 127.0.0.1 on a free port. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const ts: TestServer = {
    url: "",
    origin: "",
    server: undefined as unknown as Server,
    handler,
    log: [],
    close: async () => {
      ts.server.closeAllConnections();
      await new Promise<void>((r) => ts.server.close(() => r()));
    },
  };
  ts.server = createServer((req, res) => {
    ts.log.push({ method: req.method ?? "", url: req.url ?? "" });
    Promise.resolve(ts.handler(req, res)).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => ts.server.listen(0, "127.0.0.1", () => r()));
  const { port } = ts.server.address() as AddressInfo;
  ts.origin = `http://127.0.0.1:${port}`;
  ts.url = `${ts.origin}/`;
  return ts;
}

/**
 * drive runs `work` on the virtual clock: whenever no HTTP request is in
 * flight (`busy()` is false) and the work has not finished, it jumps the clock
 * to the next timer. Real network time never moves the virtual clock, so a
 * client and a server sharing it see exactly the same instants.
 */
export async function drive<T>(clock: FakeClock, busy: () => boolean, work: Promise<T>, maxSteps = 10_000): Promise<T> {
  let done = false;
  const result = work.finally(() => {
    done = true;
  });
  for (let i = 0; i < maxSteps && !done; i++) {
    await settle();
    if (done) break;
    if (busy()) {
      await new Promise<void>((r) => setTimeout(r, 1));
      continue;
    }
    await settle();
    if (done || busy()) continue;
    if (!(await clock.runNext())) await new Promise<void>((r) => setTimeout(r, 1));
  }
  return result;
}
