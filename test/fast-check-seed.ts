// fast-check-seed.ts: one fixed seed for every property test, so `npm test` (and CI) decides the same way on
// every run. A failure prints its seed and path, and reruns the same. `npm run test:explore` draws fresh
// seeds (FLOODGATE_FC_SEED=random) to search new cases; FLOODGATE_FC_SEED=<n> replays one run's seed.
import fc from "fast-check";

const raw = process.env.FLOODGATE_FC_SEED;
const FIXED = 20_261_203;
if (raw !== "random") {
  const seed = raw === undefined || raw === "" ? FIXED : Number(raw);
  if (!Number.isInteger(seed)) {
    throw new Error(
      `FLOODGATE_FC_SEED=${raw} is not an integer: use a seed a failure printed, "random", or leave it unset`,
    );
  }
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
