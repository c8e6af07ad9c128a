/**
 * The one duration syntax of every command and the config: Go's time.ParseDuration units that make sense here,
 * compound too ("1m30s", as DataKit's ENV_INPUT_NETSTAT_INTERVAL and `agent --interval` take it): a sequence of
 * <number><unit>, units ms, s, m, h.
 */
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';
const DURATION = new RegExp(DURATION_PATTERN);
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Examples for error messages and help. */
export const DURATION_EXAMPLES = '500ms, 10s, 1m, 1m30s';

/** "10s" → 10000, "1m30s" → 90000; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!DURATION.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms;
}
