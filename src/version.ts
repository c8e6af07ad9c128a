/**
 * sockscope's version, from package.json (read once; 'unknown' when the file is not beside dist/). The single
 * executable has no package.json beside it: its build (scripts/build-sea.mjs) defines SOCKSCOPE_VERSION.
 */
import { readFileSync } from 'node:fs';

declare const SOCKSCOPE_VERSION: string | undefined;

export const VERSION: string =
  typeof SOCKSCOPE_VERSION === 'string'
    ? SOCKSCOPE_VERSION
    : (() => {
        try {
          return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
        } catch {
          return 'unknown';
        }
      })();
