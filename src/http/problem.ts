// problem.ts: the RFC 9457 problem+json body of every 429 the HTTP layer sends, built in one place.

/** QUOTA_EXCEEDED is the problem type of draft-ietf-httpapi-ratelimit-headers for an exhausted quota. */
export const QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded";
/** TEMPORARY_REDUCED_CAPACITY is the draft's problem type used when the store failed and onStoreError is "deny". */
export const TEMPORARY_REDUCED_CAPACITY = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity";

/** ProblemReason is why a request is refused: an exhausted quota, a cost no quota can hold, or an unavailable limiter. */
export type ProblemReason = "quota" | "cost" | "store";

/**
 * problemBody returns the RFC 9457 body of a 429: `type` and `title` of the
 * draft's problem types (quota-exceeded for "quota" and "cost",
 * temporary-reduced-capacity for "store"), `status` 429, the `detail` given and
 * the draft's `violated-policies` member. The caller's `problem(info)` option
 * receives this object and may replace it.
 */
export function problemBody(
  reason: ProblemReason,
  detail: string,
  violatedPolicies: readonly string[],
): Record<string, unknown> {
  const capacity = reason === "store";
  return {
    type: capacity ? TEMPORARY_REDUCED_CAPACITY : QUOTA_EXCEEDED,
    title: capacity
      ? "Request cannot be satisfied due to temporary server capacity constraints"
      : "Request cannot be satisfied as assigned quota has been exceeded",
    status: 429,
    detail,
    "violated-policies": violatedPolicies,
  };
}

/** quotaDetail is the detail of an exhausted quota: the policies that refused and when to retry. */
export function quotaDetail(violatedPolicies: readonly string[], retryAfterSeconds: number): string {
  const names = violatedPolicies.map((n) => `"${n}"`).join(", ");
  return `Too many requests for policy ${names}: retry in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}.`;
}

/** costDetail is the detail of a request whose cost is larger than a policy's limit: it can never be admitted. */
export function costDetail(cost: number, limit: number, policyName: string): string {
  return `This request costs ${cost} units, more than the ${limit} that policy "${policyName}" allows at once, so it can never be admitted.`;
}

/** STORE_DETAIL is the detail of a refusal made because the limiter could not decide (onStoreError "deny"). */
export const STORE_DETAIL = "The rate limit store is unavailable; retry in 1 second.";
