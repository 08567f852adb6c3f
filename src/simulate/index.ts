// index.ts: floodgate/simulate: see what a policy would do to traffic before it ships.
//
// Sits on top of the limiter: traffic (generated or replayed) runs through RateLimiter.consumeSync
// with an injected virtual clock. Charts load the optional peers vega and vega-lite on first use only.

export { type Advice, type AdviseGoals, type AdviseOptions, advise, type Candidate, family } from "./advise.js";
export { boundOf } from "./bounds.js";
export {
  CHARTS,
  type ChartName,
  chartSpec,
  type HtmlOptions,
  renderHtml,
  renderSvg,
  type VegaLiteSpec,
} from "./charts.js";
export { formatReport } from "./format.js";
export { type Random, random } from "./prng.js";
export {
  LOG_FORMATS,
  type LogFormat,
  parseAccessDate,
  type ReplayOptions,
  type ReplaySource,
  replay,
} from "./replay.js";
export {
  describePolicy,
  type LimitedClient,
  type PolicyReport,
  type RetryStats,
  type SimPolicy,
  type SimulateOptions,
  type SimulationReport,
  simulate,
  type Tier,
} from "./run.js";
export { parseGoals, parsePolicySpec, parseTrafficSpec } from "./spec.js";
export { Histogram, SpaceSaving } from "./stats.js";
export {
  type Batch,
  fromRequests,
  generate,
  type RequestRecord,
  SHAPES,
  type Shape,
  type SkippedLine,
  type Traffic,
  type TrafficIssues,
  type TrafficOptions,
} from "./traffic.js";
