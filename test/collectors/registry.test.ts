/**
 * The collector registry: what it yields per collector (measurement names, the snapshot plan, the [collectors.*]
 * sections, the gather config from them, the measurements' fields) against what the collectors declare, and
 * the plan's union rules a user would notice (a census when only counts are needed, tcp_info only for
 * socketstat over TCP, TIME_WAIT from the kernel's counter only when no collector needs it per family).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ext, UnixShow } from '../../src/diag/constants.js';
import {
  collectorConfigSchema,
  collectorDefaults,
  collectorSample,
  COLLECTORS,
  gatherConfigFromSections,
  MEASUREMENTS,
  measurementFields,
  planSnapshot,
} from '../../src/collectors/registry.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import type { SockscopeError } from '../../src/errors.js';

describe('collector registry', () => {
  it('names every collector once, in gather order, with a config section each', () => {
    assert.deepEqual(MEASUREMENTS, ['netstat', 'netstat_port', 'socketstat', 'listen', 'lifecycle', 'doctor']);
    assert.deepEqual(Object.keys(collectorDefaults()), MEASUREMENTS);
    assert.deepEqual(Object.keys((collectorConfigSchema() as { properties: object }).properties), MEASUREMENTS);
    for (const c of COLLECTORS)
      assert.match(collectorSample(), new RegExp(`^\\[collectors\\.${c.name}\\]\\n  ## .+\\n  enabled = ${c.enabledByDefault}\\n`, 'm'));
  });

  it("the agent defaults are the registry's: on by default as each collector says", () => {
    assert.deepEqual(DEFAULTS.collectors, collectorDefaults());
    assert.deepEqual(gatherConfigFromSections(DEFAULTS.collectors).measurements, ['netstat', 'netstat_port', 'listen']);
  });

  it('doctor: a table of TCP and UDP with tcp_info and drops; its namespace facts and previous sample, holders only when asked', () => {
    const plan = planSnapshot({ measurements: ['doctor'] });
    assert.equal(plan.table, true);
    assert.deepEqual(plan.options.protocols, ['tcp', 'udp']);
    assert.equal(plan.options.ext, Ext.info | Ext.skmeminfo);
    assert.deepEqual(plan.facts.sort(), ['doctorHistory', 'doctorNamespace']);
    const named = gatherConfigFromSections({ ...collectorDefaults(), doctor: { enabled: true, processes: true } });
    assert.deepEqual(named.measurements.at(-1), 'doctor');
    assert.deepEqual(
      planSnapshot(named)
        .facts.filter((f) => f.startsWith('doctor') || f === 'holders')
        .sort(),
      ['doctorHistory', 'doctorNamespace', 'holders'],
    );
  });

  it('a bad section is a configuration error naming the key', () => {
    const sections = { ...collectorDefaults(), socketstat: { ...collectorDefaults().socketstat, enabled: true, info_fields: ['rtt_us', 'nope'] } };
    assert.throws(
      () => gatherConfigFromSections(sections),
      (e: SockscopeError) => e.code === 'ESOCKSCOPE_CONFIG' && e.facts.key === 'collectors.socketstat.info_fields' && e.facts.value === 'nope',
    );
    const ports = { ...collectorDefaults(), netstat_port: { ...collectorDefaults().netstat_port, addr_ports: [{ ports: ['80', 'x:y'] }] } };
    assert.throws(
      () => gatherConfigFromSections(ports),
      (e: SockscopeError) => e.code === 'ESOCKSCOPE_CONFIG' && e.facts.key === 'collectors.netstat_port.addr_ports[0].ports',
    );
  });

  it("measurementFields lists each collector's measurements and their typed fields", () => {
    const fields = measurementFields();
    const of = (collector: string, measurement: string) => fields.filter((f) => f.collector === collector && f.measurement === measurement).map((f) => f.field);
    assert.equal(of('netstat', 'netstat').length, 13);
    assert.ok(of('netstat_port', 'netstat_port').includes('pid'));
    assert.deepEqual(of('listen', 'listen'), ['accept_queue', 'backlog']);
    assert.deepEqual(of('listen', 'local_port_range'), ['low', 'high', 'size']);
    assert.ok(of('socketstat', 'socketstat').includes('bytes_acked'));
    for (const f of fields) assert.ok(['int', 'uint', 'float', 'string', 'bool'].includes(f.spec.type), `${f.measurement}.${f.field} has a type`);
  });

  it('an unknown measurement is a usage error naming the choices', () => {
    assert.throws(
      () => planSnapshot({ measurements: ['netstat', 'sockets'] }),
      (e: SockscopeError) =>
        e.code === 'ESOCKSCOPE_USAGE' && /unknown measurement 'sockets': expected one of netstat, netstat_port, socketstat, listen/.test(e.message),
    );
  });
});

describe('the snapshot plan: the union of what the enabled collectors need', () => {
  it("netstat alone: a census of TCP and UDP, TIME_WAIT from the kernel's counter", () => {
    const p = planSnapshot({ measurements: ['netstat'] });
    assert.equal(p.table, false);
    assert.deepEqual(p.options.protocols, ['tcp', 'udp']);
    assert.equal(p.options.timeWaitFromCounter, true);
    assert.deepEqual(p.facts, []);
  });

  it('netstat per ip_version: TIME_WAIT dumped per family', () => {
    assert.equal(planSnapshot({ measurements: ['netstat'], netstat: { perIpVersion: true } }).options.timeWaitFromCounter, undefined);
  });

  it('telegraf semantics: a table with unix sockets and their names', () => {
    const p = planSnapshot({ measurements: ['netstat'], netstat: { semantics: 'telegraf' } });
    assert.equal(p.table, true);
    assert.deepEqual(p.options.protocols, ['tcp', 'udp', 'unix']);
    assert.equal(p.options.unixShow, UnixShow.NAME);
  });

  it('listen: a table of TCP and the port range; netstat_port with process attribution: the holders', () => {
    const p = planSnapshot({ measurements: ['listen', 'netstat_port'], netstatPort: { groups: [], processAttribution: true } });
    assert.equal(p.table, true);
    assert.deepEqual(p.options.protocols, ['tcp', 'udp']);
    assert.deepEqual(p.facts.sort(), ['holders', 'localPortRange']);
    assert.equal(p.options.ext, 0);
  });

  it('socketstat: tcp_info only when it takes TCP', () => {
    assert.equal(planSnapshot({ measurements: ['socketstat'] }).options.ext, Ext.info);
    assert.equal(planSnapshot({ measurements: ['socketstat'], socketstat: { protocols: ['udp'] } }).options.ext, 0);
    assert.equal(planSnapshot({ measurements: ['netstat', 'socketstat'], socketstat: { protocols: ['udp', 'raw'] } }).options.ext, 0);
    assert.deepEqual(planSnapshot({ measurements: ['socketstat'], socketstat: { protocols: ['raw'] }, countProtocols: ['unix'] }).options.protocols, [
      'raw',
      'unix',
    ]);
  });
});
