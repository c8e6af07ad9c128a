/**
 * Keeps one small instance of a hot class alive for the life of the process.
 *
 * V8 collects an object shape (hidden class, "map") once no live object has it, and optimized code that
 * checks for a collected shape is thrown away ("deoptimizing ... reason: weak objects"). A long-running agent
 * makes its tables, row accessors and writers fresh for every gather and drops them after: between two
 * gathers a garbage collection removes their shapes, so every gather ran its collector loops in the
 * interpreter again until they were re-optimized, 5-10x slower than the optimized code. An instance kept
 * here keeps its shape, and so the optimized code, valid across gathers. Construct it the way the hot path
 * does, so it ends with the same shape.
 */
const kept: unknown[] = [];

export function keepShape<T>(instance: T): T {
  kept.push(instance);
  return instance;
}
