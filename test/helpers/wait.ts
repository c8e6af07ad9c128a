/**
 * Waiting in tests: the one `sleep` and the one `until` (poll a probe until it answers). Nothing waits a fixed
 * time hoping something is done by then; `until`'s timeout guards a hang, not speed (docs/testing.md).
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `probe` every `everyMs` until it returns something other than undefined (a probe that throws is tried
 * again); after `timeoutMs`, throw naming `what` and the probe's last error.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}
