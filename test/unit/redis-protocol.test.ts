// redis-protocol.test.ts: the TypeScript side of decide.lua's, node.lua's and lone.lua's ARGV and reply layout, without Redis.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fixedWindow,
  gcra,
  leakyBucket,
  type Policy,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";
import {
  decode,
  encode,
  encodeNode,
  loadCalls,
  SCRIPTS,
  specOf,
  type WireCall,
} from "../../src/stores/redis/protocol.js";
import { DECIDE, LONE, NODE } from "../../src/stores/redis/scripts.generated.js";
import { budget } from "./budget.js";

const tb = tokenBucket({ name: "tb", capacity: 8, refillRate: 10 / 13 });
const ts = tokenBucket({ name: "ts", capacity: 8, refillAmount: 2, refillIntervalMs: 500 });
const gc = gcra({ name: "gc", limit: 10, periodMs: 1000, burst: 20 });
const lb = leakyBucket({ name: "lb", capacity: 8, leakRate: 2 });
const fw = fixedWindow({ name: "fw", limit: 8, windowMs: 1000 });
const sw = slidingWindow({ name: "sw", limit: 8, windowMs: 1000 });
const sl = slidingLog({ name: "sl", limit: 8, windowMs: 1000 });
const ALL: Policy[] = [tb, ts, gc, lb, fw, sw, sl];

/** call builds a WireCall with one key per policy, named after the user key and the policy. */
function call(op: WireCall["op"], policies: readonly Policy[], cost: number, key = "k"): WireCall {
  return { op, policies, cost, keys: policies.map((p) => `fg:{${key}}:${p.id}`) };
}

/** Parsed is a call read back from decide.lua's ARGV, the way decide.lua reads it. */
interface Parsed {
  op: string;
  policies: { code: string; params: number[] }[];
  cost: number;
  keys: string[];
  /** members: an "a" set's per-member cost and shadow flag. */
  members?: { cost: number; shadow: boolean; item: number }[];
}

/**
 * parseDecide reads KEYS and ARGV as decide.lua's header describes them (nowMs,
 * graceMs, specs, sets, runs), independently of protocol.ts, and returns the calls.
 */
function parseDecide(
  keys: readonly string[],
  args: readonly string[],
  distinct = true,
): { head: string[]; calls: Parsed[]; runs: number } {
  let a = 2;
  const num = (): number => {
    const v = args[a++];
    expect(v, `ARGV[${a}]`).toMatch(/^-?[\d.e+-]+$/);
    return Number(v);
  };
  const specs: { code: string; params: number[] }[] = [];
  for (let i = num(); i > 0; i--) specs.push({ code: args[a++] as string, params: [num(), num(), num()] });
  const sets: { op: string; specs: number[]; members?: { cost: number; shadow: boolean; item: number }[] }[] = [];
  for (let i = num(); i > 0; i--) {
    const op = args[a++] as string;
    const n = num();
    const idx: number[] = [];
    for (let j = 0; j < n; j++) idx.push(num());
    if (op === "a" || op === "v") {
      // An "a" (or dry-run "v") set: n costs, then n numbers item * 2 + shadow.
      const costs = idx.map(() => num());
      const flags = idx.map(() => num());
      sets.push({
        op,
        specs: idx,
        members: costs.map((cost, j) => ({
          cost,
          shadow: (flags[j] as number) % 2 === 1,
          item: Math.floor((flags[j] as number) / 2),
        })),
      });
    } else sets.push({ op, specs: idx });
  }
  const calls: Parsed[] = [];
  let k = 0;
  const runs = num();
  for (let r = runs; r > 0; r--) {
    const count = num();
    const set = sets[num() - 1] as (typeof sets)[number];
    const cost = num();
    // decide.lua reads the keys of a run of one-policy consumes with one MGET: no key twice.
    if (distinct && set.op === "c" && set.specs.length === 1) {
      const ks = keys.slice(k, k + count);
      expect(new Set(ks).size, `run of ${ks.join(",")}: distinct keys`).toBe(ks.length);
    }
    for (let j = 0; j < count; j++) {
      const n = set.specs.length;
      calls.push({
        op: set.op,
        policies: set.specs.map((i) => specs[i - 1] as { code: string; params: number[] }),
        cost,
        keys: keys.slice(k, k + n),
        ...(set.members === undefined ? {} : { members: set.members }),
      });
      k += n;
    }
  }
  expect({ argsRead: a, keysRead: k }, "every ARGV and KEYS entry is read").toEqual({
    argsRead: args.length,
    keysRead: keys.length,
  });
  return { head: [args[0] as string, args[1] as string], calls, runs };
}

