/** `sockscope config show`: the effective configuration as TOML, each value commented with its source. */
import { LEAVES, type LoadedConfig } from './load.js';

function tomlValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  if (typeof v === 'object' && v !== null)
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k)} = ${tomlValue(x)}`)
      .join(', ')} }`;
  return '""';
}

export function showConfig(loaded: LoadedConfig, redact = true): string {
  const out: string[] = ['# effective sockscope configuration: value  # where it came from'];
  let section = '';
  for (const path of LEAVES) {
    const sec = path.slice(0, -1).join('.');
    if (sec !== section) {
      out.push('', `[${sec}]`);
      section = sec;
    }
    const key = path[path.length - 1];
    let value = path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], loaded.config);
    if (redact && /password|token/.test(key) && value) value = '<redacted>';
    out.push(`  ${key} = ${tomlValue(value)}  # ${loaded.origins.get(path.join('.'))}`);
  }
  return `${out.join('\n')}\n`;
}

/** `config show --format json`: { config, origins } (secrets redacted as in the TOML form). */
export function showConfigJson(loaded: LoadedConfig, redact = true): string {
  const config = structuredClone(loaded.config) as unknown as Record<string, unknown>;
  if (redact) {
    for (const path of LEAVES) {
      const key = path[path.length - 1];
      const parent = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, config);
      if (/password|token/.test(key) && parent[key]) parent[key] = '<redacted>';
    }
  }
  return `${JSON.stringify({ config, origins: Object.fromEntries(loaded.origins) }, null, 2)}\n`;
}
