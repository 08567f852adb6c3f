// headers.ts: reads Retry-After, RateLimit, RateLimit-Policy and X-RateLimit-* as untrusted hints.

import { MAX_LIMIT } from "../core/validate.js";
import { type BareItem, type Member, parseDictionary, parseList } from "./structured.js";

/** HeaderGetter reads one response header: null when absent. Repeated fields are joined with ", ". */
export type HeaderGetter = (name: string) => string | null;

/** DEFAULT_MAX_DELAY_MS is the default ceiling for any server-given wait: one hour. */
export const DEFAULT_MAX_DELAY_MS = 3_600_000;

/** EPOCH_SECONDS_FROM is the smallest X-RateLimit-Reset read as epoch seconds (2001-09-09); below it, delta seconds. */
export const EPOCH_SECONDS_FROM = 1e9;
/** EPOCH_MILLISECONDS_FROM is the smallest X-RateLimit-Reset read as epoch milliseconds. */
export const EPOCH_MILLISECONDS_FROM = 1e12;

/**
 * RateLimitHints is what a response says about the client's quota. Every field
 * is optional: absent when the server did not say, or said something malformed,
 * negative, non-numeric or already past. Durations are whole milliseconds,
 * never above the `maxDelayMs` ceiling.
 */
export interface RateLimitHints {
  /** retryAfterMs comes from Retry-After (delta-seconds or HTTP-date). 0 means "now". */
  retryAfterMs?: number;
  /** remaining is the quota still available, a whole number >= 0. */
  remaining?: number;
  /** resetAfterMs is the time in which `remaining` applies (the effective window, or the time to the reset). */
  resetAfterMs?: number;
  /** limit is the quota of the whole window, when the server told it. */
  limit?: number;
  /** windowMs is the policy's window, when the server told it. */
  windowMs?: number;
  /** policy names the server policy the quota fields came from, when named. */
  policy?: string;
  /**
   * partitionKey is that policy's `pk` (base64, as sent), when the server sent
   * one: the quota partition the response spoke of. The client keeps one budget
   * per `key`; when a server partitions one origin (per user, per API key), make
   * `key` tell the partitions apart.
   */
  partitionKey?: string;
  /**
   * ageMs is the response's `Age` when positive: it was served from a cache, so
   * its quota fields (remaining, reset, limit, window, policy) were ignored, as
   * draft-11 section 7.3 says; Retry-After is still read.
   */
  ageMs?: number;
  /** source tells which header family the quota fields came from. */
  source?: "ratelimit" | "ratelimit-draft7" | "ratelimit-legacy" | "x-ratelimit" | "x-ratelimit-requests";
}

/** ParseHintsOptions configures readRateLimitHints. */
export interface ParseHintsOptions {
  /** maxDelayMs is the ceiling for any duration read. Default one hour. */
  maxDelayMs?: number;
  /**
   * wallNowMs is the wall clock (epoch ms) used for HTTP-dates and epoch resets
   * when the response has no valid `Date` header. Default Date.now().
   */
  wallNowMs?: number;
}

/**
 * readRateLimitHints reads every rate limit signal of a response. Precedence
 * for the quota: the IETF `RateLimit` field (latest draft, a List of
 * `"name";r=..;t=..` items), its draft-07 Dictionary form
 * (`limit=10, remaining=2, reset=5`), the older `RateLimit-Remaining` /
 * `RateLimit-Reset` / `RateLimit-Limit` trio, then `X-RateLimit-Remaining` /
 * `X-RateLimit-Reset` (or `-Reset-After`) / `X-RateLimit-Limit`, then the
 * LLM-style `X-RateLimit-Remaining-Requests` family. With several
 * policies in `RateLimit`, the tightest wins: any exhausted one (the longest
 * `t`), else the least `r`. Malformed fields are ignored as a whole. On a
 * response served from a cache (a positive `Age`), the quota fields are not
 * read at all and `ageMs` says why; `Retry-After` still is. How Retry-After
 * and the quota combine (Retry-After takes precedence) is the pacer's part.
 *
 * HTTP-dates and epoch resets are measured against the response's `Date`
 * header when valid (so a skewed local clock does not matter), else `wallNowMs`.
 */
