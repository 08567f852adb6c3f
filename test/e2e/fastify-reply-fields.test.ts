// fastify-reply-fields.test.ts: the Fastify adapter writes RateLimit and RateLimit-Policy straight into Fastify's reply header object, and through reply.header when that object does not behave as expected.

import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import { rateLimit } from "../../src/adapters/fastify.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { hit } from "./servers.js";

const policy = () => tokenBucket({ name: "api", capacity: 3, refillRate: 0.001 });

/**
 * server runs Fastify with floodgate, and before it an onRequest hook that counts
 * reply.header calls for the two fields per request (`calls`); `tamper(n, reply)`
 * may change the n-th request's reply (from 1) before floodgate sees it.
 */
async function server(
  tamper?: (n: number, reply: FastifyReply) => void,
): Promise<{ base: string; calls: number[]; close: () => Promise<void> }> {
  const app: FastifyInstance = Fastify();
  const calls: number[] = [];
  app.addHook("onRequest", (_request: FastifyRequest, reply: FastifyReply, done) => {
    const n = calls.push(0);
    tamper?.(n, reply);
    const header = reply.header;
    reply.header = function counted(this: FastifyReply, name: string, value: unknown) {
      if (name.toLowerCase().startsWith("ratelimit")) calls[n - 1] = (calls[n - 1] as number) + 1;
      return header.call(this, name, value);
    } as FastifyReply["header"];
    done();
  });
  await app.register(rateLimit, { policy: policy() });
  app.get("/", async () => "hello");
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, calls, close: () => app.close() };
}

/** wire reads the two fields of a response with a structured-field parser: the policy item and [r, t]. */
function wire(headers: Headers): { policy: [unknown, number | undefined, number | undefined]; r: unknown; t: unknown } {
  const p = parseList(headers.get("ratelimit-policy") ?? "");
  const l = parseList(headers.get("ratelimit") ?? "");
  expect(p.length, `one RateLimit-Policy item in ${headers.get("ratelimit-policy")}`).toBe(1);
  expect(l.length, `one RateLimit item in ${headers.get("ratelimit")}`).toBe(1);
  const [pi, pp] = p[0] as [unknown, Map<string, unknown>];
  const [li, lp] = l[0] as [unknown, Map<string, unknown>];
  expect(li).toBe("api");
  return {
    policy: [pi, pp.get("q") as number | undefined, pp.get("w") as number | undefined],
    r: lp.get("r"),
    t: lp.get("t"),
  };
}

describe("Fastify adapter: the RateLimit fields on the reply", () => {
  it("go through reply.header once, on the first reply, then straight into Fastify's header object; the wire is the same", async () => {
    const s = await server();
    try {
      const got = [];
      for (let i = 0; i < 4; i++) {
        const res = await hit(s.base);
        got.push({ status: res.status, ...wire(res.headers) });
      }
      expect(got).toEqual([
        { status: 200, policy: ["api", 3, 3000], r: 2, t: 1000 },
        { status: 200, policy: ["api", 3, 3000], r: 1, t: 1000 },
        { status: 200, policy: ["api", 3, 3000], r: 0, t: 1000 },
        { status: 429, policy: ["api", 3, 3000], r: 0, t: 1000 },
      ]);
      // The 429 still gets its other fields through reply.header (not counted: other names).
      // The first field of the first reply is the check; every write after it is direct.
      expect(s.calls, "reply.header calls for the two fields, per request").toEqual([1, 0, 0, 0]);
    } finally {
      await s.close();
    }
  });

  it("go through reply.header on every reply when, on the first, reply.header did not store them in that object", async () => {
    // The first reply's header() stores on the node response instead (still sent): the check fails.
    const s = await server((n, reply) => {
      if (n !== 1) return;
      reply.header = function elsewhere(this: FastifyReply, name: string, value: unknown) {
        this.raw.setHeader(name, value as string);
        return this;
      } as FastifyReply["header"];
    });
    try {
      const got = [];
      for (let i = 0; i < 4; i++) {
        const res = await hit(s.base);
        got.push({ status: res.status, ...wire(res.headers) });
      }
      expect(got.map((g) => [g.status, g.r])).toEqual([
        [200, 2],
        [200, 1],
        [200, 0],
        [429, 0],
      ]);
      for (const g of got) expect(g.policy).toEqual(["api", 3, 3000]);
      expect(s.calls, "the public reply.header for every reply after the failed check").toEqual([2, 2, 2, 2]);
    } finally {
      await s.close();
    }
  });

  it("go through reply.header on every reply when the first reply has no header object (a stand-in reply)", async () => {
    const hooks: Record<string, unknown> = {};
    const instance = {
      addHook(name: string, fn: unknown): void {
        hooks[name] = fn;
      },
    };
    rateLimit(instance as unknown as FastifyInstance, { policy: policy() }, (e) => {
      expect(e).toBeUndefined();
    });
    const hook = hooks.onRequest as (q: FastifyRequest, r: FastifyReply, next: () => void) => void;
    const socket = { remoteAddress: "127.0.0.1" };
    const seen: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const stored: Record<string, string> = {};
      // A reply with the header object Fastify keeps, but created after the first reply was looked at.
      const headers = Symbol("fastify.reply.headers");
      const reply: Record<string | symbol, unknown> = {
        header(name: string, value: string) {
          stored[name.toLowerCase()] = value;
          return reply;
        },
        getHeader: (name: string) => stored[name.toLowerCase()],
        code: () => reply,
        send: () => reply,
      };
      if (i === 1) reply[headers] = {};
      const request = { raw: { method: "GET", url: "/", headers: {}, socket }, routeOptions: { config: {} } };
      hook(request as unknown as FastifyRequest, reply as unknown as FastifyReply, () => {});
      seen.push(Object.keys(stored).sort());
    }
    expect(seen, "both replies through header(), the second although it has the object").toEqual([
      ["ratelimit", "ratelimit-policy"],
      ["ratelimit", "ratelimit-policy"],
    ]);
  });
});
