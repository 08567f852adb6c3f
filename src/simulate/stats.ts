// stats.ts: bounded summaries for long runs: a log-linear histogram, Space-Saving top-k, a distinct counter, time buckets.

export { SpaceSaving, type TopEntry } from "../core/space-saving.js";

/** SUB_BITS is the histogram's precision: values below 2^SUB_BITS are exact, larger ones within 2^-(SUB_BITS - 1). */
const SUB_BITS = 11;
const SUB = 1 << SUB_BITS;

/**
 * Histogram counts non-negative whole numbers (milliseconds) in log-linear
 * buckets, as HdrHistogram does: values below 2048 each have their own bucket,
 * and every doubling above that is cut into 1024 buckets, so a value is known
 * within 1/1024 of itself (0.1%), in at most about 40 KB whatever the count.
 * Buckets are allocated a doubling at a time, as values reach them.
 */
export class Histogram {
  readonly #levels: (Float64Array | undefined)[] = [];
  count = 0;
  sum = 0;
  max = 0;
  min = Number.POSITIVE_INFINITY;

  /** add counts `value` once (rounded down to a whole number, never below 0). */
  add(value: number): void {
    const v = value > 0 ? Math.floor(value) : 0;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (v < this.min) this.min = v;
    let level = 0;
    let index = v;
    if (v >= SUB) {
      // Level k >= 1 holds [2^(k+10), 2^(k+11)) in 1024 buckets of width 2^k.
      level = Math.floor(Math.log2(v)) - SUB_BITS + 1;
      // Math.log2 may round up just below a power of two: correct it.
      if (Math.floor(v / 2 ** level) < SUB / 2) level--;
      index = Math.floor(v / 2 ** level) - SUB / 2;
    }
    let row = this.#levels[level];
    if (row === undefined) {
      row = new Float64Array(level === 0 ? SUB : SUB / 2);
      this.#levels[level] = row;
    }
    row[index] = (row[index] as number) + 1;
  }

  /**
   * quantile returns the value at quantile `q` (0 to 1) by nearest rank: the
   * smallest value with at least `ceil(q * count)` values at or below it. Below
   * 2048 it is exact; above, it is the top of its bucket (never below the true
   * value, at most 0.1% above). It returns 0 for an empty histogram.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let level = 0; level < this.#levels.length; level++) {
      const row = this.#levels[level];
      if (row === undefined) continue;
      for (let i = 0; i < row.length; i++) {
        seen += row[i] as number;
        if (seen >= rank) {
          if (level === 0) return i;
          const top = (i + SUB / 2 + 1) * 2 ** level - 1;
          return top < this.max ? top : this.max;
        }
      }
    }
    return this.max;
  }

  /** buckets returns the non-empty buckets as [lowest value, highest value, count], in order. */
  buckets(): [number, number, number][] {
    const out: [number, number, number][] = [];
    this.#levels.forEach((row, level) => {
      if (row === undefined) return;
      row.forEach((c, i) => {
        if (c === 0) return;
        if (level === 0) out.push([i, i, c]);
        else out.push([(i + SUB / 2) * 2 ** level, (i + SUB / 2 + 1) * 2 ** level - 1, c]);
      });
    });
    return out;
  }
}

/** hash53 is a fast 53-bit string hash (cyrb53, public domain), for the distinct counter. */
function hash53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** HLL_BITS is the HyperLogLog precision: 2^14 registers, a standard error of about 0.8%. */
const HLL_BITS = 14;
const HLL_M = 1 << HLL_BITS;

/**
 * DistinctCounter counts distinct keys: exactly (a Set) up to `exactLimit`
 * keys, then approximately with HyperLogLog (16 KB, about 0.8% standard
 * error), so memory stays bounded on a log with millions of clients.
 * `exact` says which it is.
 */
export class DistinctCounter {
  readonly exactLimit: number;
  #set: Set<string> | undefined = new Set();
  #registers: Uint8Array | undefined;