export function readRateLimitHints(get: HeaderGetter, options: ParseHintsOptions = {}): RateLimitHints {
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const serverDate = parseHttpDate(get("date"));
  const wallNowMs = serverDate ?? options.wallNowMs ?? Date.now();
  const hints: RateLimitHints = {};
  const retryAfterMs = parseRetryAfter(get("retry-after"), wallNowMs, maxDelayMs);
  if (retryAfterMs !== undefined) hints.retryAfterMs = retryAfterMs;
  // draft-ietf-httpapi-ratelimit-headers-11, section 7.3: the RateLimit fields of a response that comes from a
  // cache "SHOULD be ignored" (a positive current_age, RFC 9111 section 4.2.3): they may not be current. The
  // vendor families are no fresher, so they are ignored too. A client cannot compute current_age without the
  // cache's bookkeeping; the Age field a cache adds (RFC 9111 section 5.1) is the signal it sees.
  const ageS = parseAge(get("age"));
  if (ageS !== undefined && ageS > 0) {
    hints.ageMs = secondsToMs(ageS);
    return hints;
  }
  const quota =
    readIetf(get, maxDelayMs) ??
    readLegacy(get, maxDelayMs) ??
    readXRateLimit(get, wallNowMs, maxDelayMs) ??
    readPerRequestsFamily(get, maxDelayMs);
  if (quota) Object.assign(hints, quota);
  return hints;
}

/**
 * parseAge reads an Age field (RFC 9111 section 5.1): delta-seconds; from a
 * list, the first member. It returns undefined for a missing or invalid value,
 * which is ignored, as the RFC says.
 */
function parseAge(value: string | null): number | undefined {
  if (value === null) return undefined;
  const first = (value.split(",")[0] ?? "").trim();
  return /^\d{1,32}$/.test(first) ? Number(first) : undefined;
}

/**
 * parseRetryAfter reads a Retry-After value: delta-seconds (digits only) or an
 * HTTP-date (IMF-fixdate, RFC 850 or asctime). It returns whole milliseconds,
 * capped at `maxDelayMs`, or undefined for a missing, malformed, negative,
 * fractional or past value.
 */
export function parseRetryAfter(
  value: string | null,
  wallNowMs: number,
  maxDelayMs = DEFAULT_MAX_DELAY_MS,
): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,32}$/.test(v)) return clampMs(Number(v) * 1000, maxDelayMs);
  const at = parseHttpDate(v);
  if (at === undefined) return undefined;
  const ms = at - wallNowMs;
  return ms >= 0 ? clampMs(ms, maxDelayMs) : undefined;
}

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE =
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** parseHttpDate reads an HTTP-date (RFC 9110 section 5.6.7) as epoch ms, or undefined when malformed. */
export function parseHttpDate(value: string | null): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms = Number.NaN;
  if (IMF_FIXDATE.test(v) || RFC850_DATE.test(v)) ms = Date.parse(v);
  else if (ASCTIME_DATE.test(v)) ms = Date.parse(`${v} GMT`);
  return Number.isFinite(ms) ? ms : undefined;
}

/** clampMs rounds a duration up to whole ms and caps it; undefined for NaN or negative input. */
function clampMs(ms: number, maxDelayMs: number): number | undefined {
  if (!(ms >= 0)) return undefined;
  return Math.min(Math.ceil(ms), maxDelayMs);
}

/** secondsToMs converts a count of seconds to milliseconds. */
function secondsToMs(s: number): number {
  return s * 1000;
}

/** intParam reads a non-negative Integer parameter, or undefined. */
function intParam(m: Member, name: string): number | undefined {
  const p = m.params.get(name);
  return p !== undefined && p.type === "integer" && p.value >= 0 ? p.value : undefined;
}

function itemName(item: BareItem | null): string | undefined {
  return item !== null && (item.type === "string" || item.type === "token") ? item.value : undefined;
}

/**
 * wellFormedLimit reports whether a `RateLimit` member is a Service Limit Item
 * as draft-11 section 4.1 defines it: a policy name, the REQUIRED `r` (a
 * non-negative Integer), and, when present, `t` (a non-negative Integer) and
 * `pk` (a Byte Sequence). Other parameters are comments and are not checked.
 */
function wellFormedLimit(m: Member): boolean {
  return (
    itemName(m.item) !== undefined &&
    intParam(m, "r") !== undefined &&
    (!m.params.has("t") || intParam(m, "t") !== undefined) &&
    (!m.params.has("pk") || m.params.get("pk")?.type === "bytes")
  );
}

/**
 * wellFormedPolicy reports whether a `RateLimit-Policy` member is a Quota
 * Policy Item as draft-11 section 3.1 defines it: a name, the REQUIRED `q` (a
 * non-negative Integer), and, when present, `w` (a positive Integer), `qu` (a
 * String) and `pk` (a Byte Sequence).
 */
