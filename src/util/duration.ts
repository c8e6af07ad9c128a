/** The one duration syntax of sockscope: the configuration's values and the command line's options. */

/** "500ms", "10s", "1m", "1m30s", "1.5h": numbers with units, concatenated. */
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';

/** "10s" → 10000, "1m30s" → 90000 (strings that match DURATION_PATTERN). */
export function durationMs(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
  return ms;
}