/**
 * parseNode reads KEYS and ARGV as node.lua's header describes them: one routing
 * key, then [nowMs, graceMs, nKeys, keys..., and decide.lua's specs, sets, runs].
 */
function parseNode(
  keys: readonly string[],
  args: readonly string[],
): { head: string[]; calls: Parsed[]; runs: number } {
  expect(keys.length, "node.lua declares one key").toBe(1);
  const n = Number(args[2]);
  expect(String(n), "ARGV[3] is the keys' count").toBe(args[2]);
  const carried = args.slice(3, 3 + n);
  if (n > 0) expect(keys[0], "the declared key is the first key carried").toBe(carried[0]);
  // node.lua reads every key up front and keeps them current: a run may hold a key twice.
  return parseDecide(carried, [args[0] as string, args[1] as string, ...args.slice(3 + n)], false);
}

/** expected renders a WireCall as parseDecide reads it back. */
function expected(c: WireCall): Parsed {
  return {
    op: c.op,
    policies: c.policies.map((p) => ({ code: p.algorithm.code, params: [0, 1, 2].map((i) => p.params[i] ?? 0) })),
    cost: c.cost,
    keys: [...c.keys],
    ...(c.members === undefined ? {} : { members: c.members.map((m) => ({ ...m })) }),
  };
}

