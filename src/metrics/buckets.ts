// buckets.ts: the histogram buckets both metric bindings use, in seconds.

/**
 * STORE_BUCKETS are the store duration buckets, in seconds: from 10 µs (a memory
 * store decides in well under a microsecond; a local Redis in tens of µs) to 1 s
 * (beyond any sane timeoutMs).
 */
export const STORE_BUCKETS: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** WAIT_BUCKETS are the acquire wait buckets, in seconds: 1 ms to 5 minutes. */
export const WAIT_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
