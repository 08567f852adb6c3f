// echo.ts: the transports' own ceiling for bench/service.ts: a bare grpc-js unary ShouldRateLimit that answers
// a fixed OK (no decision), and a bare node:http server that reads the body and answers a fixed JSON (`http`), or
// the service's own answer byte for byte (`http-same`: same header fields, same body).
//
// Run: node --import tsx bench/servers/echo.ts grpc|http|http-same   (prints {"port": N} on stdout when listening)

import { createServer } from "node:http";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { LOADER_OPTIONS } from "../../src/service/grpc.js";
import { PROTO_JSON } from "../../src/service/proto.generated.js";
import { HTTP_REPLY_BODY, REPLY, SAME_WIRE } from "./reply.js";

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
  // http: a fixed small JSON (the transport's floor); http-same: the service's answer, byte for byte (SAME_WIRE), so
  // both ends parse and copy what they do with the service. Both read and parse the body, as the service does.
  const same = kind === "http-same";
  const body = same ? SAME_WIRE.body : HTTP_REPLY_BODY;
  // Content-Length given with writeHead: without it Node would send the body chunked.
  const headers = [...SAME_WIRE.headers, "Content-Length", String(Buffer.byteLength(body))];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (same) res.writeHead(200, headers).end(body);
      else {
        res.setHeader("Content-Type", "application/json");
        res.end(body);
      }
    });
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
}
