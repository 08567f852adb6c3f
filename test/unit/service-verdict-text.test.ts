// service-verdict-text.test.ts: the HTTP API's fast rendering of a verdict (verdictText) is byte for byte
// JSON.stringify(verdictJson(v)) over every kind of status: limited, refused, shadow, unlimited, replaced, unmatched,
// unknown domain, several limits, text that JSON must escape, a degraded verdict.

import { describe, expect, it } from "vitest";
import { fixedWindow, RateLimiter } from "../../src/index.js";
import { parseConfig } from "../../src/service/config.js";
import { type DecideInput, Decider } from "../../src/service/decide.js";
import { verdictJson, verdictText } from "../../src/service/http.js";

const CONFIG = `
domain: shop
descriptors:
  - key: a
    rate_limit: { unit: second, requests_per_unit: 2 }
  - key: shadow
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: free
    rate_limit: { unit: hour, requests_per_unit: 1, name: free }
  - key: gold
    rate_limit: { unit: day, requests_per_unit: 100, replaces: [{ name: free }] }
  - key: open
    rate_limit: { unlimited: true }
  - key: "q\\"uote"
    value: "é\\u2028/</script>"
    rate_limit: { unit: second, requests_per_unit: 3, name: "Not a valid policy name \\"x\\"", algorithm: gcra }
  - key: tb
    rate_limit: { unit: second, requests_per_unit: 2, algorithm: token_bucket, burst: 4 }
`;

const d = (key: string, value = "v", hitsAddend?: number) => ({ entries: [{ key, value }], hitsAddend });

describe("verdictText", () => {
  it("equals JSON.stringify(verdictJson(v)) for every kind of status, request after request", async () => {
    const clock = { now: 1_000_000 };
    const limiter = new RateLimiter({ policy: fixedWindow({ limit: 1, windowMs: 1000 }), now: () => clock.now });
    const decider = new Decider(limiter, parseConfig([{ file: "t.yaml", text: CONFIG }]));
    const inputs: DecideInput[] = [
      { domain: "shop", descriptors: [d("a")] },
      { domain: "shop", descriptors: [d("a"), d("a"), d("a")] },
      { domain: "shop", descriptors: [d("shadow"), d("shadow")] },
      { domain: "shop", descriptors: [d("free"), d("gold")] },
      { domain: "shop", descriptors: [d("open"), d("nothing")] },
      { domain: "shop", descriptors: [d('q"uote', "é\u2028/</script>", 2)] },
      { domain: "shop", descriptors: [d("tb", "x", 0), d("tb", "y", 3)] },
      { domain: "elsewhere", descriptors: [d("a")] },
    ];
    let compared = 0;
    for (let round = 0; round < 3; round++) {
      for (const input of inputs) {
        const v = await decider.decide(input);
        const want = JSON.stringify(verdictJson(v));
        expect(verdictText(v), `round ${round} ${JSON.stringify(input)}`).toBe(want);
        const degraded = { ...v, degraded: true };
        expect(verdictText(degraded)).toBe(JSON.stringify(verdictJson(degraded)));
        compared++;
      }
      clock.now += 400;
    }
    expect(compared).toBe(inputs.length * 3);
  });
});
