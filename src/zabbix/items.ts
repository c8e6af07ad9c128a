/**
 * sockscope's Zabbix item values from one gather, generated from the catalog (catalog.ts): the same keys answer
 * passive checks and go out in trapper pushes, and they are the keys the templates declare.
 */
import { SockscopeError } from '../errors.js';
import {
  DISCOVERY,
  gatherFacts,
  ITEMS,
  LLD_LIFETIME_DAYS,
  prototypeKey,
  quoteParam,
  type DiscoveryDef,
  type GatherFacts,
  type LatestGather,
} from './catalog.js';

export { quoteParam, type LatestGather } from './catalog.js';

/**
 * Entities (port groups, listening ports) discovered before and gone since: their items still exist in Zabbix
 * until the rule's lifetime ({$SOCKSCOPE.LLD.LIFETIME}) removes them, and a Zabbix user expects them to read 0
 * meanwhile, not to freeze at their last value. The agent keeps one of these across gathers; bounded by the
 * entities seen within the lifetime (ports: at most 65535 per rule).
 */
export class DiscoveryMemory {
  private readonly lastSeen = new Map<string, Map<string, number>>();

  constructor(private readonly lifetimeMs = LLD_LIFETIME_DAYS * 86_400_000) {}

  /** What to keep between runs (`zabbix send --state FILE`): rule key → entity → when last discovered (ms). */
  toJSON(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.lastSeen].map(([rule, seen]) => [rule, Object.fromEntries(seen)]));
  }

  /** From toJSON()'s shape; throws a SockscopeError naming `source` when it is something else. */
  static fromJSON(doc: unknown, source: string, lifetimeMs?: number): DiscoveryMemory {
    const m = new DiscoveryMemory(lifetimeMs);
    const bad = () =>
      new SockscopeError(
        'ESOCKSCOPE_CONFIG',
        `${source}: expected sockscope's discovery state ({"<rule key>": {"<entity>": <ms>}}), as \`zabbix send --state\` writes it`,
        { value: source },
      );
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad();
    for (const [rule, seen] of Object.entries(doc)) {
      if (!seen || typeof seen !== 'object' || Array.isArray(seen)) throw bad();
      const entries = Object.entries(seen as Record<string, unknown>);
      if (!entries.every(([, at]) => typeof at === 'number' && Number.isFinite(at))) throw bad();
      m.lastSeen.set(rule, new Map(entries as [string, number][]));
    }
    return m;
  }

  /** The rule's entities for this gather: the discovered ones, then the remembered ones that are gone. */
  entities(rule: DiscoveryDef, discovered: readonly string[], now: number): { gone: string[] } {
    let seen = this.lastSeen.get(rule.key);
    if (!seen) this.lastSeen.set(rule.key, (seen = new Map()));
    for (const e of discovered) seen.set(e, now);
    const gone: string[] = [];
    for (const [e, at] of seen) {
      if (now - at > this.lifetimeMs) seen.delete(e);
      else if (at !== now) gone.push(e);
    }
    return { gone };
  }
}

/** Every sockscope.* item of a gather, key → value as Zabbix wants it (a string). */
export function itemValues(g: LatestGather, memory?: DiscoveryMemory): Map<string, string> {
  return valuesOf(gatherFacts(g), g.time, memory);
}

function valuesOf(f: GatherFacts, now: number, memory?: DiscoveryMemory): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of ITEMS) {
    const v = item.value(f);
    if (v !== undefined) out.set(item.key, String(v));
  }
  for (const rule of DISCOVERY) {
    const rows = rule.rows(f);
    if (!rows) continue;
    out.set(rule.key, JSON.stringify(rows));
    const discovered = rows.map((r) => r[rule.macro]);
    const { gone } = memory ? memory.entities(rule, discovered, now) : { gone: [] };
    for (const entity of [...discovered, ...gone]) {
      for (const p of rule.prototypes) if (!p.calculated) out.set(prototypeKey(rule, entity, p.field), String(p.value(f, entity)));
    }
  }
  return out;
}

/**
 * A passive check of a prototype's key for an entity the latest gather did not discover (a port that stopped
 * listening, a port group with no sockets): 0, as the trapper push sends while the item is still discovered.
 * undefined when the key is no prototype's, or its rule is a collector's that did not run (`values`: the
 * gather's items, as itemValues makes them: the rule's own key is there when it ran).
 */
export function absentEntityValue(key: string, params: readonly string[], values: ReadonlyMap<string, string>): string | undefined {
  if (params.length !== 2 || params[0] === '' || params[1] === '') return undefined;
  // a prototype of its own key shape (the RTT buckets): the key the prototype makes for this entity is the one asked
  const own = DISCOVERY.flatMap((r) => r.prototypes.filter((p) => p.key && !p.calculated).map((p) => ({ rule: r, p })));
  const match = own.find(({ rule, p }) => {
    const entity = params.find((e) => prototypeKey(rule, e, p.field) === `${key}[${params.map(quoteParam).join(',')}]`);
    return entity !== undefined;
  });
  const rule = match?.rule ?? DISCOVERY.find((r) => r.family === key);
  if (!rule) return undefined;
  if (rule.collector && !values.has(rule.key)) return undefined;
  const proto = match?.p ?? rule.prototypes.find((p) => p.field === params[1] && !p.key && !p.calculated);
  if (!proto) return undefined;
  if (rule.macro === '{#PORT}' && !/^\d+$/.test(params[0])) return undefined;
  return '0';
}

export interface SenderItem {
  host: string;
  key: string;
  value: string;
  clock: number;
  ns: number;
}

/** The trapper items of a gather, clock/ns from the snapshot's time. */
export function senderItems(g: LatestGather, host: string, memory?: DiscoveryMemory): SenderItem[] {
  const clock = Math.floor(g.time / 1000);
  const ns = Math.round((g.time % 1000) * 1e6);
  return [...itemValues(g, memory)].map(([key, value]) => ({ host, key, value, clock, ns }));
}
