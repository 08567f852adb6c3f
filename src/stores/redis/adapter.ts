// adapter.ts: the small interface RedisStore talks to, and adapters for ioredis, node-redis, iovalkey and valkey-glide.

import { describe, FloodgateTypeError } from "../../core/errors.js";

/**
 * RedisAdapter is all RedisStore needs from a Redis client: run a script by
 * SHA1 or by source, with its keys. Every key one call passes shares a hash
 * slot, so a Cluster client can route the call by `keys[0]`. Adapters come for
 * ioredis, node-redis, iovalkey and valkey-glide; writing one for another
 * client takes a few lines.
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
   * fcall (optional, Redis 7+) runs a function of floodgate's library by name
   * (`FCALL`), routed by `keys[0]` on a Cluster; it rejects with an error whose
   * message contains "Function not found" when the server lacks it. Without
   * fcall and functionLoad, RedisStore always uses evalsha.
   */
  fcall?(fn: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * functionLoad (optional, Redis 7+) loads a function library on every primary
   * (`FUNCTION LOAD`; on a Cluster, every master the client knows, once it knows
   * them), over the connections later calls use. A primary that already holds a
   * library of that name ("already exists") counts as loaded: the name carries the
   * hash of the library's text, so it is the same library, and `REPLACE` would
   * compile all of it again (about 1 ms of the server's time). It rejects when any
   * primary refuses (no FUNCTION command, an ACL), and RedisStore then stays on
   * evalsha.
   */
  functionLoad?(source: string): Promise<unknown>;
  /**
   * info (optional) runs `INFO <section>` on the primaries this client talks to
   * and returns each reply: one for a standalone server; on a Cluster, one per
   * master the client knows, or one node of the client's choosing while it
   * knows none yet. RedisStore calls it once at start to read
   * `maxmemory_policy` (see docs/redis.md); without it, RedisStore reads INFO
   * through a one-line script, from one server.
   */
  info?(section: string): Promise<readonly ServerInfo[]>;
  /**
   * nodeOf (optional, Cluster) names the master the client would send a call on
   * Cluster slot `slot` (0..16383) to ("host:port"), or undefined while it does
   * not know. With it, RedisStore sends the calls of one tick to one master in one
   * script call (node.lua) instead of one per slot; the name is only compared, and
   * a stale answer costs one retry per slot, never a wrong decision.
   */
  nodeOf?(slot: number): string | undefined;
  /**
   * writesLate (optional) is true for a client that writes the commands it is
   * given only once the event loop has run this turn's I/O callbacks (node-redis
   * writes at setImmediate): a command given after those callbacks waits a whole
   * turn of the event loop for its write. RedisStore then sends each batch at the
   * end of the tick it was made in (still one write per connection per turn:
   * the client joins them), sends the parts of a split batch one turn apart
   * (given together they would leave in one write, which Redis reads and
   * answers as one), and on a Cluster of several masters keeps one node batch in
   * flight per master (the next gathers calls until the reply is in).
   */
  readonly writesLate?: boolean;
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

/** IoRedisInfo is the part of an ioredis `Redis` or `Cluster` that info() and nodeOf() use, when present. */
interface IoRedisInfo {
  /** slots maps a slot to its nodes ("host:port"), master first (ioredis Cluster). */
  readonly slots?: readonly (readonly string[] | undefined)[];
  info?(section: string): Promise<unknown>;
  script?(sub: "LOAD", source: string): Promise<unknown>;
  call?(command: string, ...args: string[]): Promise<unknown>;
  nodes?(role: "master"): IoRedisInfo[];
  readonly status?: string;
  once?(event: "ready", fn: () => void): unknown;
  readonly options?: { readonly host?: unknown; readonly port?: unknown };
}

/** LIBRARY_EXISTS matches a server's answer to FUNCTION LOAD of a library it already holds. */
export const LIBRARY_EXISTS = /already exists/i;

/** loaded counts a FUNCTION LOAD answered "already exists" as loaded (see RedisAdapter.functionLoad); other errors pass. */
function loaded(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === "string" && LIBRARY_EXISTS.test(message)) return "exists";
  throw err;
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
 * master the Cluster knows; its nodeOf() reads the Cluster's slot map (`slots`).
 */
export function ioredisAdapter(client: IoRedisLike): RedisAdapter {
  const c = client as IoRedisLike & IoRedisInfo;
  const cluster = client.isCluster === true;
  return {
    cluster,
    ...(cluster && Array.isArray(c.slots) ? { nodeOf: (slot: number) => c.slots?.[slot]?.[0] } : {}),
    evalsha: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
    ...(typeof c.call === "function"
      ? {
          fcall: (fn: string, keys: readonly string[], args: readonly string[]) =>
            (c.call as NonNullable<IoRedisInfo["call"]>)("FCALL", fn, String(keys.length), ...keys, ...args),
          async functionLoad(source: string) {
            if (c.isCluster === true && c.status !== "ready" && typeof c.once === "function") {
              await new Promise<void>((resolve) => c.once?.("ready", resolve));
            }
            const servers = c.isCluster === true && typeof c.nodes === "function" ? c.nodes("master") : [c];
            if (servers.length === 0) throw new Error("floodgate: this ioredis Cluster knows no master yet");
            return Promise.all(
              servers.map((n) => {
                if (typeof n.call !== "function") throw new Error("floodgate: this ioredis client has no call()");
                return n.call("FUNCTION", "LOAD", source).catch(loaded);
              }),
            );
          },
        }
      : {}),
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

/** NodeRedisShard is the part of a node-redis cluster's slot entry that nodeOf() reads. */
interface NodeRedisShard {
  readonly master?: { readonly address?: unknown; readonly host?: unknown; readonly port?: unknown };
}

/** NodeRedisInfo is the part of a node-redis client or cluster that info() uses, when present. */
interface NodeRedisInfo {
  /** slots maps a slot to its shard, whose master has an address ("host:port") (node-redis v5; v4: host and port). */
  readonly slots?: readonly (NodeRedisShard | undefined)[];
  readonly options?: { readonly url?: unknown; readonly socket?: { readonly host?: unknown; readonly port?: unknown } };
  readonly masters?: readonly { readonly host?: unknown; readonly port?: unknown }[];
  nodeClient?(node: unknown): NodeRedisClientLike | Promise<NodeRedisClientLike>;
}

/**
 * nodeRedisAdapter adapts a node-redis client (`createClient`) or cluster
 * (`createCluster`), v4 or v5. Its info() asks every master of a cluster
 * (`masters`, through `nodeClient`), or one node of the cluster's choosing
 * while none is known. Its nodeOf() reads the cluster's slot map (`slots`).
 */
export function nodeRedisAdapter(client: NodeRedisClientLike | NodeRedisClusterLike): RedisAdapter {
  if ("masters" in client) {
    const c = client as NodeRedisClusterLike & NodeRedisInfo;
    return {
      cluster: true,
      writesLate: true,
      nodeOf(slot) {
        const m = c.slots?.[slot]?.master;
        if (m === undefined) return undefined;
        return typeof m.address === "string" ? m.address : address(m.host, m.port);
      },
      evalsha: (sha1, keys, args) =>
        c.sendCommand(keys[0], false, ["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
      eval: (source, keys, args) =>
        c.sendCommand(keys[0], false, ["EVAL", source, String(keys.length), ...keys, ...args]),
      fcall: (fn, keys, args) => c.sendCommand(keys[0], false, ["FCALL", fn, String(keys.length), ...keys, ...args]),
      async functionLoad(source) {
        const masters = Array.isArray(c.masters) ? c.masters : [];
        if (masters.length === 0) throw new Error("floodgate: this node-redis cluster knows no master yet");
        if (typeof c.nodeClient !== "function")
          throw new Error("floodgate: this node-redis cluster has no nodeClient()");
        const nodeClient = c.nodeClient.bind(c);
        return Promise.all(
          masters.map(async (m) => (await nodeClient(m)).sendCommand(["FUNCTION", "LOAD", source]).catch(loaded)),
        );
      },
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
    writesLate: true,
    evalsha: (sha1, keys, args) => c.sendCommand(["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
    eval: (source, keys, args) => c.sendCommand(["EVAL", source, String(keys.length), ...keys, ...args]),
    fcall: (fn, keys, args) => c.sendCommand(["FCALL", fn, String(keys.length), ...keys, ...args]),
    functionLoad: (source) => c.sendCommand(["FUNCTION", "LOAD", source]).catch(loaded),
    scriptLoad: (source) => c.sendCommand(["SCRIPT", "LOAD", source]),
    info: async (section) => [{ node, text: String(await c.sendCommand(["INFO", section])) }],
  };
}

/**
 * iovalkeyAdapter adapts an iovalkey `Valkey` (or `Redis`) or `Cluster`
 * instance. iovalkey is the Valkey project's fork of ioredis with the same
 * API, so this is ioredisAdapter under the name users look for.
 */
export function iovalkeyAdapter(client: IoRedisLike): RedisAdapter {
  return ioredisAdapter(client);
}

/**
 * GlideRoute is the part of valkey-glide's routing options this adapter sends:
 * the primary of a key's slot, or every primary.
 */
export type GlideRoute = { readonly type: "primarySlotKey"; readonly key: string } | "allPrimaries";

/** GlideClientLike is the part of a valkey-glide `GlideClient` (standalone) this adapter uses. */
export interface GlideClientLike {
  customCommand(args: string[]): Promise<unknown>;
}

/** GlideClusterClientLike is the part of a valkey-glide `GlideClusterClient` this adapter uses. */
export interface GlideClusterClientLike {
  customCommand(args: string[], options?: { route?: GlideRoute }): Promise<unknown>;
  invokeScriptWithRoute(...args: never[]): Promise<unknown>;
}

/**
 * glideError turns valkey-glide's wording of a missing script ("... NoScriptError:
 * No matching script ...") into the NOSCRIPT the store recognises; other errors
 * pass unchanged.
 */
function glideError(err: unknown): never {
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === "string" && !message.startsWith("NOSCRIPT") && /NoScriptError|NOSCRIPT/.test(message)) {
    throw Object.assign(new Error(`NOSCRIPT ${message}`), { cause: err });
  }
  throw err;
}

/**
 * glideReplies reads a multi-node reply of valkey-glide as a list: a GlideRecord
 * (`[{ key: address, value }]`, valkey-glide 2), an object of address -> reply,
 * or a single reply.
 */
function glideReplies(reply: unknown): { node: string | undefined; value: unknown }[] {
  if (Array.isArray(reply)) {
    return reply.map((e: { key?: unknown; value?: unknown }) => ({
      node: e?.key === undefined ? undefined : String(e.key),
      value: e?.value,
    }));
  }
  if (reply !== null && typeof reply === "object") {
    return Object.entries(reply as Record<string, unknown>).map(([node, value]) => ({ node, value }));
  }
  return [{ node: undefined, value: reply }];
}

/**
 * glideAdapter adapts a valkey-glide client: `GlideClient` (standalone) or
 * `GlideClusterClient`, created with the default string decoder. A Cluster call
 * is routed to the primary of its first key's slot; scriptLoad and info go to
 * every primary (as do functionLoad). valkey-glide words a missing script as
 * "NoScriptError"; the adapter reports it as NOSCRIPT, so the store reloads its scripts.
 */
export function glideAdapter(client: GlideClientLike | GlideClusterClientLike): RedisAdapter {
  if (typeof (client as Partial<GlideClusterClientLike>).invokeScriptWithRoute === "function") {
    const c = client as GlideClusterClientLike;
    const run = (args: string[], key: string | undefined): Promise<unknown> =>
      c.customCommand(args, key === undefined ? {} : { route: { type: "primarySlotKey", key } }).catch(glideError);
    return {
      cluster: true,
      evalsha: (sha1, keys, args) => run(["EVALSHA", sha1, String(keys.length), ...keys, ...args], keys[0]),
      eval: (source, keys, args) => run(["EVAL", source, String(keys.length), ...keys, ...args], keys[0]),
      fcall: (fn, keys, args) => run(["FCALL", fn, String(keys.length), ...keys, ...args], keys[0]),
      // One command to every primary: those that lack the library load it, those that hold it answer
      // "already exists", which RedisStore counts as loaded.
      functionLoad: (source) => c.customCommand(["FUNCTION", "LOAD", source], { route: "allPrimaries" }),
      scriptLoad: (source) => c.customCommand(["SCRIPT", "LOAD", source], { route: "allPrimaries" }),
      async info(section) {
        const reply = await c.customCommand(["INFO", section], { route: "allPrimaries" });
        return glideReplies(reply).map(({ node, value }) => ({ ...(node ? { node } : {}), text: String(value) }));
      },
    };
  }
  const c = client as GlideClientLike;
  const run = (args: string[]): Promise<unknown> => c.customCommand(args).catch(glideError);
  return {
    cluster: false,
    evalsha: (sha1, keys, args) => run(["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
    eval: (source, keys, args) => run(["EVAL", source, String(keys.length), ...keys, ...args]),
    fcall: (fn, keys, args) => run(["FCALL", fn, String(keys.length), ...keys, ...args]),
    functionLoad: (source) => c.customCommand(["FUNCTION", "LOAD", source]).catch(loaded),
    scriptLoad: (source) => c.customCommand(["SCRIPT", "LOAD", source]),
    info: async (section) => [{ text: String(await c.customCommand(["INFO", section])) }],
  };
}

/**
 * toAdapter recognises an ioredis, iovalkey, node-redis or valkey-glide client
 * (standalone or cluster) and returns its adapter. It throws a
 * FloodgateTypeError for anything else.
 */
export function toAdapter(client: unknown): RedisAdapter {
  const c = client as Record<string, unknown> | null;
  if (c !== null && typeof c === "object") {
    // node-redis has camel-cased evalSha and sendCommand; ioredis and iovalkey have lower-case evalsha;
    // valkey-glide has customCommand and invokeScript.
    if (typeof c.sendCommand === "function" && typeof c.evalSha === "function") {
      return nodeRedisAdapter(c as unknown as NodeRedisClientLike);
    }
    if (typeof c.evalsha === "function" && typeof c.eval === "function") {
      return ioredisAdapter(c as unknown as IoRedisLike);
    }
    if (typeof c.customCommand === "function" && typeof c.invokeScript === "function") {
      return glideAdapter(c as unknown as GlideClientLike);
    }
  }
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: RedisStore({ client }) must be an ioredis or iovalkey client or Cluster, a node-redis client or cluster, or a valkey-glide GlideClient or GlideClusterClient, got ${describe(client)}; for another client pass { adapter } implementing RedisAdapter.`,
  );
}
