/**
 * The time budget shared by the property tests: a bounded number of runs, and each property cut off after a
 * few seconds whatever the machine. FUZZ_SCALE multiplies the runs (a long local session: FUZZ_SCALE=100
 * FUZZ_MS=600000); FUZZ_SEED replays the seed a failure reported.
 */
import fc from 'fast-check';

export function budget(runs: number, ms = 2000): fc.Parameters<unknown> {
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  const seed = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
  return {
    numRuns: Math.max(1, Math.round(runs * scale)),
    plugins: [fc.interruptAfterTimeLimit(Number(process.env.FUZZ_MS ?? ms))],
    ...seed,
  };
}
