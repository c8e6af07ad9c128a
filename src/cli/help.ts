/** `CMD --help` and `sockscope help CMD`: the help made from the command's spec (spec.ts). */
import { VERSION } from '../version.js';
import { renderHelp } from './options.js';
import { commandSpec } from './spec.js';

export function printHelp(name: string): void {
  process.stdout.write(renderHelp(commandSpec(name), VERSION));
}
