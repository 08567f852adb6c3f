// grpc.test.ts: the real `floodgate serve` process answering Envoy's RateLimitService over loopback, called with a
// gRPC client built from our .proto: the scenarios Envoy's service documents (in our words), floodgate's algorithms
// and all-or-nothing, health, bad input that must never crash it, tokens, reload and draining.

import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descriptor, rlsClient, type ServiceProcess, startServe, tempDir } from "./helpers.js";

// Fixed windows are aligned to the wall clock (a minute window ends on every whole minute), so a test whose calls
// straddle the end of one starts counting again halfway: per day, not per minute, that is 1,440 times less likely
// (a loaded machine stretches a test's calls over seconds).
const LIMITS = `
domain: edge
descriptors:
  - key: remote_address
    rate_limit: { unit: day, requests_per_unit: 3 }
  - key: remote_address
    value: 10.9.9.9
    rate_limit: { unit: day, requests_per_unit: 1 }
  - key: path
    value: /api/*
    rate_limit: { unit: day, requests_per_unit: 2 }
  - key: tenant
    value: acme
    descriptors:
      - key: user
        rate_limit: { unit: hour, requests_per_unit: 2, name: acme_user }
      - key: user
        value: robot
        rate_limit: { unlimited: true }
  - key: plan
    value: gold
    rate_limit:
      unit: day
      requests_per_unit: 50
      replaces:
        - name: acme_user
  - key: canary
    shadow_mode: true
    rate_limit: { unit: day, requests_per_unit: 1 }
  - key: bucket
    rate_limit: { unit: second, requests_per_unit: 1, algorithm: token_bucket, burst: 3 }
  - key: pair_a
    rate_limit: { unit: day, requests_per_unit: 10 }
  - key: pair_b
    rate_limit: { unit: day, requests_per_unit: 2 }
`;

const tmp = tempDir("grpc");
let svc: ServiceProcess;
let client: ReturnType<typeof rlsClient>;

beforeAll(async () => {
  const file = tmp.write("limits.yaml", LIMITS);
  svc = await startServe(["--config", file, "--admin-token", "sekret"]);
  client = rlsClient(svc.grpcPort);
}, 60_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  tmp.remove();
});

type Status = { code: string; current_limit: Record<string, unknown> | null; limit_remaining: number };
const call = async (descriptors: unknown[], hits_addend = 0, domain = "edge") => {
  const r = await client.shouldRateLimit({ domain, descriptors, hits_addend });
  return r as { overall_code: string; statuses: Status[]; response_headers_to_add: { key: string; value: string }[] };
};
const codes = (r: Awaited<ReturnType<typeof call>>) => [r.overall_code, ...r.statuses.map((s) => s.code)];

