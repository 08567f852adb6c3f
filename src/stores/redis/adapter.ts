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

/** ioredisAdapter adapts an ioredis `Redis` or `Cluster` instance (ioredis routes a script call by its first key). */
export function ioredisAdapter(client: IoRedisLike): RedisAdapter {
  return {
    cluster: client.isCluster === true,
    evalsha: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
  };
}

/** nodeRedisAdapter adapts a node-redis client (`createClient`) or cluster (`createCluster`), v4 or v5. */
export function nodeRedisAdapter(client: NodeRedisClientLike | NodeRedisClusterLike): RedisAdapter {
  if ("masters" in client) {
    const c = client as NodeRedisClusterLike;
    return {
      cluster: true,
      evalsha: (sha1, keys, args) =>
        c.sendCommand(keys[0], false, ["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
      eval: (source, keys, args) =>
        c.sendCommand(keys[0], false, ["EVAL", source, String(keys.length), ...keys, ...args]),
    };
  }
  const c = client as NodeRedisClientLike;
  return {
    cluster: false,
    evalsha: (sha1, keys, args) => c.sendCommand(["EVALSHA", sha1, String(keys.length), ...keys, ...args]),
    eval: (source, keys, args) => c.sendCommand(["EVAL", source, String(keys.length), ...keys, ...args]),
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
