// vectors.test.ts: replays every shared decision vector against the pure core and against RateLimiter + MemoryStore.

import { describe, expect, it } from "vitest";
import { MemoryStore, type Policy, RateLimiter } from "../../src/index.js";
import {
  buildPolicies,
  describeStep,
  errorCode,
  fromDecision,
  loadVectors,
  PureEngine,
  pick,
  type Step,
  type VectorCase,
  type Want,
} from "../vectors/load.js";

/** Got is what one step produced, in the shape of a Want. */
type Got = Want | undefined;

/** LimiterEngine runs a case on RateLimiter with a MemoryStore, at the step times. */
class LimiterEngine {
  readonly limiter: RateLimiter;
  clockMs = 0;
  constructor(policies: Policy[]) {
    this.limiter = new RateLimiter({ policy: policies, store: new MemoryStore(), now: () => this.clockMs });
  }
  async step(s: Step): Promise<Got> {
    const key = s.key ?? "k";
    this.clockMs = s.at;
    try {
      switch (s.op ?? "consume") {
        case "consume":
          return fromDecision(await this.limiter.consumeAt(key, s.at, s.cost ?? 1));
        case "peek":
          return fromDecision(await this.limiter.peekAt(key, s.at));
        case "refund":
          await this.limiter.refundAt(key, s.at, s.cost ?? 1);
          return undefined;
        case "reset":
          await this.limiter.reset(key);
          return undefined;
      }
    } catch (e) {
      return errorCode(e);
    }
  }
}

function message(file: string, c: VectorCase, s: Step, engine: string, got: Got): string {
  return `${file} "${c.name}" [${engine}] ${describeStep(s)} = ${JSON.stringify(got)} want ${JSON.stringify(
    s.want,
  )} (${s.why})`;
}

const files = loadVectors();

describe("decision vectors", () => {
  it("cover every algorithm and composite policies", () => {
    const names = files.map((f) => f.file);
    for (const f of [
      "token-bucket.json",
      "gcra.json",
      "leaky-bucket.json",
      "fixed-window.json",
      "sliding-window.json",
      "sliding-log.json",
      "composite.json",
    ]) {
      expect(names, `missing test/vectors/${f}`).toContain(f);
    }
  });

  for (const f of files) {
    describe(f.file, () => {
      for (const c of f.cases) {
        it(`${c.name}: step numbers ascend and every row has a reason`, () => {
          c.steps.forEach((s, i) => {
            expect(s.step, `${f.file} "${c.name}" row ${i}`).toBe(i + 1);
            expect(s.why.length, `${f.file} "${c.name}" step ${s.step} needs a why`).toBeGreaterThan(5);
            const op = s.op ?? "consume";
            if (op === "consume" || op === "peek") expect(s.want, `step ${s.step} needs a want`).toBeDefined();
          });
        });
        it(`${c.name}: pure core`, () => {
          const engine = new PureEngine(buildPolicies(c));
          for (const s of c.steps) {
            const got = engine.step(s);
            expect(pick(s.want, got), message(f.file, c, s, "pure", got)).toEqual(s.want);
          }
        });
        it(`${c.name}: RateLimiter + MemoryStore`, async () => {
          const engine = new LimiterEngine(buildPolicies(c));
          for (const s of c.steps) {
            const got = await engine.step(s);
            expect(pick(s.want, got), message(f.file, c, s, "memory", got)).toEqual(s.want);
          }
        });
      }
    });
  }
});
