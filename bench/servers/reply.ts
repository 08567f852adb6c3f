// reply.ts: the fixed answers of the bench's bare echo servers (echo.ts, connect.ts): one admitted descriptor, as the
// service answers it, so the echoes carry a reply of the service's shape without deciding anything.

/** REPLY is ShouldRateLimit's answer for one admitted descriptor, in grpc-js's plain-object shape. */
export const REPLY = {
  overall_code: "OK",
  statuses: [
    {
      code: "OK",
      current_limit: { name: "", requests_per_unit: 1_000_000_000, unit: 1 },
      limit_remaining: 999_999_999,
      duration_until_reset: { seconds: 0, nanos: 500_000_000 },
    },
  ],
  response_headers_to_add: [
    { key: "RateLimit-Policy", value: '"r0000";q=1000000000;w=1' },
    { key: "RateLimit", value: '"r0000";r=999999999;t=1' },
  ],
  request_headers_to_add: [],
};

/** HTTP_REPLY_BODY is the bare HTTP echo's fixed JSON (smaller than the service's answer, without its headers). */
export const HTTP_REPLY_BODY = JSON.stringify({ allowed: true, overall_code: "OK", statuses: REPLY.statuses });

/**
 * SAME_WIRE is what `floodgate serve` answers to bench/service.ts's POST /v1/decide (the bench config: domain bench,
 * key user, 10^12 per hour, fixed window), field for field and byte for byte up to the digits that vary per call
 * (remaining and the reset times, padded to the same widths): the "same wire content" echo sends it, so the gap
 * between it and the service is the service's own work, not the size of its answer.
 */
export const SAME_WIRE = {
  headers: [
    "Content-Type",
    "application/json",
    "RateLimit-Policy",
    '"reb50b045";q=1000000000000;w=3600',
    "RateLimit",
    '"reb50b045";r=999999999999;t=559',
  ],
  body: JSON.stringify({
    allowed: true,
    overall_code: "OK",
    statuses: [
      {
        code: "OK",
        rule: "bench/user",
        name: null,
        algorithm: "fixed_window",
        limit: { requests_per_unit: 1_000_000_000_000, unit: "HOUR" },
        limit_remaining: 999_999_999_999,
        duration_until_reset_ms: 558_968,
        shadow_over_limit: false,
        unit_code: 3,
      },
    ],
    headers: {
      "RateLimit-Policy": '"reb50b045";q=1000000000000;w=3600',
      RateLimit: '"reb50b045";r=999999999999;t=559',
    },
  }),
};
