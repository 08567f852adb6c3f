// adapter.ts: the small interface RedisStore talks to, and adapters for ioredis and node-redis.

import { describe, FloodgateTypeError } from "../../core/errors.js";

/**
 * RedisAdapter is all RedisStore needs from a Redis client: run a script by
 * SHA1 or by source, with its keys. Every key one call passes shares a hash
 * slot, so a Cluster client can route the call by `keys[0]`. Writing one for
 * another client (valkey-glide, iovalkey) takes a few lines.
 */
export interface RedisAdapter {
  /** cluster is true for a Redis Cluster: then each call's keys must share one slot (RedisStore sees to it). */
  readonly cluster: boolean;
  /** evalsha runs a cached script; it rejects with an error whose message starts with "NOSCRIPT" when the server lacks it. */
  evalsha(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** eval runs a script by its source (the server caches it, so the next evalsha finds it). */
  eval(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * scriptLoad (optional) loads a script on every primary (`SCRIPT LOAD`; on a
   * Cluster, every master the client knows), over the connections later calls
   * use. After a NOSCRIPT, RedisStore loads every script before it retries
   * anything; without scriptLoad it loads them by EVAL calls that change
   * nothing, on the node of the call that got NOSCRIPT.
   */
  scriptLoad?(source: string): Promise<unknown>;
  /**
   * info (optional) runs `INFO <section>` on the primaries this client talks to
   * and returns each reply: one for a standalone server; on a Cluster, one per
   * master the client knows, or one node of the client's choosing while it
   * knows none yet. RedisStore calls it once at start to read
   * `maxmemory_policy` (see docs/redis.md); without it, RedisStore reads INFO
   * through a one-line script, from one server.
   */
  info?(section: string): Promise<readonly ServerInfo[]>;
}

/** ServerInfo is one server's INFO reply: its address when the client knows it ("127.0.0.1:6379"), and the text. */
export interface ServerInfo {
  readonly node?: string;
  readonly text: string;
}

/** IoRedisLike is the part of an ioredis `Redis` or `Cluster` this adapter uses. */
export interface IoRedisLike {
  evalsha(sha1: string, numkeys: number, ...args: string[]): Promise<unknown>;
  eval(script: string, numkeys: number, ...args: string[]): Promise<unknown>;
  readonly isCluster?: boolean;
}

/** NodeRedisClientLike is the part of a node-redis (v4+) client this adapter uses. */
export interface NodeRedisClientLike {
  sendCommand(args: string[]): Promise<unknown>;
}

/** NodeRedisClusterLike is the part of a node-redis (v4+) cluster this adapter uses. */
export interface NodeRedisClusterLike {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  readonly masters: unknown;
}

/** IoRedisInfo is the part of an ioredis `Redis` or `Cluster` that info() uses, when present. */
interface IoRedisInfo {
  info?(section: string): Promise<unknown>;
  script?(sub: "LOAD", source: string): Promise<unknown>;
  nodes?(role: "master"): IoRedisInfo[];
  readonly status?: string;
  once?(event: "ready", fn: () => void): unknown;
  readonly options?: { readonly host?: unknown; readonly port?: unknown };
}

/** address renders a host and port as "host:port", or undefined when either is unknown. */
function address(host: unknown, port: unknown): string | undefined {
  return (typeof host === "string" || typeof host === "number") &&
    (typeof port === "number" || typeof port === "string")
    ? `${host}:${port}`
    : undefined;
}

/** urlAddress renders a redis:// URL's host and port (never its credentials), or undefined. */
function urlAddress(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}`;
  } catch {
    return undefined;
  }
}

/**
 * ioredisAdapter adapts an ioredis `Redis` or `Cluster` instance (ioredis routes
 * a script call by its first key). Its info() waits until a Cluster is ready and
 * asks each of its masters (`nodes("master")`); its scriptLoad() loads on each
 * master the Cluster knows.
 */
export function ioredisAdapter(client: IoRedisLike): RedisAdapter {
  const c = client as IoRedisLike & IoRedisInfo;
  return {
    cluster: client.isCluster === true,
    evalsha: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
    async scriptLoad(source) {
      const servers = c.isCluster === true && typeof c.nodes === "function" ? c.nodes("master") : [c];
      return Promise.all(
        servers.map((n) => {
          if (typeof n.script !== "function") throw new Error("floodgate: this ioredis client has no script()");
          return n.script("LOAD", source);
        }),
      );
    },
    async info(section) {
      // A Cluster knows its masters once it is ready (the caller bounds the wait).
      if (c.isCluster === true && c.status !== "ready" && typeof c.once === "function") {
        await new Promise<void>((resolve) => c.once?.("ready", resolve));
      }
      const masters = c.isCluster === true && typeof c.nodes === "function" ? c.nodes("master") : [];
      const servers = masters.length > 0 ? masters : [c];
      return Promise.all(
        servers.map(async (n) => {
          if (typeof n.info !== "function") throw new Error("floodgate: this ioredis client has no info()");
          return { node: address(n.options?.host, n.options?.port), text: String(await n.info(section)) };
        }),
      );
    },
  };
}

/** NodeRedisInfo is the part of a node-redis client or cluster that info() uses, when present. */
interface NodeRedisInfo {
  readonly options?: { readonly url?: unknown; readonly socket?: { readonly host?: unknown; readonly port?: unknown } };
  readonly masters?: readonly { readonly host?: unknown; readonly port?: unknown }[];
  nodeClient?(node: unknown): NodeRedisClientLike | Promise<NodeRedisClientLike>;
}

/**
 * nodeRedisAdapter adapts a node-redis client (`createClient`) or cluster
 * (`createCluster`), v4 or v5. Its info() asks every master of a cluster
 * (`masters`, through `nodeClient`), or one node of the cluster's choosing
 * while none is known.
 */
export function nodeRedisAdapter(client: NodeRedisClientLike | NodeRedisClusterLike): RedisAdapter {
  if ("masters" in client) {
    const c = client as NodeRedisClusterLike & NodeRedisInfo;
    return {
      cluster: true,
      evalsha: (sha1, keys, args) =>
        c.sendCommand(keys[0], false, ["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
      eval: (source, keys, args) =>
        c.sendCommand(keys[0], false, ["EVAL", source, String(keys.length), ...keys, ...args]),
      async scriptLoad(source) {
        const masters = Array.isArray(c.masters) ? c.masters : [];
        if (typeof c.nodeClient !== "function")
          throw new Error("floodgate: this node-redis cluster has no nodeClient()");
        const nodeClient = c.nodeClient.bind(c);
        return Promise.all(masters.map(async (m) => (await nodeClient(m)).sendCommand(["SCRIPT", "LOAD", source])));
      },
      async info(section) {
        const masters = Array.isArray(c.masters) ? c.masters : [];
        if (masters.length === 0 || typeof c.nodeClient !== "function") {
          return [{ text: String(await c.sendCommand(undefined, true, ["INFO", section])) }];
        }
        const nodeClient = c.nodeClient.bind(c);
        return Promise.all(
          masters.map(async (m) => {
            const node = await nodeClient(m);
            return { node: address(m.host, m.port), text: String(await node.sendCommand(["INFO", section])) };
          }),
        );
      },
    };
  }
  const c = client as NodeRedisClientLike & NodeRedisInfo;
  const socket = c.options?.socket;
  const url = c.options?.url;
  const node = address(socket?.host, socket?.port) ?? urlAddress(url);
  return {
    cluster: false,
    evalsha: (sha1, keys, args) => c.sendCommand(["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
    eval: (source, keys, args) => c.sendCommand(["EVAL", source, String(keys.length), ...keys, ...args]),
    scriptLoad: (source) => c.sendCommand(["SCRIPT", "LOAD", source]),
    info: async (section) => [{ node, text: String(await c.sendCommand(["INFO", section])) }],
  };
}

/**
 * toAdapter recognises an ioredis or node-redis client (standalone or cluster)
 * and returns its adapter. It throws a FloodgateTypeError for anything else.
 */
export function toAdapter(client: unknown): RedisAdapter {
  const c = client as Record<string, unknown> | null;
  if (c !== null && typeof c === "object") {
    // node-redis has camel-cased evalSha and sendCommand; ioredis has lower-case evalsha.
    if (typeof c.sendCommand === "function" && typeof c.evalSha === "function") {
      return nodeRedisAdapter(c as unknown as NodeRedisClientLike);
    }
    if (typeof c.evalsha === "function" && typeof c.eval === "function") {
      return ioredisAdapter(c as unknown as IoRedisLike);
    }
  }
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: RedisStore({ client }) must be an ioredis Redis or Cluster, or a node-redis client or cluster, got ${describe(client)}; for another client pass { adapter } implementing RedisAdapter.`,
  );
}