  constructor(exactLimit: number) {
    this.exactLimit = exactLimit;
  }

  /** exact is true while the count is exact. */
  get exact(): boolean {
    return this.#set !== undefined;
  }

  /** add counts `key` (again, or for the first time). */
  add(key: string): void {
    const set = this.#set;
    if (set !== undefined) {
      set.add(key);
      if (set.size > this.exactLimit) {
        this.#registers = new Uint8Array(HLL_M);
        for (const k of set) this.#hll(k);
        this.#set = undefined;
      }
      return;
    }
    this.#hll(key);
  }

  #hll(key: string): void {
    const h = hash53(key);
    const index = h % HLL_M;
    const rest = Math.floor(h / HLL_M); // 39 bits
    // rank: the position of the first 1 bit in the 39 remaining bits, from 1.
    let rank = 1;
    let x = rest;
    while (rank <= 39 && x % 2 === 0) {
      rank++;
      x = Math.floor(x / 2);
    }
    const regs = this.#registers as Uint8Array;
    if (rank > (regs[index] as number)) regs[index] = rank;
  }

  /** count returns the number of distinct keys added (an estimate once `exact` is false). */
  count(): number {
    if (this.#set !== undefined) return this.#set.size;
    const regs = this.#registers as Uint8Array;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < HLL_M; i++) {
      sum += 2 ** -(regs[i] as number);
      if (regs[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / HLL_M);
    const estimate = (alpha * HLL_M * HLL_M) / sum;
    // Small range correction: linear counting.
    if (estimate <= 2.5 * HLL_M && zeros > 0) return Math.round(HLL_M * Math.log(HLL_M / zeros));
    return Math.round(estimate);
  }
}

/**
 * Series counts values per time bucket of `bucketMs`, for charts. Buckets are
 * aligned to multiples of `bucketMs` on the clock. When a series would hold more
 * than `maxBuckets` buckets (a log longer than expected), every series of the
 * same Timeline doubles its bucket width and merges pairs, so memory stays bounded.
 */
export class Timeline {
  bucketMs: number;
  readonly maxBuckets: number;
  /** firstBucket is the index (time / bucketMs) of bucket 0, set by the first time seen. */
  firstBucket = Number.NaN;
  readonly series: Float64Array[] = [];
  length = 0;

  constructor(bucketMs: number, maxBuckets: number, seriesCount: number) {
    this.bucketMs = bucketMs;
    this.maxBuckets = maxBuckets;
    for (let i = 0; i < seriesCount; i++) this.series.push(new Float64Array(maxBuckets));
  }

  /** bucket returns the bucket index of `timeMs`, merging buckets first when it would not fit. */
  bucket(timeMs: number): number {
    if (Number.isNaN(this.firstBucket)) this.firstBucket = Math.floor(timeMs / this.bucketMs);
    let i = Math.floor(timeMs / this.bucketMs) - this.firstBucket;
    if (i < 0) i = 0;
    while (i >= this.maxBuckets) {
      this.#double();
      i = Math.floor(timeMs / this.bucketMs) - this.firstBucket;
    }
    if (i >= this.length) this.length = i + 1;
    return i;
  }

  /** startMs returns the time at which bucket i starts. */
  startMs(i: number): number {
    return (this.firstBucket + i) * this.bucketMs;
  }

  #double(): void {
    const odd = this.firstBucket % 2 !== 0 ? 1 : 0;
    for (const s of this.series) {
      const merged = new Float64Array(this.maxBuckets);
      for (let i = 0; i < this.length; i++)
        merged[(i + odd) >> 1] = (merged[(i + odd) >> 1] as number) + (s[i] as number);
      s.set(merged);
    }
    this.length = (this.length + odd + 1) >> 1;
    this.firstBucket = (this.firstBucket - odd) / 2;
    this.bucketMs *= 2;
  }
}
