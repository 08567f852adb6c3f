// traffic.ts: the request streams a simulation runs on: seeded generators and in-memory lists.

import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import { checkOptions } from "../core/validate.js";
import { AliasTable, exponential, type Random, random } from "./prng.js";

/**
 * Batch is a run of requests in time order, in parallel arrays: request i is
 * `key[i]` at `timeMs[i]` costing `cost[i]`, for i < `length`. A traffic source
 * may reuse one Batch for every chunk, so a consumer must finish with a batch
 * before asking for the next.
 */
export interface Batch {
  length: number;
  readonly timeMs: Float64Array;
  readonly cost: Float64Array;
  readonly key: string[];
}

/** SkippedLine is a line of a replayed log that did not parse: its number, its text (cut to 200 characters) and why. */
export interface SkippedLine {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

/** TrafficIssues counts what a traffic source could not read: lines of a log that did not parse. */
export interface TrafficIssues {
  /** skipped is how many lines were not requests (junk, a bad date, a cost that is not a whole number). */
  skipped: number;
  /** examples are the first few skipped lines, quoted. */
  examples: SkippedLine[];
}

/**
 * Traffic is a source of requests in time order that can be read more than
 * once (the advisor runs it once per candidate policy). Generators are
 * re-seeded on every read, so every read yields the same requests.
 */
export interface Traffic {
  /** description says what the traffic is, for reports ("poisson(rate=50/s, clients=100), seed 1"). */
  readonly description: string;
  /** expectedRequests is about how many requests a read yields, when known (for progress). */
  readonly expectedRequests?: number;
  /** durationMs is the span of time the traffic covers, when known in advance. */
  readonly durationMs?: number;
  /** watchKey is the client worth watching by default (the heaviest), when known in advance. */
  readonly watchKey?: string;
  /** batches reads the traffic from the start. */
  batches(progress?: (fraction: number) => void): AsyncIterable<Batch> | Iterable<Batch>;
  /** issues reports the lines the last read skipped (replayed logs), or undefined when none can be skipped. */
  issues?(): TrafficIssues;
}

/** BATCH_SIZE is how many requests one Batch holds. */
export const BATCH_SIZE = 8192;

/** newBatch returns an empty Batch of BATCH_SIZE requests. */
export function newBatch(): Batch {
  return {
    length: 0,
    timeMs: new Float64Array(BATCH_SIZE),
    cost: new Float64Array(BATCH_SIZE),
    key: new Array<string>(BATCH_SIZE).fill(""),
  };
}

/** Shape names the arrival processes of `generate`. */
export type Shape = "steady" | "poisson" | "bursts" | "onoff" | "daily";

/** SHAPES lists the shapes, for messages. */
export const SHAPES: readonly Shape[] = ["steady", "poisson", "bursts", "onoff", "daily"];

/**
 * TrafficOptions configures `generate`. Rates are requests per second of all
 * clients together; the share of client i is its weight over the sum of weights.
 */
export interface TrafficOptions {
  /**
   * shape is the arrival process. Default "poisson".
   * - "steady": one request every `1000 / rate` ms, exactly.
   * - "poisson": independent arrivals, exponential gaps with mean `1000 / rate` ms.
   * - "bursts": Poisson arrivals at `rate` (the background, 0 for none) plus, every
   *   `burstEveryMs` from `burstAtMs`, `burstSize` requests evenly spread over `burstLengthMs`.
   * - "onoff": Poisson arrivals at `rate` during `onMs`, then nothing for `offMs`, repeated
   *   (a mean rate of `rate * onMs / (onMs + offMs)`).
   * - "daily": Poisson arrivals whose rate follows a day: `rate * (1 - amplitude * cos(2 pi t / periodMs))`,
   *   lowest at the start of each period and highest half way (mean `rate`).
   */
  shape?: Shape;
  /** rate is requests per second, all clients together (see shape). */
  rate: number;
  /** durationMs is how long the traffic lasts, in milliseconds. */
  durationMs: number;
  /** startMs is the virtual time of the start. Default 0 (aligned with every window). */
  startMs?: number;
  /** seed selects the random stream (a whole number); the same seed gives the same requests. Default 1. */
  seed?: number;
  /** clients is how many distinct clients send the requests. Default 1. */
  clients?: number;
  /**
   * skew gives clients a heavy tail: the client of rank i (from 1) gets weight `1 / i^skew`
   * (Zipf's law). Default 0: every client alike.
   */
  skew?: number;
  /** abusers is how many clients (the first ranks) send `abuseFactor` times their share. Default 0. */
  abusers?: number;
  /** abuseFactor multiplies an abuser's weight. Default 100. */
  abuseFactor?: number;
  /** cost is what every request costs. Default 1. */
  cost?: number;
  /** burstSize is how many requests one burst holds ("bursts"). Default 100. */
  burstSize?: number;
  /** burstEveryMs is the time from one burst's start to the next ("bursts"). Default 60000. */
  burstEveryMs?: number;
  /** burstLengthMs is how long one burst lasts ("bursts"). Default 1000. */
  burstLengthMs?: number;
  /** burstAtMs is when the first burst starts, from startMs ("bursts"). Default 0. */
  burstAtMs?: number;
  /** onMs is how long an "onoff" period sends. Default 60000. */
  onMs?: number;
  /** offMs is how long an "onoff" period is silent. Default 60000. */
  offMs?: number;
  /** periodMs is the length of one "daily" cycle. Default 86400000 (a day). */
  periodMs?: number;
  /** amplitude is how far a "daily" rate swings around its mean, from 0 to 1. Default 0.8. */
  amplitude?: number;
  /** keyPrefix starts every client key; client keys are the prefix and a zero-padded rank ("client-007"). Default "client-". */
  keyPrefix?: string;
}

const TRAFFIC_OPTIONS = [
  "shape",
  "rate",
  "durationMs",
  "startMs",
  "seed",
  "clients",
  "skew",
  "abusers",
  "abuseFactor",
  "cost",
  "burstSize",
  "burstEveryMs",
  "burstLengthMs",
  "burstAtMs",
  "onMs",
  "offMs",
  "periodMs",
  "amplitude",
  "keyPrefix",
] as const;

/** MAX_CLIENTS bounds the clients of a generator (one key string each). */
const MAX_CLIENTS = 10_000_000;

/** num validates a number option of generate(). */
function num(
  name: string,
  value: unknown,
  fallback: number | undefined,
  min: number,
  max: number,
  whole = false,
): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(v))) {
    const Err = typeof v === "number" ? FloodgateRangeError : FloodgateTypeError;
    throw new Err(
      "ERR_INVALID_OPTION",
      `floodgate: generate({ ${name} }) must be ${whole ? "a whole number" : "a number"} from ${min} to ${max}, got ${describe(v)}; see TrafficOptions.${name}.`,
    );
  }
  return v;
}

