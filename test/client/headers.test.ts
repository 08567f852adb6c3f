// headers.test.ts: RFC 9651 subset parser and the rate limit header reader, including garbage input.

import { describe, expect, it } from "vitest";
import { parseDictionary, parseList, parseRetryAfter, readRateLimitHints } from "../../src/client/index.js";

describe("parseList (RFC 9651)", () => {
  const rows: { input: string; want: unknown; why: string }[] = [
    { why: "one string item with integer params", input: '"default";r=50;t=30', want: [["default", { r: 50, t: 30 }]] },
    {
      why: "two items, OWS around the comma",
      input: '"burst";q=100;w=60 ,\t"daily";q=1000;w=86400',
      want: [
        ["burst", { q: 100, w: 60 }],
        ["daily", { q: 1000, w: 86400 }],
      ],
    },
    {
      why: "token item, boolean and byte-sequence params",
      input: "a;x;pk=:cHsdsRa894==:",
      want: [["a", { x: true, pk: "cHsdsRa894==" }]],
    },
    { why: "decimal and negative integer", input: "1.5;n=-3", want: [[1.5, { n: -3 }]] },
    { why: "escaped quote in a string", input: '"a\\"b"', want: [['a"b', {}]] },
    { why: "inner list", input: '("a" "b");p=1', want: [[["a", "b"], { p: 1 }]] },
    { why: "date and display string", input: '@1700000000;d=%"caf%c3%a9"', want: [[1700000000, { d: "café" }]] },
    { why: "empty value", input: "", want: null },
    { why: "trailing comma", input: '"a";r=1,', want: null },
    { why: "uppercase parameter key", input: '"a";R=1', want: null },
    { why: "integer of 16 digits", input: '"a";r=1234567890123456', want: null },
    { why: "unterminated string", input: '"abc', want: null },
    { why: "control character in string", input: '"a\u0001"', want: null },
    { why: "decimal with 4 fraction digits", input: "1.2345", want: null },
    { why: "garbage between members", input: '"a" "b"', want: null },
    { why: "non-ASCII", input: '"é"', want: null },
    { why: "over 16 KiB", input: `"${"a".repeat(17_000)}"`, want: null },
  ];
  const plain = (x: unknown): unknown => x;
  for (const row of rows) {
    it(row.why, () => {
      const got = parseList(row.input);
      const simple =
        got === null
          ? null
          : got.map((m) => [
              m.inner ? m.inner.map((i) => plain(i.item.value)) : m.item?.value,
              Object.fromEntries([...m.params].map(([k, v]) => [k, v.value])),
            ]);
      expect(simple, `parseList(${JSON.stringify(row.input.slice(0, 60))}) = ${JSON.stringify(simple)}`).toEqual(
        row.want,
      );
    });
  }

  it("parseDictionary reads the draft-07 RateLimit form", () => {
    const d = parseDictionary("limit=100, remaining=50, reset=30, flag");
    const got = d && Object.fromEntries([...d].map(([k, m]) => [k, m.item?.value]));
    expect(got).toEqual({ limit: 100, remaining: 50, reset: 30, flag: true });
  });
});

