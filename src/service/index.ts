// index.ts: the floodgate/service entry point: `floodgate serve` in your own process, its configuration and its
// decision path (the `floodgate serve` and `floodgate check` commands run the same code).

export {
  ALGORITHM_NAMES,
  type AlgorithmName,
  type ConfigSource,
  type Domain,
  type Entry,
  matchRule,
  parseConfig,
  type Rule,
  type ServiceConfig,
  UNITS,
  type Unit,
} from "./config.js";
export {
  type Code,
  DEFAULT_BOUNDS,
  type DecideInput,
  Decider,
  type DescriptorVerdict,
  type RequestBounds,
  type RequestDescriptor,
  type ServiceVerdict,
  storeKey,
} from "./decide.js";
export { openApiDocument } from "./openapi.js";
export { jsonLog, type Log, loadConfig, readSources, type ServeOptions, type Service, startService } from "./serve.js";
export { NEAR_LIMIT_RATIO, ServiceStats } from "./stats.js";
