// fake-time.ts: an injected clock with timers that fire only when a test advances time (acquire, listeners).

import type { Timers } from "../../src/index.js";

/** FakeTime is an injected clock with timers that run only when the test advances time. */
export class FakeTime {
  nowMs = 0;
  #nextId = 1;
  readonly #pending = new Map<number, { dueMs: number; fn: () => void }>();
  /** asked records every delay passed to setTimeout, in order. */
  readonly asked: number[] = [];
  /**
   * @param nodeClamp makes the timers behave like Node's: a delay above 2^31-1 ms
   * (setTimeout's limit) fires after 1 ms.
   */
  constructor(readonly nodeClamp = false) {}
  readonly timers: Timers = {
    setTimeout: (fn, ms) => {
      const id = this.#nextId++;
      this.asked.push(ms);
      const delayMs = this.nodeClamp && ms > 2 ** 31 - 1 ? 1 : ms;
      this.#pending.set(id, { dueMs: this.nowMs + delayMs, fn });
      return id;
    },
    clearTimeout: (h) => {
      this.#pending.delete(h as number);
    },
  };
  readonly now = (): number => this.nowMs;
  /** live is the number of timers set and neither fired nor cleared. */
  get live(): number {
    return this.#pending.size;
  }
  /** advance moves the clock by ms, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const endMs = this.nowMs + ms;
    await settle();
    for (;;) {
      let next: [number, { dueMs: number; fn: () => void }] | undefined;
      for (const e of this.#pending) if (e[1].dueMs <= endMs && (!next || e[1].dueMs < next[1].dueMs)) next = e;
      if (!next) break;
      this.#pending.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].dueMs);
      next[1].fn();
      await settle();
    }
    this.nowMs = endMs;
    await settle();
  }
}

/** settle lets pending promise callbacks run (a few macrotask turns, no wall-clock wait). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
