// conformance.ts: parses and checks the RateLimit fields of a response with a real RFC 9651 parser.

import { parseList } from "structured-headers";
import { expect } from "vitest";

/** Limits is one response's RateLimit and RateLimit-Policy, parsed. */
export interface Limits {
  policies: Map<string, { q: number; w: number }>;
  limits: Map<string, { r: number; t: number }>;
}

/**
 * parseLimits parses both fields with `structured-headers` and checks their
 * shape against draft-ietf-httpapi-ratelimit-headers: Lists whose items are
 * sf-strings, `q`/`w`/`r`/`t` non-negative integers (`w` > 0), the same
 * policies in both, and each `r` at most its `q`.
 */
export function parseLimits(headers: Headers, where: string): Limits {
  const policyText = headers.get("ratelimit-policy");
  const limitText = headers.get("ratelimit");
  expect(policyText, `${where}: RateLimit-Policy missing`).not.toBeNull();
  expect(limitText, `${where}: RateLimit missing`).not.toBeNull();
  const policies = new Map<string, { q: number; w: number }>();
  for (const [item, params] of parseList(policyText as string)) {
    expect(typeof item, `${where}: RateLimit-Policy item ${String(item)} must be an sf-string`).toBe("string");
    const q = params.get("q");
    const w = params.get("w");
    expect(Number.isInteger(q) && (q as number) >= 0, `${where}: q=${String(q)} in ${policyText}`).toBe(true);
    expect(Number.isInteger(w) && (w as number) > 0, `${where}: w=${String(w)} in ${policyText}`).toBe(true);
    policies.set(item as string, { q: q as number, w: w as number });
  }
  const limits = new Map<string, { r: number; t: number }>();
  for (const [item, params] of parseList(limitText as string)) {
    expect(typeof item, `${where}: RateLimit item ${String(item)} must be an sf-string`).toBe("string");
    const r = params.get("r");
    const t = params.get("t");
    expect(Number.isInteger(r) && (r as number) >= 0, `${where}: r=${String(r)} in ${limitText}`).toBe(true);
    expect(Number.isInteger(t) && (t as number) >= 0, `${where}: t=${String(t)} in ${limitText}`).toBe(true);
    const p = policies.get(item as string);
    expect(p, `${where}: RateLimit names "${String(item)}", absent from RateLimit-Policy ${policyText}`).toBeDefined();
    expect((r as number) <= (p as { q: number }).q, `${where}: r=${String(r)} > q in ${limitText}`).toBe(true);
    limits.set(item as string, { r: r as number, t: t as number });
  }
  expect([...limits.keys()], `${where}: policies of RateLimit vs RateLimit-Policy`).toEqual([...policies.keys()]);
  return { policies, limits };
}

/** checkRefusal checks a 429: Retry-After whole seconds >= every violated t, no-store, problem+json body. */
export function checkRefusal(
  reply: { status: number; headers: Headers; body: string },
  where: string,
): Record<string, unknown> {
  expect(reply.status, `${where}: status`).toBe(429);
  const retry = reply.headers.get("retry-after");
  expect(retry, `${where}: Retry-After`).toMatch(/^[1-9]\d*$/);
  expect(reply.headers.get("cache-control"), `${where}: Cache-Control`).toBe("no-store");
  expect(reply.headers.get("content-type"), `${where}: Content-Type`).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(reply.body) as Record<string, unknown>;
  expect(body.type, `${where}: problem type`).toBe("https://iana.org/assignments/http-problem-types#quota-exceeded");
  expect(body.status, `${where}: problem status`).toBe(429);
  expect(Array.isArray(body["violated-policies"]), `${where}: violated-policies`).toBe(true);
  if (reply.headers.get("ratelimit") !== null) {
    const { limits } = parseLimits(reply.headers, where);
    for (const name of body["violated-policies"] as string[]) {
      const t = limits.get(name)?.t ?? 0;
      expect(Number(retry) >= t, `${where}: Retry-After ${retry} earlier than t=${t} of "${name}"`).toBe(true);
    }
  }
  return body;
}