function wellFormedPolicy(m: Member): boolean {
  const w = m.params.get("w");
  return (
    itemName(m.item) !== undefined &&
    intParam(m, "q") !== undefined &&
    (w === undefined || (w.type === "integer" && w.value > 0)) &&
    (!m.params.has("qu") || m.params.get("qu")?.type === "string") &&
    (!m.params.has("pk") || m.params.get("pk")?.type === "bytes")
  );
}

/**
 * readIetf reads the latest-draft `RateLimit` List (with `RateLimit-Policy` for
 * the limit), or its draft-07 Dictionary form. draft-11 section 7: "Malformed
 * RateLimit header fields MUST be ignored": one malformed member makes the whole
 * field ignored, and a malformed `RateLimit-Policy` is ignored on its own (it is
 * informative). Policy names may be Strings or Tokens (drafts before 11).
 */
function readIetf(get: HeaderGetter, maxDelayMs: number): RateLimitHints | undefined {
  const raw = get("ratelimit");
  if (raw === null) return undefined;
  const list = parseList(raw);
  if (list !== null && list.length > 0 && list.every(wellFormedLimit)) {
    let best: { name: string; r: number; t: number | undefined; m: Member } | undefined;
    for (const m of list) {
      const r = Math.min(intParam(m, "r") as number, MAX_LIMIT);
      const t = intParam(m, "t");
      const cand = { name: itemName(m.item) as string, r, t, m };
      if (best === undefined || tighter(cand, best)) best = cand;
    }
    if (best === undefined) return undefined;
    const hints: RateLimitHints = { remaining: best.r, policy: best.name, source: "ratelimit" };
    if (best.t !== undefined) hints.resetAfterMs = clampMs(secondsToMs(best.t), maxDelayMs) as number;
    const pk = best.m.params.get("pk");
    if (pk?.type === "bytes") hints.partitionKey = pk.value;
    const policies = parseList(get("ratelimit-policy") ?? "");
    const pol = policies?.every(wellFormedPolicy) ? policies.find((m) => itemName(m.item) === best.name) : undefined;
    if (pol) {
      const q = intParam(pol, "q");
      const w = intParam(pol, "w");
      if (q !== undefined) hints.limit = Math.min(q, MAX_LIMIT);
      if (w !== undefined) hints.windowMs = clampMs(secondsToMs(w), maxDelayMs) as number;
    }
    return hints;
  }
  const dict = parseDictionary(raw);
  if (dict === null) return undefined;
  const num = (k: string): number | undefined => {
    const m = dict.get(k);
    return m?.item?.type === "integer" && m.item.value >= 0 ? m.item.value : undefined;
  };
  const remaining = num("remaining");
  if (remaining === undefined) return undefined;
  const hints: RateLimitHints = { remaining: Math.min(remaining, MAX_LIMIT), source: "ratelimit-draft7" };
  const reset = num("reset");
  const limit = num("limit");
  if (reset !== undefined) hints.resetAfterMs = clampMs(secondsToMs(reset), maxDelayMs) as number;
  if (limit !== undefined) hints.limit = Math.min(limit, MAX_LIMIT);
  return hints;
}

/** tighter reports whether quota a binds harder than b: exhausted first (longest wait), then least remaining. */
function tighter(a: { r: number; t: number | undefined }, b: { r: number; t: number | undefined }): boolean {
  if (a.r === 0 && b.r === 0) return (a.t ?? 0) > (b.t ?? 0);
  if (a.r !== b.r) return a.r < b.r;
  return (a.t ?? 0) > (b.t ?? 0);
}

/** leadingNumber reads the first comma-separated element as a finite number >= 0, or undefined. */
function leadingNumber(value: string | null): number | undefined {
  if (value === null) return undefined;
  const first = (value.split(",")[0] ?? "").trim();
  if (!/^\d{1,32}(\.\d{1,9})?$/.test(first)) return undefined;
  const n = Number(first);
  return Number.isFinite(n) ? n : undefined;
}

/** readLegacy reads the pre-draft-07 `RateLimit-Remaining` / `RateLimit-Reset` (delta seconds) / `RateLimit-Limit`. */
function readLegacy(get: HeaderGetter, maxDelayMs: number): RateLimitHints | undefined {
  const remaining = leadingNumber(get("ratelimit-remaining"));
  if (remaining === undefined) return undefined;
  const hints: RateLimitHints = { remaining: Math.min(Math.floor(remaining), MAX_LIMIT), source: "ratelimit-legacy" };
  const reset = leadingNumber(get("ratelimit-reset"));
  const limit = leadingNumber(get("ratelimit-limit"));
  if (reset !== undefined) hints.resetAfterMs = clampMs(secondsToMs(reset), maxDelayMs) as number;
  if (limit !== undefined) hints.limit = Math.min(Math.floor(limit), MAX_LIMIT);
  return hints;
}