describe("encode: which script, which KEYS and ARGV", () => {
  it("decide.lua: a one-policy consume whose key its run already holds starts a new run (one MGET per run); node.lua keeps one run", () => {
    const keys = ["a", "b", "a", "c", "a", "a"];
    const one = [tb];
    const calls = keys.map((k) => call("c", one, 1, k));
    const d = encode(undefined, "0", calls);
    const got = parseDecide(d.keys, d.args);
    expect({ calls: got.calls, runs: got.runs }).toEqual({ calls: calls.map(expected), runs: 4 });
    const n = encodeNode(undefined, "0", calls);
    const gotNode = parseNode(n.keys, n.args);
    expect({ calls: gotNode.calls, runs: gotNode.runs }).toEqual({ calls: calls.map(expected), runs: 1 });
  });

  it("a lone consume or peek of one policy runs its algorithm's lone script: ['p1 p2 p3 cost base'(, nowMs, graceMs)]", () => {
    for (const p of ALL) {
      const params = [0, 1, 2].map((i) => String(p.params[i] ?? 0)).join(" ");
      // base: the smallest power of 2 (2 or more) above the policy's limit (16 for 8, 32 for gc's 20).
      let base = 2;
      while (base <= p.limit) base *= 2;
      const rows: [string, number | undefined, number, string[]][] = [
        ["server clock: the spec alone, no time, no grace", undefined, 3, [`${params} 3 ${base}`]],
        [
          "injected time: the time and the grace",
          1_700_000_000_123,
          1,
          [`${params} 1 ${base}`, "1700000000123", "1000"],
        ],
        ["a peek is cost 0", 5, 0, [`${params} 0 ${base}`, "5", "1000"]],
      ];
      for (const [why, nowMs, cost, args] of rows) {
        const c = call("c", [p], cost);
        const got = encode(nowMs, "1000", [c]);
        expect(
          { script: got.script.name, keys: got.keys, args: got.args },
          `${p.algorithm.code}: ${why}: encode(${nowMs}, cost=${cost})`,
        ).toEqual({ script: (LONE[p.algorithm.code] as { name: string }).name, keys: c.keys, args });
      }
    }
  });

  it("a lone call's base is the smallest power of 2 above the policy's limit, from 2", () => {
    const rows: [number, number][] = [
      [1, 2],
      [7, 8],
      [8, 16],
      [2 ** 20 - 1, 2 ** 20],
      [2 ** 20, 2 ** 21],
      [1e7, 2 ** 24],
      [1e12, 2 ** 40], // the largest capacity
    ];
    for (const [capacity, base] of rows) {
      const p = tokenBucket({ name: "b", capacity, refillRate: Math.min(capacity, 1e9) });
      const spec = encode(undefined, "0", [call("c", [p], 1)]).args[0] as string;
      expect(spec.split(" ")[4], `capacity ${capacity}: spec ${spec}`).toBe(String(base));
    }
  });

  it("an all-or-nothing call across keys (op a) runs decide.lua with its members' costs and shadow flags in its own set", () => {
    const x: WireCall = {
      op: "a",
      policies: [tb, ALL[1] as Policy, tb],
      cost: 0,
      keys: ["fg:{u1}:a", "fg:{r}:b", "fg:{u2}:a"],
      members: [
        { cost: 2, shadow: false, item: 0 },
        { cost: 5, shadow: true, item: 1 },
        { cost: 1, shadow: false, item: 2 },
      ],
    };
    const y: WireCall = {
      ...x,
      dryRun: true,
      keys: ["fg:{u3}:a", "fg:{u3}:b", "fg:{u4}:a"],
      members: [
        { cost: 1, shadow: true, item: 0 },
        { cost: 1, shadow: true, item: 0 },
        { cost: 0, shadow: false, item: 1 },
      ],
    };
    for (const calls of [[x], [x, y], [call("c", [tb], 1), x, y]]) {
      const got = encode(undefined, "1000", calls);
      expect(got.script.name, "decide.lua, never a lone script").toBe("decide");
      expect(parseDecide(got.keys, got.args).calls).toEqual(
        calls.map((c) => ({ ...expected(c), ...(c.dryRun ? { op: "v" } : {}) })),
      );
    }
  });

  it("params travel as JavaScript's shortest round-trip text, read back exactly", () => {
    const [, p1, p2] = specOf(tb);
    expect([p1, Number(p2) === 10 / 13, p2]).toEqual(["8", true, String(10 / 13)]);
  });

  it("a lone refund, reset, or consume of several policies runs decide.lua with one set and one run", () => {
    const rows: [string, WireCall, string[]][] = [
      [
        "refund of one policy",
        call("r", [tb], 2),
        ["1", "tb", "8", String(10 / 13), "0", "1", "r", "1", "1", "1", "1", "1", "2"],
      ],
      [
        "reset of one policy",
        call("d", [fw], 0),
        ["1", "fw", "8", "1000", "0", "1", "d", "1", "1", "1", "1", "1", "0"],
      ],
      [
        "consume of two policies",
        call("c", [ts, sl], 1),
        ["2", "ts", "8", "2", "500", "sl", "8", "1000", "0", "1", "c", "2", "1", "2", "1", "1", "1", "1"],
      ],
    ];
    for (const [why, c, tail] of rows) {
      const got = encode(42, "7", [c]);
      expect({ script: got.script.name, keys: got.keys, args: got.args }, why).toEqual({
        script: DECIDE.name,
        keys: c.keys,
        args: ["42", "7", ...tail],
      });
    }
  });

  it("a batch sends each policy and each (op, set) once, and same-set same-cost neighbours as one run", () => {
    const pair = [tb, fw];
    const one = [tb];
    const calls = [
      call("c", one, 1, "a"), // run 1: set 1 (c, [tb]) cost 1 ...
      call("c", one, 1, "b"), // ... two decisions
      call("c", pair, 1, "a"), // run 2: set 2 (c, [tb, fw]), tb not sent again
      call("r", one, 1, "a"), // run 3: set 3 (r, [tb]): another op is another set
      call("c", one, 2, "c"), // run 4: set 1 again, another cost
    ];
    const got = encode(undefined, "1000", calls);
    expect(got.script).toBe(DECIDE);
    expect(got.args).toEqual([
      "",
      "0",
      "2", // specs
      "tb",
      "8",
      String(10 / 13),
      "0",
      "fw",
      "8",
      "1000",
      "0",
      "3", // sets
      "c",
      "1",
      "1",
      "c",
      "2",
      "1",
      "2",
      "r",
      "1",
      "1",
      "4", // runs
      "2",
      "1",
      "1",
      "1",
      "2",
      "1",
      "1",
      "3",
      "1",
      "1",
      "1",
      "2",
    ]);
    expect(got.keys).toEqual(calls.flatMap((c) => c.keys));
  });

  it("property: any batch sent by encodeNode, read back as node.lua reads it, gives the calls sent, in order", () => {
    const sets: Policy[][] = [[tb], [gc], [tb, fw], [lb, sw, gc], [fw]];
    const callArb = fc.record({
      op: fc.constantFrom("c", "c", "c", "r", "d") as fc.Arbitrary<WireCall["op"]>,
      set: fc.integer({ min: 0, max: sets.length - 1 }),
      cost: fc.integer({ min: 0, max: 3 }),
      key: fc.constantFrom("a", "b", "c", "user:1", "%25"),
    });
    fc.assert(
      fc.property(
        fc.array(callArb, { minLength: 1, maxLength: 60 }),
        fc.option(fc.nat(), { nil: undefined }),
        (cs, t) => {
          const calls = cs.map((c) => call(c.op, sets[c.set] as Policy[], c.op === "d" ? 0 : c.cost, c.key));
          const got = encodeNode(t, "1000", calls);
          expect(got.script).toBe(NODE);
          const parsed = parseNode(got.keys, got.args);
          expect(parsed.head).toEqual(t === undefined ? ["", "0"] : [String(t), "1000"]);
          expect(parsed.calls).toEqual(calls.map(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: any batch read back as decide.lua reads it gives the calls sent, in order", () => {
    const sets: Policy[][] = [[tb], [gc], [sl], [tb, fw], [lb, sw, gc], [ts], [fw]];
    const callArb = fc.record({
      op: fc.constantFrom("c", "c", "c", "r", "d") as fc.Arbitrary<WireCall["op"]>,
      set: fc.integer({ min: 0, max: sets.length - 1 }),
      cost: fc.integer({ min: 0, max: 3 }),
      key: fc.constantFrom("a", "b", "{", "%7B", ""),
    });
    fc.assert(
      fc.property(
        fc.array(callArb, { minLength: 2, maxLength: 60 }),
        fc.option(fc.nat(), { nil: undefined }),
        (cs, t) => {
          const calls = cs.map((c) => call(c.op, sets[c.set] as Policy[], c.op === "d" ? 0 : c.cost, c.key));
          const got = encode(t, "1000", calls);
          expect(got.script).toBe(DECIDE);
          const parsed = parseDecide(got.keys, got.args);
          expect(parsed.head).toEqual(t === undefined ? ["", "0"] : [String(t), "1000"]);
          expect(parsed.calls).toEqual(calls.map(expected));
        },
      ),
      { numRuns: budget(300, 50) },
    );
  });

  it("property: large batches (many sets, many policies, long runs) read back as sent, as compact as a Map-based encoder", () => {
    // Past 8 sets or policies batchArgs looks them up in a Map instead of by a scan, and a run of
    // more than 32 keys grows its key table: both must say the same as the small case.
    const many: Policy[] = Array.from({ length: 12 }, (_, i) =>
      tokenBucket({ name: `p${i}`, capacity: 8 + i, refillRate: 1 }),
    );
    const sets: Policy[][] = [...many.map((p) => [p]), [many[0] as Policy, many[1] as Policy], [...ALL]];
    // Equal arrays of another identity are other sets (see batchArgs).
    sets.push([...(sets[0] as Policy[])]);
    const callArb = fc.record({
      op: fc.constantFrom("c", "c", "c", "c", "r", "p") as fc.Arbitrary<WireCall["op"]>,
      set: fc.integer({ min: 0, max: sets.length - 1 }),
      cost: fc.integer({ min: 1, max: 2 }),
      key: fc.integer({ min: 0, max: 150 }),
    });
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 2, maxLength: 400 }), (cs) => {
        const calls = cs.map((c) => call(c.op, sets[c.set] as Policy[], c.cost, `user:${c.key}`));
        for (const node of [false, true]) {
          const got = node ? encodeNode(7, "1000", calls) : encode(7, "1000", calls);
          const parsed = node ? parseNode(got.keys, got.args) : parseDecide(got.keys, got.args);
          expect(parsed.calls).toEqual(calls.map(expected));
          // As compact as a Map per (op, policy array) and per policy: each once.
          const specsSent = Number(got.args[node ? 3 + Number(got.args[2]) : 2]);
          expect(specsSent).toBe(new Set(calls.flatMap((c) => c.policies)).size);
          const setKeys = new Set(calls.map((c) => `${c.op}:${sets.indexOf(c.policies as Policy[])}`));
          const setsSent = Number(got.args[(node ? 4 + Number(got.args[2]) : 3) + 4 * specsSent]);
          expect(setsSent).toBe(setKeys.size);
          // A run breaks only where it must: another set or cost, or (decide.lua) a key the run holds.
          let runs = 0;
          let held = new Set<string>();
          for (let i = 0; i < calls.length; i++) {
            const c = calls[i] as WireCall;
            const prev = calls[i - 1];
            const one = c.op === "c" && c.keys.length === 1 ? (c.keys[0] as string) : undefined;
            if (
              prev === undefined ||
              prev.op !== c.op ||
              prev.policies !== c.policies ||
              prev.cost !== c.cost ||
              (!node && one !== undefined && held.has(one))
            ) {
              runs++;
              held = new Set();
            }
            if (one !== undefined) held.add(one);
          }
          expect(parsed.runs).toBe(runs);
        }
      }),
      { numRuns: budget(200, 30) },
    );
  });

  it("property: a call of one policy whose key is a string (no array) encodes exactly as with an array of it", () => {
    const sets: Policy[][] = [[tb], [gc], [tb, fw], [fw]];
    const callArb = fc.record({
      op: fc.constantFrom("c", "c", "r", "d") as fc.Arbitrary<WireCall["op"]>,
      set: fc.integer({ min: 0, max: sets.length - 1 }),
      cost: fc.integer({ min: 0, max: 2 }),
      key: fc.constantFrom("a", "b", "user:1"),
      asString: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 40 }), fc.boolean(), (cs, node) => {
        const calls = cs.map((c) => call(c.op, sets[c.set] as Policy[], c.op === "d" ? 0 : c.cost, c.key));
        const strung = calls.map((c, i) =>
          cs[i]?.asString && c.keys.length === 1 ? { ...c, keys: c.keys[0] as string } : c,
        );
        const enc = node ? encodeNode : encode;
        expect(enc(5, "1000", strung)).toEqual(enc(5, "1000", calls));
      }),
      { numRuns: budget(200, 30) },
    );
  });

  it("a policy with more params than the scripts read is refused, not truncated", () => {
    const wide = { ...tb, params: [1, 2, 3, 4] } as Policy;
    expect(() => encode(undefined, "0", [call("c", [wide], 1)])).toThrow(/has 4 params; the Redis scripts read 3/);
  });
});

