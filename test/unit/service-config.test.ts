// service-config.test.ts: floodgate serve's configuration: envoyproxy/ratelimit YAML read as Envoy's service reads
// it (matching precedence, nested descriptors, wildcards, value-less keys), floodgate's extensions, and every
// refusal naming the file, the line and the fix.

import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { matchRule, parseConfig, type ServiceConfig } from "../../src/service/config.js";

const root = resolve(import.meta.dirname, "../..");

function load(text: string, file = "limits.yaml"): ServiceConfig {
  return parseConfig([{ file, text }]);
}

/** refusal returns the message of the error parseConfig throws (and checks its code). */
function refusal(text: string): string {
  try {
    load(text);
  } catch (err) {
    expect((err as { code?: string }).code).toBe("ERR_INVALID_CONFIG");
    return (err as Error).message;
  }
  throw new Error("the configuration loaded; want a refusal");
}

// Written in our own words after envoyproxy/ratelimit's documented examples.
const EDGE = `
domain: edge
descriptors:
  # one limit per client address (a key without a value)
  - key: remote_address
    rate_limit:
      unit: second
      requests_per_unit: 10

  # a tighter limit for one address
  - key: remote_address
    value: 10.0.0.9
    rate_limit:
      unit: second
      requests_per_unit: 1

  # paths: one exact, a wildcard, and every other path per value
  - key: path
    value: /login
    rate_limit:
      unit: minute
      requests_per_unit: 5
  - key: path
    value: /api/*
    rate_limit:
      unit: second
      requests_per_unit: 100
  - key: path
    value: /api/v2*
    rate_limit:
      unit: second
      requests_per_unit: 200

  # nested: per client within a plan
  - key: plan
    value: free
    descriptors:
      - key: client_id
        rate_limit:
          unit: hour
          requests_per_unit: 1000
          name: free_client
      - key: client_id
        value: vip
        rate_limit:
          unlimited: true
  - key: plan
    value: gold
    rate_limit:
      unit: day
      requests_per_unit: 1
    descriptors:
      - key: client_id
        rate_limit:
          unit: second
          requests_per_unit: 50
          algorithm: token_bucket
          burst: 80
          replaces:
            - name: free_client
`;

const e = (...kv: string[]) => {
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i < kv.length; i += 2) out.push({ key: kv[i] as string, value: kv[i + 1] as string });
  return out;
};

