// override.test.ts: Envoy's RateLimitOverride (a descriptor's own `limit`) and the WEEK unit, against the real
// `floodgate serve` process over gRPC (and the HTTP API's `limit`): the override replaces the configured limit,
// applies with no rule, to an unlimited or a shadow rule, is ignored in an unknown domain; bad ones count nothing.

import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descriptor, postJson, rlsClient, type ServiceProcess, startServe, tempDir } from "./helpers.js";

const LIMITS = `
domain: edge
descriptors:
  - key: tenant
    rate_limit: { unit: minute, requests_per_unit: 100 }
  - key: plan
    value: free
    rate_limit: { unit: minute, requests_per_unit: 5, algorithm: token_bucket }
  - key: open
    rate_limit: { unlimited: true }
  - key: canary
    shadow_mode: true
    rate_limit: { unit: minute, requests_per_unit: 1 }
  - key: weekly
    rate_limit: { unit: week, requests_per_unit: 2 }
`;

const tmp = tempDir("override");
let svc: ServiceProcess;
let client: ReturnType<typeof rlsClient>;

beforeAll(async () => {
  svc = await startServe(["--config", tmp.write("limits.yaml", LIMITS)]);
  client = rlsClient(svc.grpcPort);
}, 60_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  tmp.remove();
});

type Status = {
  code: string;
  current_limit: { name: string; requests_per_unit: number; unit: string } | null;
  limit_remaining: number;
  duration_until_reset: { seconds: number; nanos: number } | null;
};
type Reply = { overall_code: string; statuses: Status[] };
/** limited is a one-entry descriptor with Envoy's `limit` override (unit as Envoy's number). */
const limited = (key: string, value: string, requests_per_unit: number, unit: number) => ({
  ...descriptor({ [key]: value }),
  limit: { requests_per_unit, unit },
});
const call = async (descriptors: unknown[], domain = "edge") =>
  (await client.shouldRateLimit({ domain, descriptors })) as unknown as Reply;
const SECOND = 1;
const MINUTE = 2;
const HOUR = 3;
const DAY = 4;
const WEEK = 7;

describe("RateLimitOverride over gRPC", () => {
  it("replaces the configured limit of the matching rule; the configured limit keeps its own count", async () => {
    const steps = [
      { step: 1, code: "OK", remaining: 1 },
      { step: 2, code: "OK", remaining: 0 },
      { step: 3, code: "OVER_LIMIT", remaining: 0 },
    ];
    for (const s of steps) {
      // DAY, not MINUTE: fixed windows end on whole wall-clock units, and a minute's end falling between these
      // calls would count afresh (see the test below).
      const r = await call([limited("tenant", "t1", 2, DAY)]);
      expect(
        { code: r.overall_code, remaining: r.statuses[0]?.limit_remaining },
        `step ${s.step}: tenant=t1 with limit 2/day`,
      ).toEqual({ code: s.code, remaining: s.remaining });
      expect(r.statuses[0]?.current_limit).toEqual({ name: "", requests_per_unit: 2, unit: "DAY" });
    }
    const plain = await call([descriptor({ tenant: "t1" })]);
    expect(plain.statuses[0]).toMatchObject({
      code: "OK",
      current_limit: { requests_per_unit: 100, unit: "MINUTE" },
      limit_remaining: 99,
    });
  });

  it("applies where no rule matches, over an unlimited rule, and over a shadow rule (an override is never shadow)", async () => {
    for (const d of [
      limited("nothing", "n1", 1, HOUR),
      // DAY, not SECOND: fixed windows end on whole wall-clock seconds, and one could fall between the two calls
      // below (a loaded machine's round trips of 20-50 ms made that a few runs in a hundred), counting afresh.
      limited("open", "o1", 1, DAY),
      limited("canary", "c1", 1, DAY),
    ]) {
      const first = await call([d]);
      const second = await call([d]);
      expect([first.overall_code, second.overall_code], JSON.stringify(d)).toEqual(["OK", "OVER_LIMIT"]);
    }
  });

  it("is ignored in an unknown domain (as envoyproxy/ratelimit ignores it)", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await call([limited("tenant", "t2", 1, SECOND)], "elsewhere");
      expect(r.overall_code).toBe("OK");
      expect(r.statuses[0]?.current_limit).toBeNull();
    }
  });

  it("WEEK: a configured weekly rule and a weekly override answer unit WEEK (7) and wait at most 7 days", async () => {
    const rows = [
      { d: descriptor({ weekly: "w1" }), limit: 2 },
      { d: limited("tenant", "w2", 1, WEEK), limit: 1 },
    ];
    for (const { d, limit } of rows) {
      for (let i = 0; i < limit; i++) expect((await call([d])).overall_code).toBe("OK");
      const r = await call([d]);
      expect(r.overall_code).toBe("OVER_LIMIT");
      expect(r.statuses[0]?.current_limit).toMatchObject({ requests_per_unit: limit, unit: "WEEK" });
      const wait = r.statuses[0]?.duration_until_reset?.seconds ?? 0;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(7 * 86_400);
    }
  });

  it("bad overrides (unit UNKNOWN or undefined) are INVALID_ARGUMENT and count nothing", async () => {
    for (const d of [limited("tenant", "t3", 5, 0), limited("tenant", "t3", 5, 8)]) {
      await expect(call([d]), JSON.stringify(d)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    }
    expect((await call([descriptor({ tenant: "t3" })])).statuses[0]?.limit_remaining).toBe(99);
    expect((await call([limited("tenant", "t3", 5, MINUTE)])).statuses[0]?.limit_remaining).toBe(4);
  });

  // Regression (issue 15): requests_per_unit 0 was refused as INVALID_ARGUMENT, which Envoy answers by its
  // failure_mode_deny (allow, by default); envoyproxy/ratelimit counts the hit against a limit of 0: OVER_LIMIT.
  it("requests_per_unit 0 refuses every hit, OVER_LIMIT as in envoyproxy/ratelimit, and takes nothing from the rest", async () => {
    for (let step = 1; step <= 3; step++) {
      const r = await call([limited("tenant", "t4", 0, MINUTE), descriptor({ tenant: "t5" })]);
      expect(r.overall_code, `step ${step}`).toBe("OVER_LIMIT");
      expect(r.statuses[0], `step ${step}`).toMatchObject({
        code: "OVER_LIMIT",
        current_limit: { requests_per_unit: 0, unit: "MINUTE" },
        limit_remaining: 0,
        duration_until_reset: { seconds: 60 },
      });
      expect(r.statuses[1]?.code, `step ${step}`).toBe("OK");
    }
    // All or nothing: t5 lost nothing to the three refused requests; t4's configured limit counted nothing either.
    expect((await call([descriptor({ tenant: "t5" })])).statuses[0]?.limit_remaining).toBe(99);
    expect((await call([descriptor({ tenant: "t4" })])).statuses[0]?.limit_remaining).toBe(99);
    // A check (hits_addend 0) of a limit of 0 is refused too: one more hit would not pass.
    const check = await call([{ ...descriptor({ tenant: "t4" }, 0), limit: { requests_per_unit: 0, unit: HOUR } }]);
    expect(check.statuses[0]).toMatchObject({ code: "OVER_LIMIT", limit_remaining: 0 });
    // In an unknown domain it is ignored, as every override.
    expect((await call([limited("tenant", "t4", 0, MINUTE)], "nowhere")).overall_code).toBe("OK");
  });

  it("reads Envoy's bytes: RateLimitDescriptor field 2 { requests_per_unit = 1, unit = 2 }", async () => {
    const str = (field: number, s: string) => {
      const b = Buffer.from(s);
      return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
    };
    const entry = Buffer.concat([str(1, "tenant"), str(2, "raw")]);
    const override = Buffer.from([(1 << 3) | 0, 1, (2 << 3) | 0, DAY]); // 1 per DAY (not MINUTE: see above)
    const desc = Buffer.concat([
      Buffer.from([(1 << 3) | 2, entry.length]),
      entry,
      Buffer.from([(2 << 3) | 2, override.length]),
      override,
    ]);
    const msg = Buffer.concat([str(1, "edge"), Buffer.from([(2 << 3) | 2, desc.length]), desc]);
    // overall_code (field 1, varint): OK (1), then OVER_LIMIT (2) since the override allows 1, not 100.
    expect([...(await client.raw(msg)).subarray(0, 2)]).toEqual([0x08, 0x01]);
    expect([...(await client.raw(msg)).subarray(0, 2)]).toEqual([0x08, 0x02]);
  });
});

