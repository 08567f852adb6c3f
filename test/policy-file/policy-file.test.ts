// policy-file.test.ts: floodgate/policy-file (issue 10): JSON and YAML files, every schema error at its line and field,
// live application with a strategy, and watch: invalid or half-written files never apply.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import {
  type ApplyResult,
  LivePolicies,
  loadPolicyFile,
  type PolicyFileError,
  parsePolicyFile,
  watchPolicyFile,
} from "../../src/policy-file/index.js";

const JSON_FILE = `{
  "version": 2,
  "strategy": "proportional",
  "policies": {
    "api": { "algorithm": "tokenBucket", "capacity": 10, "refillRate": 2 },
    "burst": { "algorithm": "tokenBucket", "capacity": 5, "refillAmount": 1, "refillIntervalMs": 100 },
    "login": { "algorithm": "fixedWindow", "limit": 5, "windowMs": 60000 }
  },
  "routes": { "POST /login": "login", "/api/*": ["api", "burst"] },
  "tiers": { "free": ["api"] }
}
`;

const YAML_FILE = `version: 2
strategy: proportional
policies:
  api: { algorithm: tokenBucket, capacity: 10, refillRate: 2 }
  burst:
    algorithm: tokenBucket
    capacity: 5
    refillAmount: 1
    refillIntervalMs: 100
  login:
    algorithm: fixedWindow
    limit: 5
    windowMs: 60000
routes:
  POST /login: login
  /api/*: [api, burst]
tiers:
  free: [api]
`;

describe("parsePolicyFile", () => {
  it("reads the same file from JSON and YAML: policies by their factories, routes and tiers by name", async () => {
    for (const [text, format] of [
      [JSON_FILE, "json"],
      [YAML_FILE, "yaml"],
    ] as const) {
      const f = await parsePolicyFile(text, { format });
      expect([...f.policies.keys()], format).toEqual(["api", "burst", "login"]);
      expect(f.policies.get("api")?.id, format).toBe("api:tb:c10r2");
      expect(f.policies.get("burst")?.algorithm.code, format).toBe("ts");
      expect(f.policies.get("login")?.limit, format).toBe(5);
      expect(f.routes, format).toEqual({ "POST /login": ["login"], "/api/*": ["api", "burst"] });
      expect(f.tiers, format).toEqual({ free: ["api"] });
      expect([f.version, f.strategy], format).toEqual([2, "proportional"]);
    }
  });

  // Each row: the file, its format, and every issue wanted as [line, column, field, words of the message].
  const bad: [string, string, "json" | "yaml", [number, number, string, string][]][] = [
    [
      "a misspelt top-level key",
      `{ "polices": {} }`,
      "json",
      [
        [1, 1, "", '"policies" must be an object'],
        [1, 14, "polices", 'did you mean "policies"'],
      ],
    ],
    [
      "an option the factory refuses, another misspelt, an unknown algorithm",
      `{
  "policies": {
    "api": { "algorithm": "tokenBucket", "capacity": "ten", "refillRate": 2 },
    "w": { "algorithm": "fixedWindow", "limit": 5, "windowMS": 1000 },
    "x": { "algorithm": "tokenBuckit", "capacity": 1 }
  }
}`,
      "json",
      [
        [3, 54, "policies.api.capacity", "tokenBucket({ capacity }) must be"],
        [4, 64, "policies.w.windowMS", 'did you mean "windowMs"'],
        [5, 25, "policies.x.algorithm", 'did you mean "tokenBucket"'],
      ],
    ],
    [
      "routes and tiers naming policies the file lacks",
      `policies:
  api: { algorithm: gcra, limit: 10, periodMs: 1000 }
routes:
  /a: apii
tiers:
  pro: [api, gold]
strategy: sometimes
version: 0
`,
      "yaml",
      [
        [4, 7, "routes./a", 'names no policy of this file: "apii"; did you mean "api"'],
        [6, 14, "tiers.pro[1]", '"gold"'],
        [7, 11, "strategy", 'must be one of "reset", "as-is"'],
        [8, 10, "version", "whole number >= 1"],
      ],
    ],
    [
      "a JSON file saved half-written",
      `{
  "policies": {
    "api": { "algorithm": "tokenBucket", "capacity": 10,`,
      "json",
      [[3, 57, "", "syntax: expected a key"]],
    ],
    ["an empty file (truncated before the write)", "", "json", [[1, 1, "", "syntax: expected a value"]]],
    [
      "a duplicate key",
      `{ "policies": { "a": { "algorithm": "gcra", "limit": 1, "periodMs": 1 }, "a": {} } }`,
      "json",
      [[1, 74, "", 'syntax: duplicate key "a"']],
    ],
    [
      "a YAML file saved half-written (an unclosed flow map)",
      `policies:
  api: { algorithm: tokenBucket, capacity: 10
`,
      "yaml",
      [[3, 1, "", "syntax:"]],
    ],
  ];
  for (const [name, text, format, want] of bad) {
    it(`refuses ${name}, naming line, column and field of every problem`, async () => {
      const err = (await parsePolicyFile(text, { format, source: `p.${format}` }).then(
        () => undefined,
        (e: unknown) => e,
      )) as PolicyFileError | undefined;
      expect(err?.code, name).toBe("ERR_POLICY_FILE");
      const got = (err?.issues ?? []).map((i) => [i.line, i.column, i.path, i.message]);
      expect(got.length, `${name}: ${JSON.stringify(got)}`).toBe(want.length);
      want.forEach(([line, column, path, words], k) => {
        const g = got[k] as [number, number, string, string];
        expect([g[0], g[1], g[2]], `${name}: issue ${k + 1}: ${g[3]}`).toEqual([line, column, path]);
        expect(g[3], `${name}: issue ${k + 1}`).toContain(words);
        expect(err?.message, "the message lists it as file:line:column").toContain(`p.${format}:${line}:${column}`);
      });
    });
  }
});

