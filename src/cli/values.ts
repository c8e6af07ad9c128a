/**
 * Option values shared by the gather-style commands (gather, execd, zabbix send): durations, tags, port groups.
 * A leaf module, so a command never imports another command for its parsers.
 */
import { UsageError } from '../errors.js';
import type { PortGroupConfig } from '../collectors/netstat-port.js';
import { DURATION_EXAMPLES, parseDuration as parseDurationText } from '../util/duration.js';
import { parseTags as parseTagItems } from '../util/tags.js';

/** A --KEY duration option (the one syntax, src/util/duration.ts: "10s", "500ms", "1m30s") → ms. */
export function parseDuration(text: string, key: string): number {
  const ms = parseDurationText(text) ?? NaN;
  // 0 would gather in a busy loop, and so would anything past setInterval's 2^31-1 ms (Node turns it into 1 ms)
  if (!(ms >= 1 && ms <= 0x7fffffff))
    throw new UsageError(`--${key} must be a duration from 1ms to 596h, like ${DURATION_EXAMPLES}; got '${text}'`, { key, value: text });
  return ms;
}

/** --port-group "80,443@service=http" → DataKit's group table. */
export function parsePortGroupSpec(spec: string): PortGroupConfig {
  const [list, tagText] = spec.split('@', 2);
  const entries = list
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const g: PortGroupConfig = {};
  for (const e of entries) {
    if (e.startsWith('*:')) (g.ports_match ??= []).push(e);
    else if (e.startsWith('remote:')) (g.remote_ports ??= []).push(e.slice('remote:'.length));
    else (g.ports ??= []).push(e);
  }
  const kinds = [g.ports, g.ports_match, g.remote_ports].filter(Boolean).length;
  if (kinds > 1)
    throw new UsageError(`--port-group '${spec}' mixes local ports, *:port and remote: entries; give each kind its own group`, {
      key: 'port-group',
      value: spec,
    });
  if (tagText !== undefined) g.tags = parseTags(tagText.split(','), 'port-group');
  return g;
}

/** --KEY tags (the one syntax, src/util/tags.ts): KEY=VALUE items. */
export function parseTags(list: readonly string[], key: string): Record<string, string> {
  return parseTagItems(list, (kv) => new UsageError(`--${key}: '${kv}' is not KEY=VALUE`, { key, value: kv }));
}