describe("Envoy's documented scenarios", () => {
  it("a value-less key limits each value on its own; a key/value overrides it", async () => {
    for (let i = 0; i < 3; i++) expect(codes(await call([descriptor({ remote_address: "1.1.1.1" })]))[0]).toBe("OK");
    const r = await call([descriptor({ remote_address: "1.1.1.1" })]);
    expect(codes(r)).toEqual(["OVER_LIMIT", "OVER_LIMIT"]);
    expect(r.statuses[0]).toMatchObject({
      current_limit: { requests_per_unit: 3, unit: "DAY" },
      limit_remaining: 0,
    });
    expect(codes(await call([descriptor({ remote_address: "2.2.2.2" })]))[0]).toBe("OK");
    expect(codes(await call([descriptor({ remote_address: "10.9.9.9" })]))[0]).toBe("OK");
    expect(codes(await call([descriptor({ remote_address: "10.9.9.9" })]))[0]).toBe("OVER_LIMIT");
  });

  it("a wildcard value limits each matching value on its own", async () => {
    for (const p of ["/api/a", "/api/b"]) {
      expect(codes(await call([descriptor({ path: p })]))[0]).toBe("OK");
      expect(codes(await call([descriptor({ path: p })]))[0]).toBe("OK");
      expect(codes(await call([descriptor({ path: p })]))[0]).toBe("OVER_LIMIT");
    }
    const none = await call([descriptor({ path: "/web" })]);
    expect(none.statuses[0]).toMatchObject({ code: "OK", current_limit: null });
  });

  it("nested descriptors, unlimited, replaces", async () => {
    const acme = (user: string) =>
      descriptor([
        ["tenant", "acme"],
        ["user", user],
      ]);
    expect(codes(await call([acme("u1")]))).toEqual(["OK", "OK"]);
    expect(codes(await call([acme("u1")]))).toEqual(["OK", "OK"]);
    expect(codes(await call([acme("u1")]))).toEqual(["OVER_LIMIT", "OVER_LIMIT"]);
    for (let i = 0; i < 5; i++) {
      const r = await call([acme("robot")]);
      expect(r.statuses[0]).toMatchObject({ code: "OK", current_limit: null, limit_remaining: 4294967295 });
    }
    // With plan=gold in the same request, acme_user is replaced: u2 passes 3 times.
    for (let i = 0; i < 3; i++) {
      const r = await call([acme("u2"), descriptor({ plan: "gold" })]);
      expect(codes(r), `call ${i + 1}`).toEqual(["OK", "OK", "OK"]);
      expect(r.statuses[0]?.current_limit).toBeNull();
    }
  });

  it("shadow mode: over its limit, still OK", async () => {
    expect(codes(await call([descriptor({ canary: "x" })]))).toEqual(["OK", "OK"]);
    const r = await call([descriptor({ canary: "x" })]);
    expect(codes(r)).toEqual(["OK", "OK"]);
    expect(r.response_headers_to_add).toEqual([]);
  });

  it("hits_addend: per request (0 counts 1, N counts N) and per descriptor (0 checks without counting)", async () => {
    const d = () => descriptor({ pair_a: "h" });
    expect((await call([d()], 4)).statuses[0]?.limit_remaining).toBe(6);
    expect((await call([descriptor({ pair_a: "h" }, 0)])).statuses[0]?.limit_remaining).toBe(6);
    expect((await call([d()])).statuses[0]?.limit_remaining).toBe(5);
    expect(codes(await call([d()], 6))[0]).toBe("OVER_LIMIT");
    expect((await call([descriptor({ pair_a: "h" }, 5)])).statuses[0]?.limit_remaining).toBe(0);
  });

  it("an unknown domain answers OK with no limits; an empty descriptor list is INVALID_ARGUMENT", async () => {
    const r = await call([descriptor({ remote_address: "1.1.1.1" })], 0, "nope");
    expect(codes(r)).toEqual(["OK", "OK"]);
    await expect(call([])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(call([descriptor({})])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(call([descriptor({ a: "b" })], 0, "")).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });
});

describe("floodgate's additions", () => {
  it("a token bucket: burst 3, then one per second; durations and headers", async () => {
    const d = descriptor({ bucket: "k" });
    for (let i = 0; i < 3; i++) expect(codes(await call([d]))[0]).toBe("OK");
    const r = await call([d]);
    expect(r.overall_code).toBe("OVER_LIMIT");
    const s = r.statuses[0] as Status & { duration_until_reset: { seconds: number; nanos: number } };
    const ms = s.duration_until_reset.seconds * 1000 + s.duration_until_reset.nanos / 1e6;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(1000);
    const h = Object.fromEntries(r.response_headers_to_add.map((x) => [x.key, x.value]));
    expect(h["Retry-After"]).toBe("1");
    expect(h.RateLimit).toMatch(/;r=0;t=1$/);
  });

  it("all-or-nothing: a request refused by pair_b takes nothing from pair_a", async () => {
    const both = [descriptor({ pair_a: "x" }), descriptor({ pair_b: "x" })];
    expect(codes(await call(both))).toEqual(["OK", "OK", "OK"]);
    expect(codes(await call(both))).toEqual(["OK", "OK", "OK"]);
    const r = await call(both);
    expect(codes(r)).toEqual(["OVER_LIMIT", "OK", "OVER_LIMIT"]);
    expect(r.statuses[0]?.limit_remaining).toBe(8);
    const check = await call([descriptor({ pair_a: "x" }, 0)]);
    expect(check.statuses[0]?.limit_remaining).toBe(8);
  });
});

describe("health and bad input", () => {
  it("grpc.health.v1: SERVING for the server and the service, NOT_FOUND for another", async () => {
    expect(await client.check({ service: "" })).toEqual({ status: "SERVING" });
    expect(await client.check({ service: "envoy.service.ratelimit.v3.RateLimitService" })).toEqual({
      status: "SERVING",
    });
    await expect(client.check({ service: "other" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  const raw = (bytes: Buffer): Promise<Buffer> => client.raw(bytes);
  const str = (field: number, s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
  };

  it("malformed protobuf is refused, and the server keeps answering", async () => {
    await expect(raw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]))).rejects.toMatchObject({
      code: expect.any(Number),
    });
    expect(codes(await call([descriptor({ remote_address: "7.7.7.7" })]))[0]).toBe("OK");
  });

  it("unknown fields (a newer Envoy) are skipped", async () => {
    const entry = Buffer.concat([str(1, "pair_a"), str(2, "unknown-fields")]);
    const desc = Buffer.concat([Buffer.from([(1 << 3) | 2, entry.length]), entry, Buffer.from([(9 << 3) | 0, 1])]);
    const msg = Buffer.concat([
      str(1, "edge"),
      Buffer.from([(2 << 3) | 2, desc.length]),
      desc,
      Buffer.from([0x98, 0x06, 0x01]), // field 99, varint 1
    ]);
    const reply = await raw(msg);
    // overall_code (field 1, varint) = OK (1)
    expect([...reply.subarray(0, 2)]).toEqual([0x08, 0x01]);
  });

  it("a huge descriptor list is INVALID_ARGUMENT; a message over the size limit is RESOURCE_EXHAUSTED", async () => {
    const many = Array.from({ length: 65 }, (_, i) => descriptor({ remote_address: `h${i}` }));
    await expect(call(many)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const huge = [descriptor({ remote_address: "x".repeat(70_000) })];
    await expect(call(huge)).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(codes(await call([descriptor({ remote_address: "8.8.8.8" })]))[0]).toBe("OK");
  });
});

describe("tokens, reload, draining (their own processes)", () => {
  it("with --token, a call without the token is UNAUTHENTICATED and counts nothing", async () => {
    const file = tmp.write(
      "tok.yaml",
      "domain: t\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n",
    );
    const s = await startServe(["--config", file, "--grpc-port", "0"], { FLOODGATE_TOKEN: "let-me-in" });
    const c = rlsClient(s.grpcPort);
    try {
      const req = { domain: "t", descriptors: [descriptor({ k: "v" })] };
      await expect(c.shouldRateLimit(req)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      const wrong = new grpc.Metadata();
      wrong.set("authorization", "Bearer nope");
      await expect(c.shouldRateLimit(req, wrong)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      const md = new grpc.Metadata();
      md.set("authorization", "Bearer let-me-in");
      expect((await c.shouldRateLimit(req, md)).overall_code).toBe("OK");
      expect((await c.shouldRateLimit(req, md)).overall_code).toBe("OVER_LIMIT");
    } finally {
      c.close();
      expect(await s.stop()).toBe(0);
    }
  });

  it("a file change reloads and keeps every client's state; a bad file keeps the running configuration", async () => {
    const v1 = "domain: r\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 3 }\n";
    const file = tmp.write("reload.yaml", v1);
    const s = await startServe(["--config", file]);
    const c = rlsClient(s.grpcPort);
    const one = async (key: string) =>
      (await c.shouldRateLimit({ domain: "r", descriptors: [descriptor({ [key]: "v" })] })) as {
        overall_code: string;
        statuses: Status[];
      };
    try {
      expect((await one("k")).statuses[0]?.limit_remaining).toBe(2);
      // Add a rule; k's rule is unchanged, so its state stays.
      tmp.write("reload.yaml", `${v1}  - key: j\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n`);
      await s.waitForLog((l) => String(l.msg).startsWith("reloaded"));
      expect((await one("k")).statuses[0]?.limit_remaining).toBe(1);
      expect((await one("j")).statuses[0]?.current_limit).toMatchObject({ requests_per_unit: 1 });
      // A bad file: refused with its line, the running configuration stays.
      tmp.write("reload.yaml", `${v1}  - key: j\n    rate_limit: { unit: fortnight, requests_per_unit: 1 }\n`);
      const bad = await s.waitForLog((l) => String(l.msg).startsWith("reload refused"));
      expect(String(bad.msg)).toMatch(/reload\.yaml:6:\d+: "unit" must be one of/);
      expect((await one("j")).overall_code).toBe("OVER_LIMIT");
      expect((await one("k")).statuses[0]?.limit_remaining).toBe(0);
      // SIGHUP reloads too.
      s.proc.kill("SIGHUP");
      await s.waitForLog((l) => String(l.msg).startsWith("reload refused") && l !== bad);
    } finally {
      c.close();
      expect(await s.stop()).toBe(0);
    }
  });

  it("SIGTERM drains a call whose stream is open but whose message has not arrived yet", async () => {
    // Regression: the drain counted a call only once its handler ran (after the message was read), so under load
    // calls the server had accepted were cut as CANCELLED. Here the message is held back on purpose for 700 ms
    // (past the 250 ms idle wait): the call must still be answered, and only then may the process exit.
    const file = tmp.write(
      "drain-late.yaml",
      "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 100000 }\n",
    );
    const s = await startServe(["--config", file, "--grace-ms", "60000"]);
    const session = http2.connect(`http://127.0.0.1:${s.grpcPort}`);
    // A cut session also fails the stream below, which is what the test reports.
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",
        "content-type": "application/grpc+proto",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.on("trailers", resolve);
        stream.on("error", reject);
        stream.on("close", () => reject(new Error(`stream closed without trailers (rst code ${stream.rstCode})`)));
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      // The server has the stream (its headers) before the drain starts.
      await new Promise<void>((resolve) => {
        stream.on("ready", () => resolve());
      });
      // A PING after the stream's HEADERS: HTTP/2 frames are read in order, so its ACK comes back once the server has
      // read the HEADERS and opened the call (a fixed 100 ms here was a guess a loaded machine can outlast).
      await new Promise<void>((resolve, reject) => {
        session.ping((err) => (err ? reject(err) : resolve()));
      });
      s.proc.kill("SIGTERM");
      await s.waitForLog((l) => l.msg === "draining");
      await new Promise((r) => setTimeout(r, 700));
      // RateLimitRequest { domain: "d", descriptors: [{ entries: [{ key: "k", value: "late" }] }] }
      const str = (field: number, v: string) =>
        Buffer.concat([Buffer.from([(field << 3) | 2, v.length]), Buffer.from(v)]);
      const entry = Buffer.concat([str(1, "k"), str(2, "late")]);
      const desc = Buffer.concat([Buffer.from([(1 << 3) | 2, entry.length]), entry]);
      const msg = Buffer.concat([str(1, "d"), Buffer.from([(2 << 3) | 2, desc.length]), desc]);
      const frame = Buffer.alloc(5);
      frame.writeUInt32BE(msg.length, 1);
      stream.end(Buffer.concat([frame, msg]));
      const t = await trailers;
      expect(t["grpc-status"]).toBe("0");
      // overall_code (field 1, varint) = OK (1), after the 5-byte gRPC frame header
      expect([...Buffer.concat(chunks).subarray(5, 7)]).toEqual([0x08, 0x01]);
      expect(await s.stop()).toBe(0);
    } finally {
      session.destroy();
    }
  });

  it("SIGTERM drains: every call in flight is answered, then the process exits 0", async () => {
    const file = tmp.write(
      "drain.yaml",
      "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 100000 }\n",
    );
    const s = await startServe(["--config", file, "--grace-ms", "60000"]);
    const c = rlsClient(s.grpcPort);
    try {
      // Warm the connection, start 600 calls, and send SIGTERM once 20 are answered (the rest in flight).
      await c.shouldRateLimit({ domain: "d", descriptors: [descriptor({ k: "w" })] });
      let answeredSoFar = 0;
      const calls = Array.from({ length: 600 }, (_, i) =>
        c.shouldRateLimit({ domain: "d", descriptors: [descriptor({ k: `v${i % 7}` })] }).then(
          (r) => {
            if (++answeredSoFar === 20) s.proc.kill("SIGTERM");
            return r.overall_code as string;
          },
          (e: grpc.ServiceError) => `error ${e.code}`,
        ),
      );
      const results = await Promise.all(calls);
      const answered = results.filter((r) => r === "OK").length;
      // Calls the server had received were answered; any it never received were refused as UNAVAILABLE, never cut.
      expect(results.filter((r) => r !== "OK" && r !== `error ${grpc.status.UNAVAILABLE}`)).toEqual([]);
      expect(answered).toBeGreaterThan(20);
      expect(await s.stop()).toBe(0);
      const stopped = await s.waitForLog((l) => l.msg === "floodgate serve stopped");
      // Regression: draining waited the whole grace period while the client kept its (idle) connection open;
      // it ends once the calls in flight are answered.
      const draining = s.logs.find((l) => l.msg === "draining") as { time: string };
      expect(Date.parse(String(stopped.time)) - Date.parse(draining.time)).toBeLessThan(30_000);
    } finally {
      c.close();
    }
  });
});
