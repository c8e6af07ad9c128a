/**
 * sockscope's private cache directory, shared by the single executable's assets (src/sys/sea.ts) and the V8
 * code cache of the npm bundle (src/cli/launch.ts): $CACHE_DIRECTORY (systemd's CacheDirectory=), then
 * /var/cache/sockscope for root, then $XDG_CACHE_HOME/sockscope or ~/.cache/sockscope. Never /tmp: it may be
 * mounted noexec, and anyone can create files there. The directory must belong to us and be writable by nobody
 * else (0700), so that a file read from it is a file we wrote (a code cache is code).
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The candidates, in order of preference. */
export function cacheRoots(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): string[] {
  const roots: string[] = [];
  if (env.CACHE_DIRECTORY) roots.push(env.CACHE_DIRECTORY.split(':')[0]);
  if (uid === 0) roots.push('/var/cache/sockscope');
  if (env.XDG_CACHE_HOME) roots.push(join(env.XDG_CACHE_HOME, 'sockscope'));
  let home: string | undefined;
  try {
    home = env.HOME || homedir();
  } catch {
    home = undefined;
  }
  if (home) roots.push(join(home, '.cache', 'sockscope'));
  return roots;
}

/** A directory of ours that nobody else can write to, made if missing. */
export function privateDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