describe("parseRetryAfter", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const rows: { value: string | null; want: number | undefined; why: string }[] = [
    { why: "absent", value: null, want: undefined },
    { why: "delta seconds", value: "120", want: 120_000 },
    { why: "zero", value: "0", want: 0 },
    { why: "surrounding spaces", value: " 5 ", want: 5_000 },
    { why: "negative", value: "-5", want: undefined },
    { why: "fractional", value: "1.5", want: undefined },
    { why: "NaN", value: "NaN", want: undefined },
    { why: "words", value: "soon", want: undefined },
    { why: "hex", value: "0x10", want: undefined },
    { why: "huge: clamped to the one hour ceiling", value: "99999999999999999999", want: 3_600_000 },
    { why: "IMF-fixdate 30 s ahead", value: "Thu, 01 Jan 2026 12:00:30 GMT", want: 30_000 },
    { why: "RFC 850 date 10 s ahead", value: "Thursday, 01-Jan-26 12:00:10 GMT", want: 10_000 },
    { why: "asctime date 20 s ahead", value: "Thu Jan  1 12:00:20 2026", want: 20_000 },
    { why: "date in the past", value: "Thu, 01 Jan 2026 11:59:00 GMT", want: undefined },
    { why: "date a year ahead: clamped", value: "Fri, 01 Jan 2027 12:00:00 GMT", want: 3_600_000 },
    { why: "not an HTTP-date", value: "2026-01-01T12:00:30Z", want: undefined },
  ];
  for (const row of rows) {
    it(row.why, () => {
      const got = parseRetryAfter(row.value, now);
      expect(got, `parseRetryAfter(${JSON.stringify(row.value)}) = ${got} want ${row.want}`).toBe(row.want);
    });
  }
  it("a smaller ceiling applies", () => {
    expect(parseRetryAfter("600", now, 60_000)).toBe(60_000);
  });
});