/**
 * readXRateLimit reads `X-RateLimit-Remaining` with `X-RateLimit-Reset-After`
 * (delta seconds) or `X-RateLimit-Reset`, whose unit is guessed from its size:
 * below 1e9 it is delta seconds (less than 31 years), below 1e12 epoch seconds
 * (GitHub), else epoch milliseconds. An epoch already past is ignored. A server
 * that sends a delta in milliseconds cannot be told apart from delta seconds; the
 * ceiling keeps such a wait bounded.
 */
function readXRateLimit(get: HeaderGetter, wallNowMs: number, maxDelayMs: number): RateLimitHints | undefined {
  const remaining = leadingNumber(get("x-ratelimit-remaining"));
  if (remaining === undefined) return undefined;
  const hints: RateLimitHints = { remaining: Math.min(Math.floor(remaining), MAX_LIMIT), source: "x-ratelimit" };
  const limit = leadingNumber(get("x-ratelimit-limit"));
  if (limit !== undefined) hints.limit = Math.min(Math.floor(limit), MAX_LIMIT);
  const after = leadingNumber(get("x-ratelimit-reset-after"));
  const reset = leadingNumber(get("x-ratelimit-reset"));
  let resetAfterMs: number | undefined;
  if (after !== undefined) {
    resetAfterMs = clampMs(secondsToMs(after), maxDelayMs);
  } else if (reset !== undefined) {
    if (reset < EPOCH_SECONDS_FROM) resetAfterMs = clampMs(secondsToMs(reset), maxDelayMs);
    else {
      const atMs = reset < EPOCH_MILLISECONDS_FROM ? secondsToMs(reset) : reset;
      const ms = atMs - wallNowMs;
      resetAfterMs = ms >= 0 ? clampMs(ms, maxDelayMs) : undefined;
    }
  }
  if (resetAfterMs !== undefined) hints.resetAfterMs = resetAfterMs;
  return hints;
}

const DURATION =
  /^(?:(\d{1,9}(?:\.\d{1,6})?)h)?(?:(\d{1,9}(?:\.\d{1,6})?)m)?(?:(\d{1,9}(?:\.\d{1,6})?)s)?(?:(\d{1,9}(?:\.\d{1,6})?)ms)?$/;

/**
 * parseDuration reads a Go-style duration as sent by LLM APIs (`1s`, `6m0s`,
 * `1h2m3.5s`, `250ms`) or plain seconds (`12`, `0.5`), in milliseconds; undefined
 * when malformed. Negative values do not parse.
 */
export function parseDuration(value: string | null): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  if (/^\d{1,12}(\.\d{1,9})?$/.test(v)) return secondsToMs(Number(v));
  const m = DURATION.exec(v);
  if (m === null) return undefined;
  const [, h, min, sec, ms] = m;
  return Number(h ?? 0) * 3_600_000 + Number(min ?? 0) * 60_000 + secondsToMs(Number(sec ?? 0)) + Number(ms ?? 0);
}

/**
 * readPerRequestsFamily reads the `X-RateLimit-{Limit,Remaining,Reset}-Requests`
 * family that LLM APIs (OpenAI, Groq) send, whose reset is a duration such as
 * `6m0s`. The `-Tokens` twins are not read: the client cannot know a request's
 * token cost in the server's units.
 */
function readPerRequestsFamily(get: HeaderGetter, maxDelayMs: number): RateLimitHints | undefined {
  const remaining = leadingNumber(get("x-ratelimit-remaining-requests"));
  if (remaining === undefined) return undefined;
  const hints: RateLimitHints = {
    remaining: Math.min(Math.floor(remaining), MAX_LIMIT),
    source: "x-ratelimit-requests",
  };
  const limit = leadingNumber(get("x-ratelimit-limit-requests"));
  if (limit !== undefined) hints.limit = Math.min(Math.floor(limit), MAX_LIMIT);
  const resetMs = parseDuration(get("x-ratelimit-reset-requests"));
  if (resetMs !== undefined) hints.resetAfterMs = clampMs(resetMs, maxDelayMs) as number;
  return hints;
}

/** headersGetter adapts a Fetch `Headers` object. */
export function headersGetter(headers: { get(name: string): string | null }): HeaderGetter {
  return (name) => headers.get(name);
}

/** recordGetter adapts a plain header object (undici's lowercase `Record<string, string | string[]>`). */
export function recordGetter(headers: Record<string, string | string[] | undefined> | null | undefined): HeaderGetter {
  return (name) => {
    const v = headers?.[name];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(", ") : String(v);
  };
}