describe("the HTTP API's limit", () => {
  it("takes { requests_per_unit, unit } (a unit name in any case, or Envoy's number) with the rule's algorithm", async () => {
    const body = (unit: string | number) => ({
      domain: "edge",
      descriptors: [{ entries: [{ key: "plan", value: "free" }], limit: { requests_per_unit: 1, unit } }],
    });
    const first = await postJson(svc.httpPort, "/v1/decide", body("minute"));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ allowed: true });
    expect((first.body.statuses as Record<string, unknown>[])[0]).toMatchObject({
      rule: "(override)",
      algorithm: "token_bucket",
      limit: { requests_per_unit: 1, unit: "MINUTE" },
      unit_code: 2,
    });
    expect((await postJson(svc.httpPort, "/v1/decide", body(MINUTE))).body).toMatchObject({ allowed: false });
    const typo = await postJson(svc.httpPort, "/v1/decide", {
      domain: "edge",
      descriptors: [{ entries: [{ key: "plan", value: "free" }], limit: { requests_per_unit: 1, units: "MINUTE" } }],
    });
    expect(typo.status).toBe(400);
    expect(typo.body).toMatchObject({ error: "ERR_UNKNOWN_OPTION" });
    const badUnit = await postJson(svc.httpPort, "/v1/decide", body("fortnight"));
    expect(badUnit.status).toBe(400);
    expect(String(badUnit.body.message)).toContain("WEEK (7)");
    for (const n of [-1, 1.5, 4_294_967_296]) {
      const badCount = await postJson(svc.httpPort, "/v1/decide", {
        domain: "edge",
        descriptors: [{ entries: [{ key: "plan", value: "free" }], limit: { requests_per_unit: n, unit: "MINUTE" } }],
      });
      expect([badCount.status, String(badCount.body.message)], String(n)).toEqual([
        400,
        expect.stringContaining("from 0 to 4294967295"),
      ]);
    }
  });

  it("a limit of 0 answers 200 with allowed false, Retry-After one unit and the RateLimit fields of q=0", async () => {
    const res = await postJson(svc.httpPort, "/v1/decide", {
      domain: "edge",
      descriptors: [{ entries: [{ key: "plan", value: "free" }], limit: { requests_per_unit: 0, unit: "MINUTE" } }],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      allowed: false,
      overall_code: "OVER_LIMIT",
      statuses: [
        {
          code: "OVER_LIMIT",
          rule: "(override)",
          limit: { requests_per_unit: 0, unit: "MINUTE" },
          limit_remaining: 0,
          duration_until_reset_ms: 60_000,
        },
      ],
      headers: {
        "RateLimit-Policy": '"override-0-per-minute";q=0;w=60',
        RateLimit: '"override-0-per-minute";r=0;t=60',
        "Retry-After": "60",
      },
    });
    expect(res.headers.get("retry-after")).toBe("60");
  });
});
