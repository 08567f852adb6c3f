// vectors.test.ts: replays every shared decision vector against the pure core and against RateLimiter + MemoryStore.

import { describe, expect, it } from "vitest";
import { MemoryStore, type Policy, RateLimiter } from "../../src/index.js";
import {
  buildPolicies,
  buildPolicy,
  describeStep,
  errorCode,
  fromDecision,
  loadVectors,
  type PolicySpec,
  PureEngine,
  pick,
  replaceIndex,
  type Step,
  type VectorCase,
  type Want,
} from "../vectors/load.js";

/** Got is what one step produced, in the shape of a Want. */
type Got = Want | undefined;

/**
 * LimiterMode picks the RateLimiter calls a replay uses: the explicit-time pairs
 * (consumeAt, peekAt, refundAt), the clock-reading calls with the injected clock
 * (consume, peek, refund), or the synchronous consumeSync.
 */
type LimiterMode = "at" | "clock" | "sync";

/** LimiterEngine runs a case on RateLimiter with a MemoryStore, at the step times. */
class LimiterEngine {
  readonly limiter: RateLimiter;
  clockMs = 0;
  constructor(
    policies: Policy[],
    readonly mode: LimiterMode,
  ) {
    this.limiter = new RateLimiter({ policy: policies, store: new MemoryStore(), now: () => this.clockMs });
  }
  async step(s: Step): Promise<Got> {
    const key = s.key ?? "k";
    const l = this.limiter;
    this.clockMs = s.at;
    try {
      switch (s.op ?? "consume") {
        case "consume": {
          const cost = s.cost ?? 1;
          if (this.mode === "at") return fromDecision(await l.consumeAt(key, s.at, cost));
          if (this.mode === "sync") return fromDecision(l.consumeSync(key, cost));
          // The shorthand: no cost argument means 1.
          return fromDecision(await (s.cost === undefined ? l.consume(key) : l.consume(key, cost)));
        }
        case "peek":
          return fromDecision(await (this.mode === "at" ? l.peekAt(key, s.at) : l.peek(key)));
        case "refund":
          await (this.mode === "at" ? l.refundAt(key, s.at, s.cost ?? 1) : l.refund(key, s.cost ?? 1));
          return undefined;
        case "reset":
          await l.reset(key);
          return undefined;
        case "replace": {
          const target = l.policies[replaceIndex(l.policies, s)] as Policy;
          l.replacePolicy(target.name, buildPolicy(s.policy as PolicySpec), { strategy: s.strategy });
          return undefined;
        }
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
        for (const mode of ["at", "clock", "sync"] as const) {
          it(`${c.name}: RateLimiter + MemoryStore (${mode})`, async () => {
            const engine = new LimiterEngine(buildPolicies(c), mode);
            for (const s of c.steps) {
              const got = await engine.step(s);
              expect(pick(s.want, got), message(f.file, c, s, `memory ${mode}`, got)).toEqual(s.want);
            }
          });
        }
      }
    });
  }
});
