// fetch.ts: a Web-standard fetch handler, (Request) => Response, wrapped by floodgate; for Bun, Deno, Workers or Node.
//
// Run: node --import tsx examples/fetch.ts
// It calls the wrapped handler directly with Request objects (no server needed), and
// prints the answers. On Bun or Deno export { fetch: handler }; on Workers export default { fetch: handler }.

import { tokenBucket } from "../src/core/token-bucket.js";
import { withRateLimit } from "../src/http/fetch.js";

const handler = withRateLimit((request: Request) => new Response(`hello from ${new URL(request.url).pathname}\n`), {
  policy: tokenBucket({ name: "api", capacity: 2, refillRate: 1 }),
  // How this runtime tells the client address; Bun and Deno are recognised without it.
  peer: (request) => request.headers.get("x-test-peer") ?? undefined,
});

for (let i = 1; i <= 3; i++) {
  const res = await handler(new Request("http://example.test/", { headers: { "x-test-peer": "192.0.2.10" } }));
  console.log(`request ${i}: ${res.status}  RateLimit: ${res.headers.get("ratelimit")}`);
  if (res.status === 429) console.log(`  ${res.headers.get("content-type")}: ${await res.text()}`);
}
