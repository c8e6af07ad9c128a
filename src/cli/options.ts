/** Option parsing shared by the commands: util.parseArgs with its errors as one-line usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
type OptionValue<O> = O extends { type: 'boolean' } ? (O extends { multiple: true } ? boolean[] : boolean) : O extends { multiple: true } ? string[] : string;
export interface ParsedOptions<T extends OptionSpecs> {
  values: { [K in keyof T]?: OptionValue<T[K]> };
  positionals: string[];
}

/** util.parseArgs with its errors turned into one-line usage errors (exit 2). */
export function parseOptions<T extends OptionSpecs>(args: string[], options: T, allowPositionals = false): ParsedOptions<T> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true }) as unknown as ParsedOptions<T>;
  } catch (e) {
    // Node's messages can span lines (the "ambiguous" hint): keep the first sentence, one line
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').split('\n')[0].replace(/\.$/, '');
    throw new UsageError(`${msg}. See 'sockscope --help'.`);
  }
}

