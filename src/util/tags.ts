/**
 * The one tag syntax of every command and the config: KEY=VALUE items (`--tag k=v`, repeated), or a
 * comma-separated list of them (`--port-group 80@k=v,k2=v2`, ENV_INPUT_NETSTAT_TAGS, SOCKSCOPE_AGENT_TAGS).
 * Keys and values are trimmed; both must be non-empty (line protocol has no empty tag value).
 */
export function parseTags(items: string | readonly string[], invalid: (item: string) => Error): Record<string, string> {
  const list =
    typeof items === 'string'
      ? items
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : items;
  const tags: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? '' : kv.slice(0, eq).trim();
    const value = eq < 0 ? '' : kv.slice(eq + 1).trim();
    if (!key || !value) throw invalid(kv);
    tags[key] = value;
  }
  return tags;
}