describe("matching, as envoyproxy/ratelimit matches", () => {
  const config = load(EDGE);
  const edge = config.domains.get("edge")!;
  const rows: { step: number; entries: ReturnType<typeof e>; want: string | undefined; why: string }[] = [
    {
      step: 1,
      entries: e("remote_address", "1.2.3.4"),
      want: "edge/remote_address",
      why: "a key without a value matches any value",
    },
    {
      step: 2,
      entries: e("remote_address", "10.0.0.9"),
      want: "edge/remote_address=10.0.0.9",
      why: "key and value beat the key alone",
    },
    { step: 3, entries: e("path", "/login"), want: "edge/path=/login", why: "exact value" },
    { step: 4, entries: e("path", "/api/users"), want: "edge/path=/api/*", why: "a wildcard matches by prefix" },
    {
      step: 5,
      entries: e("path", "/api/v2/x"),
      want: "edge/path=/api/*",
      why: "the first wildcard in file order wins",
    },
    { step: 6, entries: e("path", "/other"), want: undefined, why: "no exact, wildcard or value-less node: no limit" },
    { step: 7, entries: e("plan", "free"), want: undefined, why: "a node without rate_limit limits nothing" },
    {
      step: 8,
      entries: e("plan", "free", "client_id", "c1"),
      want: "edge/plan=free/client_id",
      why: "nested, value-less at level 2",
    },
    {
      step: 9,
      entries: e("plan", "free", "client_id", "vip"),
      want: "edge/plan=free/client_id=vip",
      why: "the unlimited rule matches",
    },
    { step: 10, entries: e("plan", "gold"), want: "edge/plan=gold", why: "a node with both a limit and children" },
    {
      step: 11,
      entries: e("plan", "gold", "client_id", "x"),
      want: "edge/plan=gold/client_id",
      why: "the deepest entry's rule",
    },
    {
      step: 12,
      entries: e("plan", "gold", "client_id", "x", "path", "/"),
      want: undefined,
      why: "longer than the tree: no rule",
    },
    { step: 13, entries: e("client_id", "c1"), want: undefined, why: "a nested key is not matched at the top" },
    {
      step: 14,
      entries: e("plan", "silver", "client_id", "c1"),
      want: undefined,
      why: "the first entry matched nothing",
    },
  ];
  it.each(rows)("step $step: $why", ({ step, entries, want }) => {
    const got = matchRule(edge, entries)?.path;
    expect(got, `step ${step}: matchRule(${JSON.stringify(entries)}) = ${got} want ${want}`).toBe(want);
  });

  it("reads units, names, unlimited, replaces and the extensions", () => {
    const rules = new Map(edge.rules.map((r) => [r.path, r]));
    expect(rules.get("edge/remote_address")).toMatchObject({
      unit: "second",
      requestsPerUnit: 10,
      algorithm: "fixed_window",
    });
    expect(rules.get("edge/plan=free/client_id")).toMatchObject({ name: "free_client", unit: "hour" });
    expect(rules.get("edge/plan=free/client_id=vip")).toMatchObject({ unlimited: true, policies: undefined });
    const gold = rules.get("edge/plan=gold/client_id")!;
    expect(gold).toMatchObject({ algorithm: "token_bucket", replaces: ["free_client"] });
    expect(gold.policies?.[0]).toMatchObject({ limit: 80 });
    expect(edge.allOrNothing).toBe(true);
    expect(config.warnings).toEqual([]);
  });

  it("keeps a rule's policy id across a reload of the same file (state survives), and changes it with its numbers", () => {
    const again = load(EDGE).domains.get("edge")!;
    const id = (d: typeof edge, path: string) => d.rules.find((r) => r.path === path)?.policies?.[0]?.id;
    expect(id(again, "edge/remote_address")).toBe(id(edge, "edge/remote_address"));
    const changed = load(EDGE.replace("requests_per_unit: 10", "requests_per_unit: 11")).domains.get("edge")!;
    expect(id(changed, "edge/remote_address")).not.toBe(id(edge, "edge/remote_address"));
  });

  it("loads a directory's worth of domains, shadow_mode, all_or_nothing: false and a domain-wide algorithm", () => {
    const c = parseConfig([
      {
        file: "a.yaml",
        text: "domain: a\ndescriptors:\n  - key: k\n    shadow_mode: true\n    rate_limit: { unit: second, requests_per_unit: 1 }\n",
      },
      {
        file: "b.yaml",
        text: "domain: b\nall_or_nothing: false\nalgorithm: gcra\ndescriptors:\n  - key: k\n    rate_limit: { unit: minute, requests_per_unit: 60 }\n",
      },
    ]);
    expect(c.domains.get("a")?.rules[0]).toMatchObject({ shadow: true });
    expect(c.domains.get("b")).toMatchObject({ allOrNothing: false });
    expect(c.domains.get("b")?.rules[0]).toMatchObject({ algorithm: "gcra" });
    expect(c.domains.get("b")?.rules[0]?.policies?.[0]?.algorithm.code).toBe("gc");
  });

  it("warns about (but loads) a replaces that names no rule, as envoyproxy/ratelimit loads it", () => {
    const c = load(
      "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: 1\n      replaces:\n        - name: nope\n",
    );
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(/^limits\.yaml:4: rule d\/k replaces "nope", which names no rule/);
  });
});

