// index.ts: the floodgate/redis entry point: RedisStore and its client adapters.

export {
  type GlideClientLike,
  type GlideClusterClientLike,
  type GlideRoute,
  glideAdapter,
  type IoRedisLike,
  ioredisAdapter,
  iovalkeyAdapter,
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  nodeRedisAdapter,
  type RedisAdapter,
  type ServerInfo,
  toAdapter,
} from "./adapter.js";
export type { Listener, RedisStoreEvents } from "./events.js";
export { EVICTION_CODE } from "./eviction.js";
export { scalePolicy } from "./insurance.js";
export { encodeKey, hashSlot, MAX_PLAIN_KEY_LENGTH } from "./keys.js";
export { DECIDE, type LuaScript } from "./scripts.generated.js";
export { type FailurePolicy, type InsuranceOptions, RedisStore, type RedisStoreOptions } from "./store.js";
