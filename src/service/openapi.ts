// openapi.ts: the OpenAPI 3.1 document of the service's HTTP JSON API, served at /openapi.json.

const entry = {
  type: "object",
  required: ["key", "value"],
  additionalProperties: false,
  properties: { key: { type: "string", minLength: 1 }, value: { type: "string" } },
};

const request = {
  type: "object",
  required: ["domain", "descriptors"],
  additionalProperties: false,
  properties: {
    domain: { type: "string", minLength: 1, description: "the configuration's domain" },
    descriptors: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["entries"],
        additionalProperties: false,
        properties: {
          entries: { type: "array", minItems: 1, items: { $ref: "#/components/schemas/Entry" } },
          hits_addend: {
            type: "integer",
            minimum: 0,
            description: "what this descriptor counts for; 0 checks without counting",
          },
          limit: {
            type: "object",
            description:
              "Envoy's RateLimitOverride: this limit instead of the configured one (ignored in an unknown domain)",
            required: ["requests_per_unit", "unit"],
            additionalProperties: false,
            properties: {
              requests_per_unit: { type: "integer", minimum: 0, maximum: 4294967295 },
              unit: {
                description: "a unit name (any case) or Envoy's number for it",
                oneOf: [
                  { type: "string", description: "SECOND, MINUTE, HOUR, DAY, WEEK, MONTH or YEAR, in any case" },
                  { type: "integer", minimum: 1, maximum: 7 },
                ],
              },
            },
          },
        },
      },
    },
    hits_addend: { type: "integer", minimum: 0, description: "what the request counts for; 0 or absent counts 1" },
    cost: { type: "integer", minimum: 0, description: "the same as hits_addend" },
  },
};

const policyRequest = {
  type: "object",
  required: ["policy", "key"],
  additionalProperties: false,
  properties: {
    policy: { type: "string", minLength: 1, description: "a policy of the service's policy file" },
    key: { type: "string", description: "the client's key, used as given" },
    cost: { type: "integer", minimum: 0, description: "what the call spends (refund: gives back); default 1" },
  },
};

const policyVerdict = {
  type: "object",
  required: ["allowed", "policy", "limit", "remaining", "retry_after_ms", "reset_after_ms", "headers"],
  properties: {
    allowed: { type: "boolean" },
    policy: { type: "string" },
    limit: { type: "integer" },
    remaining: { type: "integer" },
    retry_after_ms: { type: "integer" },
    reset_after_ms: { type: "integer" },
    headers: { type: "object", additionalProperties: { type: "string" } },
    degraded: { type: "boolean" },
  },
};

const status = {
  type: "object",
  required: ["code"],
  properties: {
    code: { enum: ["OK", "OVER_LIMIT"] },
    rule: { type: "string", description: "the path of the rule applied" },
    name: { type: ["string", "null"] },
    algorithm: { type: "string" },
    limit: {
      type: "object",
      properties: { requests_per_unit: { type: "integer" }, unit: { type: "string" } },
    },
    limit_remaining: { type: "integer" },
    duration_until_reset_ms: { type: "integer" },
    shadow_over_limit: { type: "boolean" },
    unlimited: { type: "boolean" },
  },
};

const verdict = {
  type: "object",
  required: ["allowed", "overall_code", "statuses", "headers"],
  properties: {
    allowed: { type: "boolean" },
    overall_code: { enum: ["OK", "OVER_LIMIT"] },
    statuses: { type: "array", items: { $ref: "#/components/schemas/DescriptorStatus" } },
    headers: { type: "object", additionalProperties: { type: "string" } },
    degraded: { type: "boolean", description: "the store failed and its failure policy decided" },
  },
};

const problem = {
  type: "object",
  required: ["error", "message"],
  properties: { error: { type: "string" }, message: { type: "string" } },
};

const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });
const errors = {
  "400": { description: "bad input", content: json("Error") },
  "401": { description: "missing or wrong bearer token", content: json("Error") },
  "413": { description: "body too large", content: json("Error") },
  "415": { description: "not application/json", content: json("Error") },
};

function post(summary: string, ok: Record<string, unknown>, admin: boolean) {
  return {
    post: {
      summary,
      security: [{ [admin ? "admin" : "bearer"]: [] }],
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              oneOf: [{ $ref: "#/components/schemas/DecideRequest" }, { $ref: "#/components/schemas/PolicyRequest" }],
            },
          },
        },
      },
      responses: { "200": ok, ...errors, ...(admin ? { "403": { description: "admin calls are off" } } : {}) },
    },
  };
}

/** openApiDocument returns the OpenAPI document (a fresh object). */
export function openApiDocument(): Record<string, unknown> {
  const counted = {
    description: "the limits touched",
    content: { "application/json": { schema: { type: "object", properties: { limits: { type: "integer" } } } } },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "floodgate serve",
      version: "1",
      description: "Rate limit decisions over HTTP: the same verdicts as the Envoy RLS v3 gRPC API (docs/service.md).",
    },
    paths: {
      "/v1/decide": post(
        "count the hits and answer the verdict (all-or-nothing by default)",
        { description: "the verdict (PolicyVerdict for a PolicyRequest)", content: json("Verdict") },
        false,
      ),
      "/v1/peek": post(
        "answer each descriptor's standing, counting nothing",
        { description: "the standing (PolicyVerdict for a PolicyRequest)", content: json("Verdict") },
        false,
      ),
      "/v1/refund": post("give hits back (admin)", counted, true),
      "/v1/reset": post("forget the descriptors' state (admin)", counted, true),
      "/v1/admin/reload": {
        post: {
          summary: "read the configuration again; a bad one keeps the running one (admin)",
          security: [{ admin: [] }],
          responses: {
            "200": { description: "reloaded" },
            "409": { description: "refused, with why" },
            "401": errors["401"],
            "403": { description: "admin calls are off" },
          },
        },
      },
      "/v1/admin/top": {
        get: {
          summary: "the keys each rule refused most (heavy hitters of this process; admin)",
          security: [{ admin: [] }],
          parameters: [{ name: "policy", in: "query", required: false, schema: { type: "string" } }],
          responses: {
            "200": {
              description:
                "{ policies: [{ policy, domain, rule, refused, keys: [{ key, descriptor, count, error }] }] }",
            },
            "401": errors["401"],
            "403": { description: "admin calls are off" },
          },
        },
      },
      "/metrics": {
        get: {
          summary:
            "floodgate/prometheus metrics of the service's limiter and Envoy's counters per rule (Prometheus text)",
          responses: {
            "200": { description: "text/plain; version=0.0.4" },
            "501": { description: "prom-client (an optional peer) is not installed" },
          },
        },
      },
      "/healthz": { get: { summary: "the process is up", responses: { "200": { description: "ok" } } } },
      "/readyz": {
        get: {
          summary: "the service takes traffic",
          responses: { "200": { description: "ready" }, "503": { description: "draining" } },
        },
      },
    },
    components: {
      schemas: {
        Entry: entry,
        DecideRequest: request,
        PolicyRequest: policyRequest,
        DescriptorStatus: status,
        Verdict: verdict,
        PolicyVerdict: policyVerdict,
        Error: problem,
      },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "required only when the service has --token" },
        admin: {
          type: "http",
          scheme: "bearer",
          description: "the --admin-token; on the --admin-port address without --admin-token, none",
        },
      },
    },
  };
}