describe("LivePolicies", () => {
  it("applies a changed file with its strategy: attached limiters keep each key's state", async () => {
    const t = 0;
    const set = new LivePolicies(await parsePolicyFile(JSON_FILE));
    const limiter = new RateLimiter({ policy: set.get("api"), now: () => t });
    set.attach(limiter);
    expect((await limiter.consume("k", 6)).remaining).toBe(4);
    const doubled = JSON_FILE.replace('"version": 2', '"version": 3').replace(
      '"capacity": 10, "refillRate": 2',
      '"capacity": 20, "refillRate": 4',
    );
    const result = set.apply(await parsePolicyFile(doubled));
    expect(result).toEqual({ replaced: ["api"], added: [], removed: [], strategy: "proportional" });
    expect(limiter.policies[0]?.live?.version, "the file's version").toBe(3);
    expect((await limiter.peek("k")).remaining, "4 of 10 available -> 8 of 20").toBe(8);
    expect(set.tier("free")?.[0]?.limit).toBe(20);
    expect(set.route("/api/*")?.map((p) => p.name)).toEqual(["api", "burst"]);
  });

  it("is all or nothing: a replacement that cannot be made changes nothing", async () => {
    const set = new LivePolicies(await parsePolicyFile(JSON_FILE));
    const before = set.get("api");
    const changed = JSON_FILE.replace(
      '"api": { "algorithm": "tokenBucket", "capacity": 10, "refillRate": 2 }',
      '"api": { "algorithm": "gcra", "limit": 10, "periodMs": 1000 }',
    ).replace('"login": { "algorithm": "fixedWindow", "limit": 5', '"login": { "algorithm": "fixedWindow", "limit": 6');
    const file = await parsePolicyFile(changed);
    expect(() => set.apply(file)).toThrow(/changes its algorithm/);
    expect(set.get("api"), "api unchanged").toBe(before);
    expect(set.get("login").limit, "login unchanged too").toBe(5);
  });
});

describe("watchPolicyFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "floodgate-policy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // The tests prove a change is applied (or refused), not how fast: 10 s leaves a loaded machine room over the
  // 20 ms poll and 40 ms settle (a 2 s wait in one test was the only bound a slow fs.watchFile poll could reach).
  const until = async (what: () => boolean, ms = 10_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it("applies a valid change, keeps the old policies for an invalid or half-written one and says why", async () => {
    const path = join(dir, "policies.json");
    writeFileSync(path, JSON_FILE);
    const applied: ApplyResult[] = [];
    const invalid: Error[] = [];
    const w = await watchPolicyFile(path, {
      intervalMs: 20,
      settleMs: 40,
      onApply: (r) => applied.push(r),
      onInvalid: (e) => invalid.push(e),
    });
    try {
      expect(w.policies.get("api").limit).toBe(10);
      // 1. An invalid file: not applied, and the reason names line and field.
      writeFileSync(path, JSON_FILE.replace('"capacity": 10', '"capacity": 0'));
      await until(() => invalid.length === 1);
      expect(invalid[0]?.message).toContain(`${path}:5:54 policies.api.capacity`);
      expect(w.policies.get("api").limit, "old policy kept").toBe(10);
      // 2. Saved half-written, then completed: only the complete file applies.
      const next = JSON_FILE.replace('"capacity": 10', '"capacity": 30');
      writeFileSync(path, next.slice(0, 120));
      await new Promise((r) => setTimeout(r, 10));
      writeFileSync(path, next);
      await until(() => applied.length === 1);
      expect(applied[0]?.replaced).toEqual(["api"]);
      expect(w.policies.get("api").limit).toBe(30);
      expect(invalid.length, "the half-written file was never read as complete, or was refused").toBeLessThanOrEqual(2);
      expect(applied.length).toBe(1);
    } finally {
      w.close();
    }
  });

  it("applies a change written while the watch starts (between the first read and the first stat)", async () => {
    // Regression: the file was read, then fs.watchFile took its first stat as the baseline, so a change saved in
    // between was never seen (CI, under load: the first test above timed out waiting for a change made right
    // after watchPolicyFile resolved). The write here happens deterministically inside that window: when
    // watchPolicyFile iterates `limiters`, after its first read and before it starts watching.
    const path = join(dir, "window.json");
    writeFileSync(path, JSON_FILE);
    const next = JSON_FILE.replace('"capacity": 10', '"capacity": 40');
    const writeInWindow: readonly RateLimiter[] = Object.assign([] as RateLimiter[], {
      [Symbol.iterator]() {
        writeFileSync(path, next);
        return ([] as RateLimiter[])[Symbol.iterator]();
      },
    });
    const applied: ApplyResult[] = [];
    const w = await watchPolicyFile(path, {
      intervalMs: 20,
      settleMs: 40,
      limiters: writeInWindow,
      onApply: (r) => applied.push(r),
    });
    try {
      expect(w.policies.get("api").limit, "the first read is the file before the change").toBe(10);
      await until(() => applied.length === 1);
      expect(applied[0]?.replaced).toEqual(["api"]);
      expect(w.policies.get("api").limit).toBe(40);
    } finally {
      w.close();
    }
  });

  it("loadPolicyFile picks YAML by the extension", async () => {
    const path = join(dir, "p.yaml");
    writeFileSync(path, YAML_FILE);
    expect([...(await loadPolicyFile(path)).policies.keys()]).toEqual(["api", "burst", "login"]);
  });
});
