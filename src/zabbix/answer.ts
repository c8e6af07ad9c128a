/** What the passive agent answers: agent.*, net.tcp/udp.socket.count over a fresh snapshot, sockscope.* items. */
import type { Snapshot, SnapshotOptions } from '../snapshot/snapshot.js';
import { absentEntityValue, itemValues, quoteParam, type LatestGather } from './items.js';
import { NotSupported, parseItemKey, socketCount } from './keys.js';
import type { KeyAnswerer } from './passive.js';

export interface AnswerSources {
  version: string;
  hostname: string;
  latest(): LatestGather | undefined;
  /** a snapshot of TCP or UDP sockets, every state, headers only */
  snapshot(o: SnapshotOptions): Promise<Snapshot>;
}

const AGENT_KEYS = new Set(['agent.ping', 'agent.version', 'agent.hostname']);

/** Fresh snapshots for socket.count keys are shared for a moment: a server asking 20 keys at once costs 1 dump. */
const FRESH_MS = 1000;

export function answerer(src: AnswerSources): KeyAnswerer {
  const cache = new Map<string, { at: number; snap: Promise<Snapshot> }>();
  const fresh = (proto: 'tcp' | 'udp') => {
    const hit = cache.get(proto);
    if (hit && Date.now() - hit.at < FRESH_MS) return hit.snap;
    const snap = src.snapshot({ protocols: [proto], ext: 0, unixShow: 0 });
    cache.set(proto, { at: Date.now(), snap });
    snap.catch(() => cache.delete(proto));
    return snap;
  };
  return async (text) => {
    const { key, params } = parseItemKey(text);
    // zabbix_agentd 6.0 refuses any bracket on a key without parameters, `agent.ping[]` included (CF_HAVEPARAMS)
    if (AGENT_KEYS.has(key) && text.length > key.length) throw new NotSupported('Item does not allow parameters.');
    switch (key) {
      case 'agent.ping':
        return '1';
      case 'agent.version':
        return src.version;
      case 'agent.hostname':
        return src.hostname;
      case 'net.tcp.socket.count':
        return String(socketCount((await fresh('tcp')).table, 'tcp', params));
      case 'net.udp.socket.count':
        return String(socketCount((await fresh('udp')).table, 'udp', params));
      default: {
        if (!key.startsWith('sockscope.')) throw new NotSupported('Unsupported item key.');
        const latest = src.latest();
        if (!latest) throw new NotSupported('No data yet: the first gather has not finished.');
        // the canonical spelling (what items.ts pushes): `sockscope.netstat["tcp_listen"]` is the same item
        const canonical = params.length ? `${key}[${params.map(quoteParam).join(',')}]` : key;
        // a prototype's key for an entity that is gone (a port that stopped listening): 0 while Zabbix keeps it
        const values = itemValues(latest);
        const value = values.get(canonical) ?? absentEntityValue(key, params, values);
        if (value === undefined) throw new NotSupported('Unsupported item key.');
        return value;
      }
    }
  };
}
