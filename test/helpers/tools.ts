/**
 * Binaries the tests run (real servers, promtool): from $SOCKSCOPE_<NAME> (set by .ci/run), PATH, or .ci/run's
 * cache of unpacked Debian packages.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where .ci/run unpacks Debian packages (apt-get download + dpkg -x). */
export const CI_PREFIX = '/opt/sockscope-ci';

export type Found = { path: string; skip?: undefined } | { path?: undefined; skip: string };

/**
 * A binary: $envVar (set by .ci/run), else PATH, else .ci/run's cache /opt/sockscope-ci/usr/bin. Not found: a skip
 * reason, or an error under CI (CI installs them, so their absence is a broken CI, not a reason to skip).
 */
export function findTool(name: string, envVar: string, pkg: string): Found {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const fromEnv = process.env[envVar];
  const candidates = [
    fromEnv,
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, name)),
    join(CI_PREFIX, 'usr/bin', name),
    join(CI_PREFIX, 'usr/sbin', name),
  ];
  for (const c of candidates) if (c && existsSync(c) && executable(c)) return { path: c };
  const reason =
    `${name} not found (${envVar}${fromEnv ? `=${fromEnv} is not executable` : ' unset'}, not on PATH, not in ${CI_PREFIX}): ` +
    `run .ci/run, or \`apt-get download ${pkg} && dpkg -x ${pkg}_*.deb ${CI_PREFIX}\``;
  if (process.env.CI) throw new Error(`${reason} — CI must have it`);
  return { skip: reason };
}
