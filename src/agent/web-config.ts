/**
 * The Prometheus exporter-toolkit web config (--web.config.file), so Prometheus users reuse theirs:
 *
 *   tls_server_config: { cert_file, key_file, client_ca_file?, client_auth_type?, min_version? }
 *   basic_auth_users: { user: <bcrypt hash> }
 *
 * Paths are relative to the file. Anything else in the file is refused with its key named.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import bcrypt from 'bcryptjs';
import { parse as parseYaml } from 'yaml';
import { SockscopeError } from '../errors.js';

export interface WebConfig {
  tls?: {
    cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; minVersion?: 'TLSv1.2' | 'TLSv1.3';
    /** exporter-toolkit's client_auth_type (Go's tls.ClientAuthType names) */
    clientAuth: 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';
  };
  users?: Map<string, string>;
}

const err = (file: string, key: string, value: unknown, expected: string) =>
  new SockscopeError('ESOCKSCOPE_CONFIG', `web config ${file}: ${key} = ${JSON.stringify(value)}: expected ${expected}`, { key, value, file });

const CLIENT_AUTH = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];

export function loadWebConfig(file: string): WebConfig {
  let doc: unknown;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SockscopeError('ESOCKSCOPE_CONFIG', `config: outputs.prometheus.web_config_file = ${JSON.stringify(file)}: expected a readable YAML file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { key: 'outputs.prometheus.web_config_file', value: file });
  }
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new SockscopeError('ESOCKSCOPE_CONFIG', `web config ${file}: ${(e as Error).message.split('\n')[0]}`, { key: 'web_config_file', value: file });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw err(file, '(top level)', doc, 'a YAML mapping');
  const base = dirname(resolve(file));
  const read = (key: string, p: unknown) => {
    if (typeof p !== 'string' || p === '') throw err(file, key, p, 'a file path');
    try {
      return readFileSync(resolve(base, p));
    } catch (e) {
      throw err(file, key, p, `a readable file (${(e as NodeJS.ErrnoException).code})`);
    }
  };
  const out: WebConfig = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (k === 'tls_server_config') {
      if (typeof v !== 'object' || v === null) throw err(file, k, v, 'a mapping with cert_file and key_file');
      const t = v as Record<string, unknown>;
      for (const key of Object.keys(t)) {
        if (!['cert_file', 'key_file', 'client_ca_file', 'client_auth_type', 'min_version'].includes(key)) {
          throw err(file, `tls_server_config.${key}`, t[key], 'one of cert_file, key_file, client_ca_file, client_auth_type, min_version');
        }
      }
      const auth = (t.client_auth_type as string | undefined) ?? 'NoClientCert';
      if (!CLIENT_AUTH.includes(auth)) throw err(file, 'tls_server_config.client_auth_type', auth, `one of ${CLIENT_AUTH.join(', ')}`);
      const min = t.min_version as string | undefined;
      if (min !== undefined && min !== 'TLS12' && min !== 'TLS13') throw err(file, 'tls_server_config.min_version', min, 'TLS12 or TLS13');
      out.tls = {
        cert: read('tls_server_config.cert_file', t.cert_file),
        key: read('tls_server_config.key_file', t.key_file),
        ca: t.client_ca_file ? read('tls_server_config.client_ca_file', t.client_ca_file) : undefined,
        requestCert: auth !== 'NoClientCert',
        clientAuth: auth as NonNullable<WebConfig['tls']>['clientAuth'],
        minVersion: min === 'TLS13' ? 'TLSv1.3' : 'TLSv1.2',
      };
    } else if (k === 'basic_auth_users') {
      if (typeof v !== 'object' || v === null) throw err(file, k, v, 'a mapping of user: bcrypt hash');
      out.users = new Map();
      for (const [user, hash] of Object.entries(v as Record<string, unknown>)) {
        if (typeof hash !== 'string' || !/^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) throw err(file, `basic_auth_users.${user}`, hash, 'a bcrypt hash ($2y$10$...)');
        out.users.set(user, hash.replace(/^\$2y\$/, '$2b$')); // $2y$ (PHP, htpasswd) is the same algorithm as $2b$
      }
    } else if (k === 'http_server_config') {
      // accepted for compatibility; sockscope sets its own headers
    } else {
      throw err(file, k, v, 'tls_server_config, basic_auth_users or http_server_config');
    }
  }
  return out;
}

/**
 * Checks Authorization: Basic against the users. bcrypt is slow on purpose (~50-100 ms), so a successful
 * (user, password) pair is remembered for the life of the config, as exporter-toolkit caches it.
 */
export class BasicAuth {
  private readonly ok = new Set<string>();
  constructor(private readonly users: Map<string, string>) {}

  async check(header: string | undefined): Promise<boolean> {
    if (!header?.startsWith('Basic ')) return false;
    const raw = Buffer.from(header.slice(6), 'base64').toString('utf8');
    if (this.ok.has(raw)) return true;
    const colon = raw.indexOf(':');
    if (colon < 0) return false;
    const hash = this.users.get(raw.slice(0, colon));
    if (!hash) return false;
    const good = await bcrypt.compare(raw.slice(colon + 1), hash);
    if (good) this.ok.add(raw);
    return good;
  }
}