describe("loadCalls: script calls that only load", () => {
  it("every script once, routed to the key's slot; decide.lua with nothing to do, each lone script as a peek of an unused key", () => {
    const route = "fg:{user:42}:tb:tb:c8r2";
    const got = loadCalls(route).map((c) => [c.script.name, c.keys, c.args]);
    expect(got).toEqual([
      ["decide", [route], ["", "0", "0", "0", "0"]],
      ["node", [route], ["", "0", "0", "0", "0", "0"]],
      ...Object.values(LONE).map((l) => [l.name, [`${route}:load`], ["1 1 1 0 2"]]),
    ]);
    expect(SCRIPTS).toEqual([DECIDE, NODE, ...Object.values(LONE)]);
    // The decide call's ARGV read as an empty batch (its key only routes the call); the lone
    // calls carry cost 0 (a peek writes nothing).
    expect(parseDecide([], ["", "0", "0", "0", "0"]).calls).toEqual([]);
    expect(parseNode([route], ["", "0", "0", "0", "0", "0"]).calls).toEqual([]);
  });
});

describe("decode: replies into decisions", () => {
  const calls = [
    call("c", [tb], 1, "a"),
    call("c", [tb, fw], 2, "b"),
    call("r", [tb], 1, "a"),
    call("d", [tb, fw], 0, "b"),
    call("c", [fw], 0, "c"),
    call("c", [tb], 3, "d"),
  ];
  const reply = [
    // step 1: a consume of one policy, admitted: remaining, resetAfterMs
    7, 1300,
    // step 2: a consume of two: the decision's allowed, then per policy (tb refuses: -1 - remaining,
    // retryAfterMs, resetAfterMs; fw would admit: remaining, resetAfterMs)
    0, -1, 2600, 2600, 8, 0,
    // step 3: a refund: 1; step 4: a reset: 1
    1, 1,
    // step 5: a peek: remaining, resetAfterMs
    8, 0,
    // step 6: a consume of one policy, refused with 2 remaining: -3, retryAfterMs, resetAfterMs
    -3, 400, 1300,
  ];

  it("each call gets its decision, in order; refunds and resets get undefined", () => {
    const got = decode(calls, reply);
    const view = got.map((d) =>
      d === undefined
        ? undefined
        : {
            allowed: d.allowed,
            remaining: d.remaining,
            retryAfterMs: d.retryAfterMs,
            resetAfterMs: d.resetAfterMs,
            policy: d.policy,
            per: d.policies.map((p) => [p.policy.name, p.allowed, p.remaining, p.retryAfterMs, p.resetAfterMs]),
          },
    );
    expect(view).toEqual([
      {
        allowed: true,
        remaining: 7,
        retryAfterMs: 0,
        resetAfterMs: 1300,
        policy: "tb",
        per: [["tb", true, 7, 0, 1300]],
      },
      {
        allowed: false,
        remaining: 0,
        retryAfterMs: 2600,
        resetAfterMs: 2600,
        policy: "tb",
        per: [
          ["tb", false, 0, 2600, 2600],
          ["fw", true, 8, 0, 0],
        ],
      },
      undefined,
      undefined,
      { allowed: true, remaining: 8, retryAfterMs: 0, resetAfterMs: 0, policy: "fw", per: [["fw", true, 8, 0, 0]] },
      {
        allowed: false,
        remaining: 2,
        retryAfterMs: 400,
        resetAfterMs: 1300,
        policy: "tb",
        per: [["tb", false, 2, 400, 1300]],
      },
    ]);
  });

  it("a lone consume admitted may come packed in one integer, resetAfterMs * base + remaining (base 16 above limit 8)", () => {
    const rows: [string, number, unknown, [number, number] | RegExp][] = [
      ["a number", 1, 1300 * 16 + 7, [7, 1300]],
      ["a numeric string (a client that gives integers as text)", 1, String(1300 * 16 + 7), [7, 1300]],
      ["a bigint", 1, BigInt(1300 * 16 + 7), [7, 1300]],
      ["nothing remaining, full now", 1, 0, [0, 0]],
      ["a peek", 0, 9 * 16 + 8, [8, 9]],
      ["the largest exact integer", 1, 2 ** 53 - 1, [15, 2 ** 49 - 1]],
      ["negative", 1, -5, /unexpected script reply/],
      ["fractional", 1, 16.5, /unexpected script reply/],
      ["beyond 2^53", 1, 2 ** 53, /unexpected script reply/],
      ["not a number", 1, "OK", /unexpected script reply/],
      ["null", 1, null, /unexpected script reply/],
    ];
    for (const [why, cost, reply, want] of rows) {
      const c = call("c", [tb], cost);
      const got = (): unknown => {
        const d = decode([c], reply)[0];
        return d && [d.allowed, d.remaining, d.retryAfterMs, d.resetAfterMs, d.policy];
      };
      if (want instanceof RegExp) expect(got, `${why}: decode(${String(reply)})`).toThrow(want);
      else expect(got(), `${why}: decode(${String(reply)})`).toEqual([true, want[0], 0, want[1], "tb"]);
    }
    // Only a lone call's reply may be packed: a batch, a consume of two policies or a refund is refused.
    for (const calls of [
      [call("c", [tb], 1), call("c", [tb], 1, "b")],
      [call("c", [tb, fw], 1)],
      [call("r", [tb], 1)],
    ]) {
      expect(() => decode(calls, 1300 * 16 + 7), `${calls.length} calls`).toThrow(/unexpected script reply/);
    }
  });

  it("an all-or-nothing call: the decision's allowed, then each member's outcome, admitted (2 items) or refused (3)", () => {
    const x: WireCall = {
      op: "a",
      policies: [tb, fw, tb],
      cost: 0,
      keys: ["fg:{u1}:a", "fg:{u1}:b", "fg:{u2}:a"],
      members: [
        { cost: 1, shadow: false, item: 0 },
        { cost: 1, shadow: false, item: 0 },
        { cost: 4, shadow: false, item: 1 },
      ],
    };
    const got = decode([x, call("c", [tb], 1)], [0, 6, 100, 7, 1000, -2, 900, 1300, 5, 700]).map(
      (d) => d && [d.allowed, d.policies.map((p) => [p.allowed, p.remaining, p.retryAfterMs, p.resetAfterMs])],
    );
    expect(got).toEqual([
      [
        false,
        [
          [true, 6, 0, 100],
          [true, 7, 0, 1000],
          [false, 1, 900, 1300],
        ],
      ],
      [true, [[true, 5, 0, 700]]],
    ]);
  });

  it("numeric strings (a client that returns text) decode the same", () => {
    expect(decode(calls, reply.map(String))).toEqual(decode(calls, reply));
  });

  it("a reply of the wrong shape throws, naming the reply; nothing is half-answered", () => {
    const bad: [string, unknown][] = [
      ["not an array", "OK"],
      ["empty", []],
      ["one short", reply.slice(0, -1)],
      ["one long", [...reply, 1]],
      ["a refusal cut after its first item", reply.slice(0, -2)],
      ["a number that is not one", ["x", 1300, ...reply.slice(2)]],
      ["a negative wait", [0, -1, -5, 2600, ...reply.slice(2)]],
      ["a remaining that is not one", [7, 1300, 0, "x", 2600, 2600, ...reply.slice(6)]],
    ];
    for (const [why, r] of bad) {
      expect(() => decode(calls, r), why).toThrow(/unexpected script reply/);
    }
  });
});