describe("readRateLimitHints", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const nowSec = now / 1000;
  const rows: { why: string; headers: Record<string, string>; want: Record<string, unknown> }[] = [
    { why: "nothing", headers: {}, want: {} },
    {
      why: "IETF RateLimit with RateLimit-Policy",
      headers: { ratelimit: '"default";r=5;t=30', "ratelimit-policy": '"default";q=100;w=60' },
      want: {
        remaining: 5,
        resetAfterMs: 30_000,
        limit: 100,
        windowMs: 60_000,
        policy: "default",
        source: "ratelimit",
      },
    },
    {
      why: "IETF RateLimit, several policies: the exhausted one wins",
      headers: { ratelimit: '"burst";r=3;t=1, "daily";r=0;t=3000' },
      want: { remaining: 0, resetAfterMs: 3_000_000, policy: "daily", source: "ratelimit" },
    },
    {
      why: "IETF RateLimit, several policies: the least remaining wins",
      headers: { ratelimit: '"burst";r=30;t=1, "daily";r=7;t=3000' },
      want: { remaining: 7, resetAfterMs: 3_000_000, policy: "daily", source: "ratelimit" },
    },
    {
      why: "IETF RateLimit with a negative r: ignored as malformed",
      headers: { ratelimit: '"default";r=-1;t=30' },
      want: {},
    },
    // Regression (issue 8, defect 12): a member with a malformed t or pk was used without it. draft-11, section 7:
    // "Malformed RateLimit header fields MUST be ignored"; t is a non-negative Integer, pk a Byte Sequence.
    {
      why: "IETF RateLimit with a decimal t: malformed, ignored as a whole",
      headers: { ratelimit: '"default";r=4;t=1.5' },
      want: {},
    },
    {
      why: "IETF RateLimit with a negative t: malformed, ignored as a whole",
      headers: { ratelimit: '"default";r=0;t=-30' },
      want: {},
    },
    {
      why: "IETF RateLimit with a string t: malformed, ignored as a whole",
      headers: { ratelimit: '"default";r=0;t="30"' },
      want: {},
    },
    {
      why: "IETF RateLimit, one of two members malformed: the field is ignored, the next family is read",
      headers: { ratelimit: '"a";r=5;t=1, "b";r=0;t=?1', "x-ratelimit-remaining": "3" },
      want: { remaining: 3, source: "x-ratelimit" },
    },
    {
      why: "IETF RateLimit with a pk that is not a Byte Sequence: malformed",
      headers: { ratelimit: '"default";r=0;t=30;pk="user-1"' },
      want: {},
    },
    {
      why: "IETF RateLimit with a Byte Sequence pk: read, and the partition key reported",
      headers: { ratelimit: '"default";r=0;t=30;pk=:dXNlci0x:' },
      want: { remaining: 0, resetAfterMs: 30_000, policy: "default", partitionKey: "dXNlci0x", source: "ratelimit" },
    },
    {
      why: "IETF RateLimit with unknown parameters (comments, vendor ones): read",
      headers: { ratelimit: '"default";r=2;t=3;acme-burst=5;note="hi"' },
      want: { remaining: 2, resetAfterMs: 3_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "RateLimit-Policy with a malformed w: the policy field is ignored, RateLimit still read",
      headers: { ratelimit: '"default";r=5;t=30', "ratelimit-policy": '"default";q=100;w=0' },
      want: { remaining: 5, resetAfterMs: 30_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "RateLimit-Policy without its required q: ignored",
      headers: { ratelimit: '"default";r=5;t=30', "ratelimit-policy": '"default";w=60' },
      want: { remaining: 5, resetAfterMs: 30_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "IETF RateLimit with a huge t: clamped",
      headers: { ratelimit: '"default";r=0;t=999999999999' },
      want: { remaining: 0, resetAfterMs: 3_600_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "draft-07 dictionary form",
      headers: { ratelimit: "limit=10, remaining=2, reset=5" },
      want: { remaining: 2, resetAfterMs: 5_000, limit: 10, source: "ratelimit-draft7" },
    },
    {
      why: "legacy RateLimit-* trio",
      headers: { "ratelimit-limit": "100, 100;w=60", "ratelimit-remaining": "0", "ratelimit-reset": "12" },
      want: { remaining: 0, resetAfterMs: 12_000, limit: 100, source: "ratelimit-legacy" },
    },
    {
      why: "GitHub X-RateLimit-*: Reset in epoch seconds",
      headers: {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": String(nowSec + 3000),
      },
      want: { remaining: 4999, limit: 5000, resetAfterMs: 3_000_000, source: "x-ratelimit" },
    },
    {
      why: "X-RateLimit-Reset as delta seconds",
      headers: { "x-ratelimit-remaining": "3", "x-ratelimit-reset": "60" },
      want: { remaining: 3, resetAfterMs: 60_000, source: "x-ratelimit" },
    },
    {
      why: "X-RateLimit-Reset in epoch milliseconds",
      headers: { "x-ratelimit-remaining": "3", "x-ratelimit-reset": String(now + 2500) },
      want: { remaining: 3, resetAfterMs: 2_500, source: "x-ratelimit" },
    },
    {
      why: "X-RateLimit-Reset epoch in the past: reset ignored",
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(nowSec - 100) },
      want: { remaining: 0, source: "x-ratelimit" },
    },
    {
      why: "X-RateLimit-Reset-After with fractional seconds (Discord)",
      headers: { "x-ratelimit-remaining": "1", "x-ratelimit-reset-after": "0.25" },
      want: { remaining: 1, resetAfterMs: 250, source: "x-ratelimit" },
    },
    {
      why: "X-RateLimit-Remaining fractional: floored",
      headers: { "x-ratelimit-remaining": "2.9" },
      want: { remaining: 2, source: "x-ratelimit" },
    },
    {
      why: "X-RateLimit garbage: negative remaining, NaN reset",
      headers: { "x-ratelimit-remaining": "-4", "x-ratelimit-reset": "NaN" },
      want: {},
    },
    {
      why: "X-RateLimit-Reset of Infinity: ignored",
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "Infinity" },
      want: { remaining: 0, source: "x-ratelimit" },
    },
    {
      why: "Retry-After beside RateLimit",
      headers: { "retry-after": "7", ratelimit: '"default";r=0;t=5' },
      want: { retryAfterMs: 7_000, remaining: 0, resetAfterMs: 5_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "Retry-After as a date, measured against the response's Date header (skewed client clock)",
      headers: { date: "Thu, 01 Jan 2026 08:00:00 GMT", "retry-after": "Thu, 01 Jan 2026 08:00:45 GMT" },
      want: { retryAfterMs: 45_000 },
    },
    {
      why: "LLM-style X-RateLimit-*-Requests with a Go duration reset",
      headers: {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30.5s",
        "x-ratelimit-remaining-tokens": "0",
      },
      want: { remaining: 0, limit: 500, resetAfterMs: 90_500, source: "x-ratelimit-requests" },
    },
    {
      why: "LLM-style reset in milliseconds",
      headers: { "x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "250ms" },
      want: { remaining: 3, resetAfterMs: 250, source: "x-ratelimit-requests" },
    },
    {
      why: "LLM-style garbage reset: ignored",
      headers: { "x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "-1s" },
      want: { remaining: 3, source: "x-ratelimit-requests" },
    },
    {
      why: "LLM-style absurd reset: clamped",
      headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "999999999h" },
      want: { remaining: 0, resetAfterMs: 3_600_000, source: "x-ratelimit-requests" },
    },
    // Regression (issue 8, defect 12): quota fields of a cached response were used as fresh. draft-11, section 7.3:
    // they "SHOULD be ignored on responses that come from cache (i.e., those with a positive current_age)".
    {
      why: "a positive Age: served from a cache, the quota fields are ignored, Retry-After is kept",
      headers: { age: "12", "retry-after": "3", ratelimit: '"default";r=0;t=60', "x-ratelimit-remaining": "0" },
      want: { retryAfterMs: 3_000, ageMs: 12_000 },
    },
    {
      why: "Age as a list: the first member counts (RFC 9111, section 5.1)",
      headers: { age: "7, 0", ratelimit: '"default";r=0;t=60' },
      want: { ageMs: 7_000 },
    },
    {
      why: "Age: 0 is fresh: the fields are read",
      headers: { age: "0", ratelimit: '"default";r=0;t=60' },
      want: { remaining: 0, resetAfterMs: 60_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "an invalid Age is ignored (RFC 9111, section 5.1): the fields are read",
      headers: { age: "-5", ratelimit: '"default";r=0;t=60' },
      want: { remaining: 0, resetAfterMs: 60_000, policy: "default", source: "ratelimit" },
    },
    {
      why: "IETF field wins over X-RateLimit-*",
      headers: { ratelimit: '"a";r=9;t=1', "x-ratelimit-remaining": "0", "x-ratelimit-reset": "100" },
      want: { remaining: 9, resetAfterMs: 1_000, policy: "a", source: "ratelimit" },
    },
  ];
  for (const row of rows) {
    it(row.why, () => {
      const h = new Headers(row.headers);
      const got = readRateLimitHints((n) => h.get(n), { wallNowMs: now });
      expect(got, `${row.why}: ${JSON.stringify(row.headers)} -> ${JSON.stringify(got)}`).toEqual(row.want);
    });
  }

  it("never returns a duration above the ceiling or below zero, whatever the input", () => {
    const garbage = [
      "-1",
      "1e309",
      "NaN",
      "",
      " ",
      "9".repeat(400),
      "1.5.5",
      "0x1f",
      "  -0  ",
      "Infinity",
      "Thu, 01 Jan 1970 00:00:00 GMT",
    ];
    for (const g of garbage) {
      for (const name of ["retry-after", "x-ratelimit-reset", "x-ratelimit-reset-after", "ratelimit-reset"]) {
        const h = new Headers({ [name]: g, "x-ratelimit-remaining": "0", "ratelimit-remaining": "0" });
        const got = readRateLimitHints((n) => h.get(n), { wallNowMs: now, maxDelayMs: 10_000 });
        for (const k of ["retryAfterMs", "resetAfterMs"] as const) {
          const v = got[k];
          if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 10_000)) {
            throw new Error(`${name}: ${JSON.stringify(g)} gave ${k}=${v}`);
          }
        }
      }
    }
  });
});
