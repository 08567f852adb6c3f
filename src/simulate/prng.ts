// prng.ts: the simulator's seeded random numbers: sfc32 seeded through splitmix32, and the draws built on it.

/**
 * Random is a seeded source of uniform numbers in [0, 1): the same seed gives
 * the same sequence on every machine and Node version, so a simulation run
 * again with its seed reproduces every request exactly.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counter, 32-bit
 * form, from PractRand): four 32-bit words of state, a counter that guarantees
 * a period of at least 2^32, passes PractRand and BigCrush, and needs only
 * 32-bit integer operations (`Math.imul`-free additions, shifts and xors), so it
 * is exact in JavaScript. The four words are filled from the seed by splitmix32
 * (the 32-bit variant of Vigna's splitmix64 finaliser), and the first 12 outputs
 * are discarded, as its author recommends, so nearby seeds give unrelated streams.
 */
export interface Random {
  /** next returns a uniform number in [0, 1) with 32 random bits. */
  next(): number;
}

/** splitmix32 returns a generator of well-mixed 32-bit words from `seed` (any number; its low 32 bits are used). */
function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * random returns the sfc32 generator for `seed` (see Random). A seed must be a
 * whole number; seeds that differ only above bit 32 share a stream, so a seed
 * above 2^32 is folded (its high part is mixed into the low part) first.
 */
export function random(seed: number): Random {
  const folded = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
  const mix = splitmix32(folded);
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return { next };
}

/**
 * exponential draws the time to the next event of a Poisson process of `ratePerMs`
 * events per millisecond: `-ln(1 - u) / rate`, which is never infinite because u < 1.
 */
export function exponential(r: Random, ratePerMs: number): number {
  return -Math.log(1 - r.next()) / ratePerMs;
}

/**
 * AliasTable draws an index i with probability `weights[i] / sum(weights)` in
 * constant time (Vose's alias method): one uniform number picks a column and
 * decides between the column and its alias.
 */
export class AliasTable {
  readonly #prob: Float64Array;
  readonly #alias: Int32Array;
  readonly size: number;
  constructor(weights: readonly number[]) {
    const n = weights.length;
    this.size = n;
    this.#prob = new Float64Array(n);
    this.#alias = new Int32Array(n);
    let sum = 0;
    for (const w of weights) sum += w;
    const scaled = weights.map((w) => (w * n) / sum);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, i) => {
      (p < 1 ? small : large).push(i);
    });
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      this.#prob[s] = scaled[s] as number;
      this.#alias[s] = l;
      scaled[l] = (scaled[l] as number) + (scaled[s] as number) - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of large) this.#prob[i] = 1;
    for (const i of small) this.#prob[i] = 1;
  }
  /** pick returns an index drawn with `r`. */
  pick(r: Random): number {
    const u = r.next() * this.size;
    const i = Math.floor(u);
    return u - i < (this.#prob[i] as number) ? i : (this.#alias[i] as number);
  }
}