/** ResolvedTraffic is TrafficOptions with every default filled in. */
type ResolvedTraffic = Required<TrafficOptions>;

/** resolveTraffic validates TrafficOptions and fills in the defaults. */
export function resolveTraffic(options: TrafficOptions): ResolvedTraffic {
  const o = checkOptions("generate", options, TRAFFIC_OPTIONS) as Partial<TrafficOptions>;
  const shape = o.shape ?? "poisson";
  if (!SHAPES.includes(shape)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: generate({ shape }) must be one of ${SHAPES.join(", ")}, got ${describe(shape)}.`,
    );
  }
  const keyPrefix = o.keyPrefix ?? "client-";
  if (typeof keyPrefix !== "string") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: generate({ keyPrefix }) must be a string, got ${describe(keyPrefix)}; pass a prefix such as "client-".`,
    );
  }
  const r: ResolvedTraffic = {
    shape,
    rate: num("rate", o.rate, undefined, shape === "bursts" ? 0 : Number.MIN_VALUE, 1e7),
    durationMs: num("durationMs", o.durationMs, undefined, 1, 3650 * 86_400_000),
    startMs: num("startMs", o.startMs, 0, -1e15, 1e15),
    seed: num("seed", o.seed, 1, 0, Number.MAX_SAFE_INTEGER, true),
    clients: num("clients", o.clients, 1, 1, MAX_CLIENTS, true),
    skew: num("skew", o.skew, 0, 0, 10),
    abusers: num("abusers", o.abusers, 0, 0, MAX_CLIENTS, true),
    abuseFactor: num("abuseFactor", o.abuseFactor, 100, 1, 1e9),
    cost: num("cost", o.cost, 1, 0, 1e12, true),
    burstSize: num("burstSize", o.burstSize, 100, 0, 1e9, true),
    burstEveryMs: num("burstEveryMs", o.burstEveryMs, 60_000, 1, 3650 * 86_400_000),
    burstLengthMs: num("burstLengthMs", o.burstLengthMs, 1000, 0, 3650 * 86_400_000),
    burstAtMs: num("burstAtMs", o.burstAtMs, 0, 0, 3650 * 86_400_000),
    onMs: num("onMs", o.onMs, 60_000, 1, 3650 * 86_400_000),
    offMs: num("offMs", o.offMs, 60_000, 0, 3650 * 86_400_000),
    periodMs: num("periodMs", o.periodMs, 86_400_000, 1, 3650 * 86_400_000),
    amplitude: num("amplitude", o.amplitude, 0.8, 0, 1),
    keyPrefix,
  };
  if (r.abusers > r.clients) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: generate({ abusers: ${r.abusers} }) is more than the ${r.clients} clients; lower abusers or raise clients.`,
    );
  }
  return r;
}

/**
 * clientWeights returns each client's weight (see TrafficOptions.skew and
 * abusers): the share of the traffic client i sends is weights[i] / sum.
 */
export function clientWeights(o: Pick<ResolvedTraffic, "clients" | "skew" | "abusers" | "abuseFactor">): number[] {
  const w: number[] = [];
  for (let i = 0; i < o.clients; i++) w.push((i < o.abusers ? o.abuseFactor : 1) / (i + 1) ** o.skew);
  return w;
}

/** meanRate returns the mean requests per second of `o` over its duration (bursts included). */
export function meanRate(o: ResolvedTraffic): number {
  switch (o.shape) {
    case "onoff":
      return (o.rate * o.onMs) / (o.onMs + o.offMs);
    case "bursts": {
      // Bursts that start within the duration.
      const n = o.durationMs > o.burstAtMs ? Math.ceil((o.durationMs - o.burstAtMs) / o.burstEveryMs) : 0;
      return o.rate + (n * o.burstSize * 1000) / o.durationMs;
    }
    default:
      return o.rate;
  }
}

/**
 * generate returns seeded synthetic traffic (see TrafficOptions): the same
 * options and seed give the same requests, read after read and machine after
 * machine. Client keys are `keyPrefix` and the client's rank, zero-padded;
 * rank 0 is the heaviest (the first abuser, or the head of the Zipf tail).
 *
 * @example
 * const t = generate({ shape: "poisson", rate: 100, durationMs: 60_000, clients: 50, skew: 1, seed: 7 });
 */
export function generate(options: TrafficOptions): Traffic {
  const o = resolveTraffic(options);
  const width = String(o.clients - 1).length;
  const keys = Array.from({ length: o.clients }, (_, i) => `${o.keyPrefix}${String(i).padStart(width, "0")}`);
  const weights = clientWeights(o);
  const equal = weights.every((w) => w === weights[0]);
  const extra =
    o.shape === "bursts"
      ? `, burstSize=${o.burstSize}, burstEveryMs=${o.burstEveryMs}, burstLengthMs=${o.burstLengthMs}, burstAtMs=${o.burstAtMs}`
      : o.shape === "onoff"
        ? `, onMs=${o.onMs}, offMs=${o.offMs}`
        : o.shape === "daily"
          ? `, periodMs=${o.periodMs}, amplitude=${o.amplitude}`
          : "";
  const tail = `${o.skew > 0 ? `, skew=${o.skew}` : ""}${o.abusers > 0 ? `, abusers=${o.abusers}, abuseFactor=${o.abuseFactor}` : ""}`;
  return {
    description: `${o.shape}(rate=${o.rate}/s, durationMs=${o.durationMs}, clients=${o.clients}${tail}${extra}), seed ${o.seed}`,
    expectedRequests: Math.round((meanRate(o) * o.durationMs) / 1000),
    durationMs: o.durationMs,
    watchKey: keys[0],
    batches: (progress) => generateBatches(o, keys, equal ? undefined : new AliasTable(weights), progress),
  };
}

/** arrivals yields the arrival times (ms from the start) of the shape's process, in order, below durationMs. */
function* arrivals(o: ResolvedTraffic, r: Random): Generator<number> {
  const perMs = o.rate / 1000;
  switch (o.shape) {
    case "steady": {
      const gap = 1000 / o.rate;
      for (let i = 0; ; i++) {
        const t = i * gap;
        if (t >= o.durationMs) return;
        yield t;
      }
    }
    case "poisson": {
      for (let t = exponential(r, perMs); t < o.durationMs; t += exponential(r, perMs)) yield t;
      return;
    }
    case "onoff": {
      // Poisson in "on" time, then skip the "off" periods: on time u maps to u + off * floor(u / on).
      for (let u = exponential(r, perMs); ; u += exponential(r, perMs)) {
        const t = u + o.offMs * Math.floor(u / o.onMs);
        if (t >= o.durationMs) return;
        yield t;
      }
    }
    case "daily": {
      // Thinning (Lewis and Shedler): candidates at the peak rate, each kept with probability rate(t) / peak.
      const peak = perMs * (1 + o.amplitude);
      for (let t = exponential(r, peak); t < o.durationMs; t += exponential(r, peak)) {
        const rateNow = perMs * (1 - o.amplitude * Math.cos((2 * Math.PI * t) / o.periodMs));
        if (r.next() * peak < rateNow) yield t;
      }
      return;
    }
    case "bursts": {
      // Merge the Poisson background with the evenly spread bursts.
      let bg = perMs > 0 ? exponential(r, perMs) : Number.POSITIVE_INFINITY;
      let burst = 0;
      let inBurst = 0;
      const gap = o.burstSize > 0 ? o.burstLengthMs / o.burstSize : 0;
      const burstTime = (): number =>
        o.burstSize > 0 ? o.burstAtMs + burst * o.burstEveryMs + inBurst * gap : Number.POSITIVE_INFINITY;
      for (;;) {
        const bt = burstTime();
        const t = bg < bt ? bg : bt;
        if (t >= o.durationMs) return;
        yield t;
        if (bg < bt) bg += exponential(r, perMs);
        else if (++inBurst >= o.burstSize) {
          inBurst = 0;
          burst++;
        }
      }
    }
  }
}

function* generateBatches(
  o: ResolvedTraffic,
  keys: readonly string[],
  alias: AliasTable | undefined,
  progress: ((fraction: number) => void) | undefined,
): Generator<Batch> {
  // Two streams from one seed: arrival times, and which client sends each request.
  const times = random(o.seed);
  const who = random(o.seed ^ 0x5bd1e995);
  const batch = newBatch();
  const n = keys.length;
  let i = 0;
  let count = 0;
  for (const t of arrivals(o, times)) {
    batch.timeMs[i] = o.startMs + t;
    batch.cost[i] = o.cost;
    batch.key[i] = keys[alias === undefined ? count % n : alias.pick(who)] as string;
    count++;
    if (++i === BATCH_SIZE) {
      batch.length = i;
      yield batch;
      progress?.(t / o.durationMs);
      i = 0;
    }
  }
  if (i > 0) {
    batch.length = i;
    yield batch;
  }
  progress?.(1);
}

/** RequestRecord is one request of `fromRequests`: a key, a time and a cost (default 1). */
export interface RequestRecord {
  readonly key: string;
  readonly timeMs: number;
  readonly cost?: number;
}

/**
 * fromRequests returns traffic made of the given requests, sorted by time
 * (requests at the same time keep their order). For tests and small traces.
 */
export function fromRequests(requests: readonly RequestRecord[], description = "requests"): Traffic {
  const sorted = requests
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.timeMs - b.r.timeMs || a.i - b.i)
    .map((x) => x.r);
  for (const r of sorted) {
    if (typeof r.key !== "string" || !Number.isFinite(r.timeMs)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: fromRequests() needs { key: string, timeMs: finite number }, got key ${describe(r.key)} at ${describe(r.timeMs)}.`,
      );
    }
  }
  return {
    description,
    expectedRequests: sorted.length,
    *batches(progress) {
      const batch = newBatch();
      let i = 0;
      for (const r of sorted) {
        batch.timeMs[i] = r.timeMs;
        batch.cost[i] = r.cost ?? 1;
        batch.key[i] = r.key;
        if (++i === BATCH_SIZE) {
          batch.length = i;
          yield batch;
          i = 0;
        }
      }
      if (i > 0) {
        batch.length = i;
        yield batch;
      }
      progress?.(1);
    },
  };
}
