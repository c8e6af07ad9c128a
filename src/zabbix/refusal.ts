/**
 * Why a Zabbix server refused items of a push. Its answer only counts them ("processed: 45; failed: 40; total:
 * 85"), so the keys are grouped as the catalog defines them (template items, discovery rules, the items of each
 * rule's discovered entities) and the groups whose sizes add up to the failed count are named, with the likely
 * reason for each. When no grouping or more than one explains the count, the message says so.
 */
import { DISCOVERY, ITEMS } from './catalog.js';
import type { SenderItem } from './items.js';
import { templateName } from './template.js';

interface Group {
  what: string;
  why: string;
  keys: string[];
}

const example = (keys: readonly string[]) => (keys.length > 2 ? `${keys.slice(0, 2).join(', ')}, …` : keys.join(', '));

function groupsOf(items: readonly SenderItem[], host: string): Group[] {
  const template = templateName(false);
  const itemKeys = new Set(ITEMS.map((i) => i.key));
  const groups: Group[] = [
    { what: 'template items', why: `host "${host}" lacks them, or they are disabled: link the template "${template}" to it`, keys: [] },
    { what: 'discovery rules', why: `host "${host}" lacks the template's discovery rules, or they are disabled`, keys: [] },
    ...DISCOVERY.map((r) => ({
      what: `items of discovered ${r.name.replace(/^./, (c) => c.toLowerCase())}`,
      why: "Zabbix has not created them yet from the discovery rows (it does within a minute or so, then accepts them), or they were deleted after the rule's lifetime",
      keys: [] as string[],
    })),
    { what: 'unknown items', why: 'not in the template', keys: [] },
  ];
  for (const { key } of items) {
    const bracket = key.indexOf('[');
    const family = bracket < 0 ? key : key.slice(0, bracket);
    const rule = DISCOVERY.findIndex((r) => r.family === family);
    const at = itemKeys.has(key) ? 0 : DISCOVERY.some((r) => r.key === key) ? 1 : rule >= 0 ? 2 + rule : groups.length - 1;
    groups[at].keys.push(key);
  }
  return groups.filter((g) => g.keys.length > 0);
}

/** One line: which of `items` the server refused (as far as its counts tell) and the likely reason. */
export function explainRefusal(items: readonly SenderItem[], answer: { response: string; info: string; failed: number; total: number }): string {
  const host = items[0]?.host ?? '';
  if (answer.response !== 'success') return `the Zabbix server answered "${answer.response}" (${answer.info})`;
  const { failed, total } = answer;
  if (failed === total) {
    return `the Zabbix server refused all ${total} items: host "${host}" is unknown to it (no such host, disabled, or monitored by a proxy) or has none of the items of the template "${templateName(false)}"`;
  }
  const groups = groupsOf(items, host);
  // the groups whose sizes add up to `failed`: a handful of groups, so every subset is tried
  const matches: Group[][] = [];
  for (let mask = 1; mask < 1 << groups.length; mask++) {
    const chosen = groups.filter((_, i) => mask & (1 << i));
    if (chosen.reduce((n, g) => n + g.keys.length, 0) === failed) matches.push(chosen);
  }
  const head = `the Zabbix server refused ${failed} of ${total} items of host "${host}" (its answer does not say which)`;
  const list = (gs: Group[]) => gs.map((g) => `the ${g.keys.length} ${g.what} (${example(g.keys)})`).join(' and ');
  if (matches.length === 1) return `${head}; that is as many as ${list(matches[0])}: likely ${[...new Set(matches[0].map((g) => g.why))].join('; ')}`;
  if (matches.length > 1) return `${head}; that is as many as ${matches.map(list).join(', or as ')}`;
  return `${head}; no group of sockscope's keys adds up to that: likely items disabled one by one, or values that do not fit their item (sent: ${groups.map((g) => `${g.keys.length} ${g.what}`).join(', ')})`;
}
