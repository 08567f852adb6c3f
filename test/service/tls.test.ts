// tls.test.ts: with --tls-cert and --tls-key, both APIs speak TLS only (a self-signed certificate made here).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { descriptor, rlsClient, type ServiceProcess, startServe, tempDir } from "./helpers.js";

const tmp = tempDir("tls");
let svc: ServiceProcess;
let cert: Buffer;

beforeAll(async () => {
  const key = join(tmp.dir, "key.pem");
  const crt = join(tmp.dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      key,
      "-out",
      crt,
    ],
    { stdio: "ignore" },
  );
  cert = readFileSync(crt);
  const file = tmp.write(
    "limits.yaml",
    "domain: t\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n",
  );
  svc = await startServe(["--config", file, "--tls-cert", crt, "--tls-key", key]);
}, 60_000);

afterAll(async () => {
  await svc?.stop();
  tmp.remove();
});

it("gRPC over TLS decides; a plaintext client gets no answer", async () => {
  const c = rlsClient(svc.grpcPort, grpc.credentials.createSsl(cert));
  const plain = rlsClient(svc.grpcPort);
  try {
    const req = { domain: "t", descriptors: [descriptor({ k: "v" })] };
    expect((await c.shouldRateLimit(req)).overall_code).toBe("OK");
    expect((await c.shouldRateLimit(req)).overall_code).toBe("OVER_LIMIT");
    await expect(plain.shouldRateLimit(req)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  } finally {
    c.close();
    plain.close();
  }
});

it("HTTPS serves the JSON API with the same certificate", async () => {
  const body = await new Promise<string>((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port: svc.httpPort, path: "/readyz", ca: cert, method: "GET" }, (res) => {
      let s = "";
      res.on("data", (c: Buffer) => (s += c.toString()));
      res.on("end", () => resolve(s));
    });
    r.on("error", reject);
    r.end();
  });
  expect(JSON.parse(body)).toEqual({ status: "ready" });
});
