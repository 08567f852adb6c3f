// echo.ts: the transports' own ceiling for bench/service.ts: a bare grpc-js unary ShouldRateLimit that answers
// a fixed OK (no decision), and a bare node:http server that reads the body and answers a fixed JSON.
//
// Run: node --import tsx bench/servers/echo.ts grpc|http   (prints {"port": N} on stdout when listening)

import { createServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { LOADER_OPTIONS } from "../../src/service/grpc.js";
import { PROTO_JSON } from "../../src/service/proto.generated.js";

/** REPLY is the same shape the service answers for one admitted descriptor. */
const REPLY = {
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

const kind = process.argv[2];
if (kind === "grpc") {
  const def = loader.fromJSON(PROTO_JSON as never, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { ratelimit: { v3: { RateLimitService: { service: grpc.ServiceDefinition } } } } };
  };
  const server = new grpc.Server();
  server.addService(pkg.envoy.service.ratelimit.v3.RateLimitService.service, {
    ShouldRateLimit: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, REPLY),
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
} else {
  const body = JSON.stringify({ allowed: true, overall_code: "OK", statuses: REPLY.statuses });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      res.setHeader("Content-Type", "application/json");
      res.end(body);
    });
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
}
