// workerd.test.ts: floodgate on Cloudflare's Workers runtime (the `workerd` npm package), over real HTTP.
//
// esbuild bundles fixtures/worker.mjs (floodgate's dist/ and hono) for the browser platform, so any node: import
// would fail the build; the Worker runs without nodejs_compat. One workerd process serves two front Workers
// (two isolates, two sockets) and a Durable Object namespace they both bind, to show what is shared:
// the memory store limits per isolate; a Durable Object per client limits across every isolate.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/redis-server.js";
import { binary, type Running, root, start, waitFor } from "./runtime.js";
import { runtimeSuite } from "./suite.js";

let workerd: Running | undefined;
const bases: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "floodgate-workerd-"));

/** client n's headers: Cloudflare's CF-Connecting-IP, and a cf blob so the request has `cf` as on Cloudflare. */
const client = (n: number): Record<string, string> => ({
  "cf-connecting-ip": `203.0.113.${n + 1}`,
  "x-test-cf": JSON.stringify({ colo: "TST" }),
});

/** config is the workerd configuration: fronts a and b (each its own isolate) and the limiter's Durable Objects. */
function config(ports: number[]): string {
  const front = (name: string) => `(name = "${name}", worker = (
      modules = [ (name = "worker.js", esModule = embed "worker.js") ],
      compatibilityDate = "2025-09-01",
      globalOutbound = "loopback",
      bindings = [
        (name = "LIMITER", durableObjectNamespace = (className = "SharedLimiter", serviceName = "limiter")),
        (name = "FRONT", text = "${name}"),
      ],
    ))`;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ${front("front-a")},
    ${front("front-b")},
    (name = "limiter", worker = (
      modules = [ (name = "worker.js", esModule = embed "worker.js") ],
      compatibilityDate = "2025-09-01",
      durableObjectNamespaces = [ (className = "SharedLimiter", uniqueKey = "floodgate-shared-limiter") ],
      durableObjectStorage = (inMemory = void),
    )),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [
    (name = "a", address = "127.0.0.1:${ports[0]}", http = (cfBlobHeader = "x-test-cf"), service = "front-a"),
    (name = "b", address = "127.0.0.1:${ports[1]}", http = (cfBlobHeader = "x-test-cf"), service = "front-b"),
  ],
);
`;
}

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [join(root, "test/runtimes/fixtures/worker.mjs")],
    bundle: true,
    format: "esm",
    platform: "browser",
    outfile: join(dir, "worker.js"),
    // esbuild warns that tsup's bare chunk imports are dropped under "sideEffects": false; they import nothing new.
    logLevel: "error",
  });
  expect(bundle.errors).toEqual([]);
  for (let attempt = 1; ; attempt++) {
    const ports = [await freePort(), await freePort()];
    writeFileSync(join(dir, "config.capnp"), config(ports));
    const running = start(binary("workerd"), ["serve", "config.capnp"], { cwd: dir });
    const up = await waitFor(
      "workerd to answer on both sockets",
      async () => {
        if (running.process.exitCode !== null) return false;
        for (const p of ports) await fetch(`http://127.0.0.1:${p}/__warnings`);
        return true;
      },
      20_000,
    );
    if (up) {
      workerd = running;
      bases.push(...ports.map((p) => `http://127.0.0.1:${p}`));
      return;
    }
    // A port taken between freePort and workerd's bind: try others.
    if (attempt === 3) throw new Error(`workerd did not start:\n${running.output()}`);
    await running.stop();
  }
}, 60_000);

afterAll(async () => {
  await workerd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("Cloudflare workerd", () => {
  runtimeSuite("workerd", { base: () => bases[0] as string, client });

  it("workerd: each client address is its own bucket (CF-Connecting-IP, read because the request has cf)", async () => {
    const statuses: number[] = [];
    for (const n of [5, 5, 5, 5, 6]) {
      statuses.push((await fetch(`${bases[0]}/http/x`, { headers: client(n) })).status);
    }
    expect(statuses, "client 5 four times, then client 6").toEqual([200, 200, 200, 429, 200]);
  });

  it("workerd: the memory store limits per isolate; a Durable Object per client limits across isolates", async () => {
    const a = bases[0] as string;
    const b = bases[1] as string;
    const seen = async (url: string): Promise<number> => (await fetch(url, { headers: client(9) })).status;
    // Memory store: front a's isolate admits its 3, front b's isolate admits 3 more for the same client.
    const memory = [];
    for (const url of [a, a, a, a, b, b, b, b]) memory.push(await seen(`${url}/http/m`));
    expect(memory, "per isolate: a a a a b b b b").toEqual([200, 200, 200, 429, 200, 200, 200, 429]);
    // Durable Object: one bucket of 3 for the client whichever isolate asks.
    const durable = [];
    for (const url of [a, b, a, b, a]) durable.push(await seen(`${url}/shared/d`));
    expect(durable, "shared: a b a b a").toEqual([200, 200, 200, 429, 429]);
    const last = await fetch(`${b}/shared/d`, { headers: client(9) });
    expect(last.headers.get("ratelimit"), "the Durable Object's headers reach the client").toBe('"shared";r=0;t=1');
  });
});
