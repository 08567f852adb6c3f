// nestjs-contexts.test.ts: floodgate/nestjs's guard in GraphQL (Apollo on Express) and WebSocket (ws) contexts, as
// NestJS documents them: the GraphQL context carries { req, res }; a gateway is guarded with @UseGuards and a ws
// client hears about a WsException through the gateway's exception filter.

import "reflect-metadata";
import type { AddressInfo } from "node:net";
import { ApolloDriver, type ApolloDriverConfig } from "@nestjs/apollo";
import { type ArgumentsHost, Catch, type INestApplication, Module, UseFilters, UseGuards } from "@nestjs/common";
import { APP_GUARD, NestFactory } from "@nestjs/core";
import { GraphQLModule, Query, Resolver } from "@nestjs/graphql";
import { WsAdapter } from "@nestjs/platform-ws";
import {
  BaseWsExceptionFilter,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
} from "@nestjs/websockets";
import { WebSocket } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FloodgateGuard, FloodgateModule, RateLimit } from "../../src/adapters/nestjs.js";
import { tokenBucket } from "../../src/index.js";

let now = 0;

@Resolver()
class HelloResolver {
  @Query()
  hello(): string {
    return "world";
  }

  @Query()
  @RateLimit({ cost: 2 })
  report(): string {
    return "report";
  }
}

/** WsErrors sends a WsException's error to the ws client (ws has no emit to the peer; Nest's filter emits locally). */
@Catch(WsException)
class WsErrors extends BaseWsExceptionFilter {
  override catch(exception: WsException, host: ArgumentsHost): void {
    const client = host.switchToWs().getClient<{ send(text: string): void }>();
    client.send(JSON.stringify({ event: "error", data: exception.getError() }));
  }
}

@WebSocketGateway({ path: "/ws" })
@UseGuards(FloodgateGuard)
@UseFilters(new WsErrors())
class ChatGateway {
  @SubscribeMessage("ping")
  ping(@MessageBody() data: unknown) {
    return { event: "pong", data };
  }

  @SubscribeMessage("shout")
  @RateLimit({ policy: tokenBucket({ name: "shout", capacity: 1, refillRate: 1 }) })
  shout(@MessageBody() data: unknown) {
    return { event: "shouted", data };
  }
}

@Module({
  imports: [
    FloodgateModule.forRoot({ policy: tokenBucket({ name: "api", capacity: 3, refillRate: 1 }), now: () => now }),
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      typeDefs: "type Query { hello: String, report: String }",
      // As NestJS documents for guards on resolvers: the HTTP request and response in the GraphQL context.
      context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
    }),
  ],
  providers: [HelloResolver, ChatGateway, { provide: APP_GUARD, useClass: FloodgateGuard }],
})
class AppModule {}

let app: INestApplication;
let base = "";

beforeAll(async () => {
  app = await NestFactory.create(AppModule, { logger: false });
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.listen(0, "127.0.0.1");
  base = `127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  await app?.close();
});

async function graphql(query: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`http://${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe("GraphQL (Apollo, Express)", () => {
  it("each guarded resolver spends from the client's limit; a refusal is a GraphQL error and the HTTP headers say why", async () => {
    now = 1_000_000;
    const rows: { step: number; query: string; data: unknown; r: string; why: string }[] = [
      { step: 1, query: "{ hello }", data: { hello: "world" }, r: '"api";r=2;t=1', why: "cost 1" },
      { step: 2, query: "{ report }", data: { report: "report" }, r: '"api";r=0;t=1', why: "@RateLimit({ cost: 2 })" },
      { step: 3, query: "{ hello }", data: { hello: null }, r: '"api";r=0;t=1', why: "empty: refused" },
    ];
    for (const row of rows) {
      const reply = await graphql(row.query);
      const at = `step ${row.step} ${row.query} (${row.why})`;
      expect(reply.status, `${at}: GraphQL answers 200`).toBe(200);
      expect(reply.body.data, `${at}: data`).toEqual(row.data);
      expect(reply.headers.get("ratelimit"), `${at}: RateLimit`).toBe(row.r);
      expect(reply.headers.get("content-type"), `${at}: the GraphQL response keeps its type`).toMatch(/json/);
      if (row.step === 3) {
        expect(reply.headers.get("retry-after"), `${at}: Retry-After`).toBe("1");
        const error = (reply.body.errors as { message: string; extensions: Record<string, unknown> }[])[0];
        expect(error?.message, `${at}: the error`).toBe('Too many requests for policy "api": retry in 1 second.');
        expect(error?.extensions, `${at}: the error's extensions`).toEqual({
          code: "RATE_LIMITED",
          retryAfterSeconds: 1,
          violatedPolicies: ["api"],
        });
      } else {
        expect(reply.body.errors, `${at}: no errors`).toBeUndefined();
      }
    }
    now += 1000;
    expect((await graphql("{ hello }")).body.data, "refilled after 1 s").toEqual({ hello: "world" });
  });
});

/** Socket is an open ws client that collects the messages it receives. */
async function socket(): Promise<{ send(event: string, data: unknown): Promise<unknown>; close(): void }> {
  const ws = new WebSocket(`ws://${base}/ws`);
  const inbox: unknown[] = [];
  const waiting: ((m: unknown) => void)[] = [];
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(String(e.data));
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error("ws did not open")));
  });
  return {
    send(event, data) {
      ws.send(JSON.stringify({ event, data }));
      return inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r));
    },
    close: () => ws.close(),
  };
}

describe("WebSocket (ws adapter)", () => {
  it("messages spend from the client's limit (keyed by the socket's address); a refusal is a WsException", async () => {
    now = 2_000_000;
    const ws = await socket();
    try {
      const replies: unknown[] = [];
      for (let i = 0; i < 4; i++) replies.push(await ws.send("ping", i));
      expect(replies.slice(0, 3), "three pongs").toEqual([0, 1, 2].map((i) => ({ event: "pong", data: i })));
      const refused = replies[3] as { event: string; data: Record<string, unknown> };
      expect(refused.event, "the fourth is refused").toBe("error");
      expect(refused.data["violated-policies"], "by the module's policy").toEqual(["api"]);
      expect(refused.data.status).toBe(429);
      // A handler's own policy is added to the module's, all-or-nothing: "api" is empty, so shout is refused
      // and its own bucket keeps its token for later.
      const shout = (await ws.send("shout", "hey")) as { event: string; data: Record<string, unknown> };
      expect(shout.data["violated-policies"], "shout refused by api").toEqual(["api"]);
      now += 3000;
      expect(await ws.send("shout", "hey"), "refilled: shout's token was kept").toEqual({
        event: "shouted",
        data: "hey",
      });
      const again = (await ws.send("shout", "hey")) as { event: string; data: Record<string, unknown> };
      expect(again.data["violated-policies"], "shout's own bucket of 1").toEqual(["shout"]);
    } finally {
      ws.close();
    }
  });
});
