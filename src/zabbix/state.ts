/** `zabbix send --state FILE`: the discovery memory kept between runs, in a small JSON file written atomically. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { SockscopeError, systemErrorFacts } from '../errors.js';
import { DiscoveryMemory } from './items.js';

export function loadMemory(file: string): DiscoveryMemory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new DiscoveryMemory(); // the first run
    throw new SockscopeError('ESOCKSCOPE_CONFIG', `--state ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      value: file,
      ...systemErrorFacts(e),
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SockscopeError(
      'ESOCKSCOPE_CONFIG',
      `--state ${file}: not JSON; expected the file an earlier \`zabbix send --state\` wrote (delete it to start afresh)`,
      { value: file },
    );
  }
  return DiscoveryMemory.fromJSON(doc, `--state ${file}`);
}

export function saveMemory(file: string, memory: DiscoveryMemory): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(memory)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    throw new SockscopeError('ESOCKSCOPE_CONFIG', `--state ${file}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      value: file,
      ...systemErrorFacts(e),
    });
  }
}