describe("refusals name the file, line and fix (ERR_INVALID_CONFIG)", () => {
  const rows: { step: number; text: string; want: RegExp; why: string }[] = [
    {
      step: 1,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: sec\n      requests_per_unit: 1\n",
      want: /limits\.yaml:5:13: "unit" must be one of second, minute, hour, day, week, month, year, got "sec"/,
      why: "unknown unit",
    },
    {
      step: 2,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n",
      want: /limits\.yaml:5:7: rate_limit needs "requests_per_unit".*"unlimited: true"/,
      why: "missing requests_per_unit",
    },
    {
      step: 3,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: 0\n",
      want: /limits\.yaml:6:26: "requests_per_unit" must be a whole number >= 1, got 0/,
      why: "zero requests",
    },
    {
      step: 4,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limits:\n      unit: second\n",
      want: /limits\.yaml:4:5: unknown key "rate_limits" in a descriptor \(did you mean "rate_limit"\?\)/,
      why: "a typo in a key",
    },
    {
      step: 5,
      text: "domain: d\ndescriptors:\n  - key: k\n    value: v\n  - key: k\n    value: v\n",
      want: /limits\.yaml:5:5: duplicate descriptor "k: v" under d \(first at line 3\); merge the two/,
      why: "a duplicate key/value",
    },
    {
      step: 6,
      text: "domain: d\ndescriptors:\n  - key: k\n  - key: k\n",
      want: /limits\.yaml:4:5: duplicate descriptor key "k" without a value/,
      why: "a duplicate value-less key",
    },
    {
      step: 7,
      text: "domain: d\ndescriptors:\n  - &loop\n    key: k\n    descriptors:\n      - *loop\n",
      want: /limits\.yaml:6:9: alias \*loop refers to a node that contains it \(a cycle\)/,
      why: "a descriptor nesting itself",
    },
    {
      step: 8,
      text: "domain: d\ndescriptors: [\n",
      want: /limits\.yaml:\d+:\d+: the file is not valid YAML/,
      why: "YAML syntax",
    },
    { step: 9, text: "descriptors: []\n", want: /limits\.yaml:1:1: "domain" is required/, why: "no domain" },
    {
      step: 10,
      text: "domain: d\ndomain: e\n",
      want: /limits\.yaml:2:1: .*each key appears once/,
      why: "a key twice in one mapping",
    },
    {
      step: 11,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unlimited: true\n      requests_per_unit: 5\n",
      want: /limits\.yaml:6:7: an unlimited rate_limit has no requests_per_unit/,
      why: "unlimited and a number",
    },
    {
      step: 12,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: 5\n      burst: 9\n",
      want: /limits\.yaml:7:7: "burst" applies to token_bucket, gcra and leaky_bucket, not fixed_window/,
      why: "burst on a window",
    },
    {
      step: 13,
      text: "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: 5\n      algorithm: tokenbuckets\n",
      want: /limits\.yaml:7:18: "algorithm" must be one of .*token_bucket/,
      why: "unknown algorithm",
    },
    {
      step: 14,
      text: "- a\n- b\n",
      want: /limits\.yaml:1:1: the file must be a mapping with "domain" and "descriptors"/,
      why: "not a mapping",
    },
    {
      step: 15,
      text: "domain: d\ndescriptors:\n  - value: v\n",
      want: /limits\.yaml:3:5: a descriptor needs a non-empty "key"/,
      why: "no key",
    },
    {
      step: 16,
      text: "domain: d\ndescriptors:\n  - key: k\n    shadow_mode: maybe\n",
      want: /limits\.yaml:4:18: "shadow_mode" must be true or false, got "maybe"/,
      why: "not a boolean",
    },
  ];
  it.each(rows)("step $step: $why", ({ step, text, want }) => {
    const got = refusal(text);
    expect(got, `step ${step}: ${got}`).toMatch(want);
  });

  it("refuses one domain in two files, naming both", () => {
    expect(() =>
      parseConfig([
        { file: "a.yaml", text: "domain: d\n" },
        { file: "b.yaml", text: "domain: d\n" },
      ]),
    ).toThrow(/b\.yaml: domain "d" is also defined in a\.yaml/);
  });

  it("accepts an alias that is not a cycle (a shared rate_limit)", () => {
    const c = load(
      "domain: d\ndescriptors:\n  - key: a\n    rate_limit: &rl\n      unit: second\n      requests_per_unit: 3\n  - key: b\n    rate_limit: *rl\n",
    );
    expect(c.domains.get("d")?.rules.map((r) => r.requestsPerUnit)).toEqual([3, 3]);
  });
});

describe("the proto", () => {
  it("src/service/proto.generated.ts is what scripts/gen-proto.ts makes of the .proto files", () => {
    execFileSync(process.execPath, ["--import", "tsx", "scripts/gen-proto.ts", "--check"], { cwd: root });
  });
});
