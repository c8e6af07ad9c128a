/**
 * Binaries the tests run (real servers, promtool, zabbix_agentd/zabbix_sender): the one finder. From
 * $SOCKSCOPE_<NAME> (set by .ci/run), PATH, or .ci/run's cache of unpacked Debian packages.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where .ci/run unpacks Debian packages (apt-get download + dpkg -x). */
export const CI_PREFIX = '/opt/sockscope-ci';

/** A binary found (its path), or why not (a reason to skip). */
export type Found = { path: string; skip?: undefined } | { path?: undefined; skip: string };

export interface FindOptions {
  /** directories to look in after PATH and before .ci/run's usr/bin and usr/sbin */
  dirs?: readonly string[];
  /** a candidate is taken only if this accepts it (e.g. its version); `what` names what it must be */
  accept?: { what: string; test: (path: string) => boolean };
  /** how to get it, for the skip reason (default: apt-get download PKG && dpkg -x into .ci/run's cache) */
  hint?: string;
}

/**
 * A binary: $envVar (set by .ci/run), else PATH, else `dirs`, else .ci/run's cache /opt/sockscope-ci/usr/bin and
 * usr/sbin. Not found: a skip reason, or an error under CI (CI installs them, so their absence is a broken CI, not
 * a reason to skip).
 */
export function findTool(name: string, envVar: string, pkg: string, o: FindOptions = {}): Found {
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
    ...(o.dirs ?? []).map((d) => join(d, name)),
    join(CI_PREFIX, 'usr/bin', name),
    join(CI_PREFIX, 'usr/sbin', name),
  ];
  for (const c of candidates) if (c && existsSync(c) && executable(c) && (o.accept === undefined || o.accept.test(c))) return { path: c };
  const what = o.accept ? `${name} (${o.accept.what})` : name;
  const reason =
    `${what} not found (${envVar}${fromEnv ? `=${fromEnv} is not executable${o.accept ? ` or not ${o.accept.what}` : ''}` : ' unset'}, ` +
    `not on PATH, not in ${[...(o.dirs ?? []), CI_PREFIX].join(', ')}): ` +
    (o.hint ?? `run .ci/run, or \`apt-get download ${pkg} && dpkg -x ${pkg}_*.deb ${CI_PREFIX}\``);
  if (process.env.CI) throw new Error(`${reason} — CI must have it`);
  return { skip: reason };
}

/** promtool (Debian's prometheus package), which checks expositions, alert rules and their unit tests. */
export const findPromtool = (): Found => findTool('promtool', 'SOCKSCOPE_PROMTOOL', 'prometheus');
