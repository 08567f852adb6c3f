// space-saving.ts: the Space-Saving heavy-hitters summary (Metwally, Agrawal and El Abbadi, 2005): the most counted keys in fixed memory.

/** TopEntry is one key of a Space-Saving summary: its count, and how much of it may belong to keys it replaced. */
export interface TopEntry {
  readonly key: string;
  /** count is at least the key's true count, and at most `error` above it. */
  readonly count: number;
  /** error bounds the overcount: 0 when the key was tracked from its first occurrence. */
  readonly error: number;
}

/**
 * SpaceSaving finds the keys counted most often in one pass with `capacity`
 * counters (Metwally, Agrawal and El Abbadi, 2005). While at most `capacity`
 * distinct keys have been counted it is exact. After that, a new key takes over
 * the smallest counter, inheriting its count as `error`; every key counted more
 * than `total / capacity` times is guaranteed to be in the summary. Counters are
 * kept in a min-heap, so a count costs O(log capacity).
 */
export class SpaceSaving {
  readonly capacity: number;
  readonly #pos = new Map<string, number>();
  readonly #keys: string[] = [];
  readonly #counts: number[] = [];
  readonly #errors: number[] = [];
  total = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** add counts `key` `by` times (default 1). */
  add(key: string, by = 1): void {
    this.total += by;
    let i = this.#pos.get(key);
    if (i === undefined) {
      if (this.#keys.length < this.capacity) {
        i = this.#keys.length;
        this.#keys.push(key);
        this.#counts.push(by);
        this.#errors.push(0);
        this.#pos.set(key, i);
        this.#up(i);
        return;
      }
      // Replace the smallest counter (the heap's root).
      this.#pos.delete(this.#keys[0] as string);
      this.#keys[0] = key;
      this.#errors[0] = this.#counts[0] as number;
      this.#counts[0] = (this.#counts[0] as number) + by;
      this.#pos.set(key, 0);
      this.#down(0);
      return;
    }
    this.#counts[i] = (this.#counts[i] as number) + by;
    this.#down(i);
  }

  /** size is the number of keys held: at most `capacity`. */
  get size(): number {
    return this.#keys.length;
  }

  /** top returns up to `n` entries, highest count first (ties: by key). */
  top(n: number): TopEntry[] {
    return this.#keys
      .map((key, i) => ({ key, count: this.#counts[i] as number, error: this.#errors[i] as number }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, n);
  }

  #swap(a: number, b: number): void {
    const k = this.#keys[a] as string;
    const c = this.#counts[a] as number;
    const e = this.#errors[a] as number;
    this.#keys[a] = this.#keys[b] as string;
    this.#counts[a] = this.#counts[b] as number;
    this.#errors[a] = this.#errors[b] as number;
    this.#keys[b] = k;
    this.#counts[b] = c;
    this.#errors[b] = e;
    this.#pos.set(this.#keys[a] as string, a);
    this.#pos.set(k, b);
  }

  #up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.#counts[p] as number) <= (this.#counts[i] as number)) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const n = this.#keys.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && (this.#counts[l] as number) < (this.#counts[m] as number)) m = l;
      if (r < n && (this.#counts[r] as number) < (this.#counts[m] as number)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
