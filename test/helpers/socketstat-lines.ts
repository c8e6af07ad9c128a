/**
 * Run inside a namespace (netns.ts runs it with nsenter): one snapshot as gather plans it for socketstat (every
 * protocol, every state, tcp_info), then, per option set, the socketstat lines of the reference
 * (the collector into the metric sink + influxLine, gather's tags merged in) and into the line-protocol sink,
 * printed as one JSON document: [{ name, reference, direct }]. The test process compares them.
 *
 *   node dist/test/helpers/socketstat-lines.js
 */
import { ALL_STATES } from '../../src/diag/constants.js';
import { planSnapshot } from '../../src/gather/gather.js';
import { SOCKETSTAT_INFO_FIELDS } from '../../src/collectors/socketstat.js';
import { influxLine } from '../../src/outputs/metrics/influx.js';
import { socketstatLineProtocol, socketstatMetrics, type SocketstatTestOptions as SocketstatInfluxOptions } from './outputs.js';
import { takeSnapshot } from '../../src/snapshot/snapshot.js';
import { sysfsInterfaceNames } from '../../src/util/net.js';

export interface SocketstatLines {
  name: string;
  reference: string;
  direct: string;
}

const TAGS = { host: 'ns-host', dc: 'eu west', proto: 'overridden', zone: 'a,b' };
const ALL = ['tcp', 'udp', 'raw'];

const SOCKETSTAT_LINE_SETS: [string, SocketstatInfluxOptions][] = [
  ['defaults', {}],
  ['every tcp_info field, u suffix', { infoFields: SOCKETSTAT_INFO_FIELDS, uintAsInt: false }],
  ['some tcp_info fields', { infoFields: ['min_rtt_us', 'ssthresh', 'delivery_rate_bps'] }],
  ['tcp, udp, raw, every state, tags', { protocols: ALL, states: ALL_STATES, tags: TAGS, infoFields: SOCKETSTAT_INFO_FIELDS }],
  ['udp only, host tag', { protocols: ['udp'], tags: { host: 'ns-host' } }],
];

async function main(): Promise<void> {
  const { options } = planSnapshot({ measurements: ['socketstat'], socketstat: { protocols: ALL } });
  const snap = await takeSnapshot(options);
  const t = snap.table;
  const out: SocketstatLines[] = [];
  for (const [name, set] of SOCKETSTAT_LINE_SETS) {
    const o = { ...set, interfaceName: sysfsInterfaceNames() };
    let reference = '';
    socketstatMetrics(t, snap.takenAt, o, (m) => {
      reference += `${influxLine(m, { uintAsInt: o.uintAsInt })}\n`;
    });
    out.push({ name, reference, direct: socketstatLineProtocol(t, snap.takenAt, o).bytes.text() });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`socketstat-lines: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
