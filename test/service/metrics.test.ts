// metrics.test.ts: the real `floodgate serve` process's /metrics, scraped and parsed: floodgate/prometheus's
// metrics of the service's limiter beside Envoy's counters per rule, with exact counts and no request value.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseText, value } from "../metrics/exposition.js";
import { descriptor, postJson, rlsClient, type ServiceProcess, startServe, tempDir } from "./helpers.js";

const LIMITS = `
domain: m
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 3, name: per_user }
  - key: probe
    shadow_mode: true
    rate_limit: { unit: hour, requests_per_unit: 1, name: shadowed }
  - key: team
    rate_limit: { unit: hour, requests_per_unit: 10, name: per_team }
`;

const tmp = tempDir("metrics");
let svc: ServiceProcess;

beforeAll(async () => {
  svc = await startServe(["--config", tmp.write("limits.yaml", LIMITS)]);
}, 60_000);

afterAll(async () => {
  await svc?.stop();
  tmp.remove();
});

describe("GET /metrics of the real process", () => {
  it("counts every verdict in both vocabularies, exactly, and never shows a request value", async () => {
    const c = rlsClient(svc.grpcPort);
    const codes: string[] = [];
    try {
      // step 1: alice 5 times alone (limit 3): 3 OK, 2 OVER_LIMIT; the third leaves 0 (past 80%: near).
      for (let i = 0; i < 5; i++) {
        const r = await c.shouldRateLimit({ domain: "m", descriptors: [descriptor({ user: "alice-secret" })] });
        codes.push(r.overall_code as string);
      }
      // step 2: the shadow rule twice (limit 1): both OK, the second a would-be refusal.
      for (let i = 0; i < 2; i++) {
        const r = await c.shouldRateLimit({ domain: "m", descriptors: [descriptor({ probe: "p-secret" })] });
        codes.push(r.overall_code as string);
      }
    } finally {
      c.close();
    }
    // step 3: over HTTP, team + alice (exhausted): refused all-or-nothing, team takes nothing.
    const r = await postJson(svc.httpPort, "/v1/decide", {
      domain: "m",
      descriptors: [
        { entries: [{ key: "team", value: "t-secret" }] },
        { entries: [{ key: "user", value: "alice-secret" }] },
      ],
    });
    codes.push(r.body.overall_code as string);
    expect(codes).toEqual(["OK", "OK", "OK", "OVER_LIMIT", "OVER_LIMIT", "OK", "OK", "OVER_LIMIT"]);

    const res = await fetch(`http://127.0.0.1:${svc.httpPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).not.toMatch(/secret/);
    const f = parseText(text);
    const rule = (name: string, path: string) =>
      value(f, `floodgate_ratelimit_${name}_total`, { domain: "m", rule: path });
    const want: [string, number | undefined, number][] = [
      // Envoy's vocabulary, per rule, in hits.
      ["user total", rule("total_hits", "m/user"), 6],
      ["user within", rule("within_limit", "m/user"), 3],
      ["user near", rule("near_limit", "m/user"), 1],
      ["user over", rule("over_limit", "m/user"), 3],
      ["probe total", rule("total_hits", "m/probe"), 2],
      ["probe within", rule("within_limit", "m/probe"), 1],
      ["probe over", rule("over_limit", "m/probe"), 1],
      ["probe shadow", rule("shadow_mode", "m/probe"), 1],
      // team's own verdict admitted its hit; the request was refused and took nothing from it.
      ["team within", rule("within_limit", "m/team"), 1],
      ["requests OK", value(f, "floodgate_service_requests_total", { code: "OK" }), 5],
      ["requests OVER_LIMIT", value(f, "floodgate_service_requests_total", { code: "OVER_LIMIT" }), 3],
      // floodgate/prometheus through the limiter's listener API, labelled by policy name.
      ["per_user allowed", value(f, "floodgate_decisions_total", { policy: "per_user", outcome: "allowed" }), 3],
      ["per_user denied", value(f, "floodgate_decisions_total", { policy: "per_user", outcome: "denied" }), 3],
      ["shadowed allowed", value(f, "floodgate_decisions_total", { policy: "shadowed", outcome: "allowed" }), 1],
      ["shadowed shadow", value(f, "floodgate_decisions_total", { policy: "shadowed", outcome: "shadow" }), 1],
      // team's limit admitted its hit, but the request was refused with it: a denial that took nothing.
      ["per_team allowed", value(f, "floodgate_decisions_total", { policy: "per_team", outcome: "allowed" }), 0],
      ["per_team denied", value(f, "floodgate_decisions_total", { policy: "per_team", outcome: "denied" }), 1],
      ["store degraded", value(f, "floodgate_store_degraded"), 0],
    ];
    expect(want.map(([what, got]) => [what, got])).toEqual(want.map(([what, , n]) => [what, n]));
    const team = await postJson(svc.httpPort, "/v1/peek", {
      domain: "m",
      descriptors: [{ entries: [{ key: "team", value: "t-secret" }] }],
    });
    expect(team.body).toMatchObject({ statuses: [{ limit_remaining: 10 }] });
  });
});
