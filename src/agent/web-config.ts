/**
 * The Prometheus exporter-toolkit web config (--web.config.file), so Prometheus users reuse theirs:
 *
 *   tls_server_config: { cert_file, key_file, client_ca_file?, client_auth_type?, min_version?, max_version?,
 *                        cipher_suites?, curve_preferences?, prefer_server_cipher_suites? }
 *   basic_auth_users: { user: <bcrypt hash> }
 *
 * With Go's crypto/tls semantics: Go's names for versions, cipher suites (mapped to OpenSSL's) and curves;
 * cipher_suites apply to TLS 1.0-1.2 only (Go does not let TLS 1.3's be chosen); exporter-toolkit's defaults
 * (min TLS 1.2, server order preferred). Paths are relative to the file; the certificate, key and CA are parsed
 * here, so a bad or swapped file is a configuration error naming it. Anything else in the file is refused with
 * its key named.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PasswordChecker } from './password-check.js';
import { dirname, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { SockscopeError } from '../errors.js';

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface WebConfig {
  tls?: {
    cert: Buffer;
    key: Buffer;
    ca?: Buffer;
    requestCert: boolean;
    minVersion: TlsVersion;
    maxVersion: TlsVersion;
    /** OpenSSL's cipher list: the TLS 1.2 suites asked for, then TLS 1.3's defaults (undefined: node's defaults) */
    ciphers?: string;
    /** OpenSSL's group list (undefined: node's defaults) */
    ecdhCurve?: string;
    honorCipherOrder: boolean;
    /** exporter-toolkit's client_auth_type (Go's tls.ClientAuthType names) */
    clientAuth: 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';
  };
  users?: Map<string, string>;
}

const err = (file: string, key: string, value: unknown, expected: string) =>
  new SockscopeError('ESOCKSCOPE_CONFIG', `web config ${file}: ${key} = ${JSON.stringify(value)}: expected ${expected}`, { key, value, file });

const CLIENT_AUTH = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];

/** Go's tls.VersionName → node's. */
const VERSIONS: Record<string, TlsVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

/**
 * Go's cipher suite names (tls.CipherSuites() and tls.InsecureCipherSuites(), and the aliases Go accepts) → OpenSSL's.
 * TLS 1.3's suites map to null: Go accepts their names and ignores them (TLS 1.3 suites are not configurable).
 */
const CIPHERS: Record<string, string | null> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};
/** TLS 1.3's suites, always on (as in Go), in node's default order. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** Go's tls.CurveID names (exporter-toolkit's curve_preferences) → OpenSSL's group names. */
const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

const TLS_KEYS = [
  'cert_file',
  'key_file',
  'client_ca_file',
  'client_auth_type',
  'min_version',
  'max_version',
  'cipher_suites',
  'curve_preferences',
  'prefer_server_cipher_suites',
];

/** A list of names from a table, each checked; `list` is what a scalar is taken as (Go's YAML accepts neither). */
function names(file: string, key: string, v: unknown, table: Record<string, unknown>): string[] {
  if (!Array.isArray(v)) throw err(file, key, v, `a list of ${Object.keys(table).join(', ')}`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || !(x in table)) throw err(file, `${key}[${i}]`, x, `one of ${Object.keys(table).join(', ')}`);
    return x;
  });
}

/** The certificate, key and CA parsed, so a bad file is named here, not met as "PEM routines::no start line" at listen. */
function checkPair(file: string, t: Record<string, unknown>, cert: Buffer, key: Buffer, ca: Buffer | undefined): void {
  const looksLikeKey = (b: Buffer) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b.toString('latin1'));
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw err(
      file,
      'tls_server_config.cert_file',
      t.cert_file,
      `a PEM certificate${looksLikeKey(cert) ? ' (it holds a private key: are cert_file and key_file swapped?)' : ''}`,
    );
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    const isCert = /-----BEGIN CERTIFICATE-----/.test(key.toString('latin1'));
    throw err(
      file,
      'tls_server_config.key_file',
      t.key_file,
      `a PEM private key${isCert ? ' (it holds a certificate: are cert_file and key_file swapped?)' : ''}`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw err(
      file,
      'tls_server_config.key_file',
      t.key_file,
      `the private key of the certificate (it does not match cert_file ${JSON.stringify(t.cert_file)})`,
    );
  }
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch {
      throw err(file, 'tls_server_config.client_ca_file', t.client_ca_file, 'PEM CA certificates');
    }
  }
}

function tlsConfig(file: string, v: unknown, read: (key: string, p: unknown) => Buffer): NonNullable<WebConfig['tls']> {
  if (typeof v !== 'object' || v === null) throw err(file, 'tls_server_config', v, 'a mapping with cert_file and key_file');
  const t = v as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!TLS_KEYS.includes(key)) throw err(file, `tls_server_config.${key}`, t[key], `one of ${TLS_KEYS.join(', ')}`);
  }
  const auth = (t.client_auth_type as string | undefined) ?? 'NoClientCert';
  if (!CLIENT_AUTH.includes(auth)) throw err(file, 'tls_server_config.client_auth_type', auth, `one of ${CLIENT_AUTH.join(', ')}`);
  const version = (key: string, dflt: string): TlsVersion => {
    const x = t[key] ?? dflt;
    if (typeof x !== 'string' || !(x in VERSIONS)) throw err(file, `tls_server_config.${key}`, x, `one of ${Object.keys(VERSIONS).join(', ')}`);
    return VERSIONS[x];
  };
  const minVersion = version('min_version', 'TLS12'); // exporter-toolkit's default
  const maxVersion = version('max_version', 'TLS13');
  const order = Object.values(VERSIONS);
  if (order.indexOf(maxVersion) < order.indexOf(minVersion))
    throw err(file, 'tls_server_config.max_version', t.max_version, `a version at least min_version (${String(t.min_version)})`);
  let ciphers: string | undefined;
  if (t.cipher_suites !== undefined) {
    const suites = names(file, 'tls_server_config.cipher_suites', t.cipher_suites, CIPHERS)
      .map((n) => CIPHERS[n])
      .filter((x): x is string => x !== null);
    // an empty list means Go's defaults, as in Go
    if (suites.length) ciphers = `${TLS13_SUITES}:${suites.join(':')}`;
  }
  const curves = t.curve_preferences === undefined ? [] : names(file, 'tls_server_config.curve_preferences', t.curve_preferences, CURVES);
  const prefer = t.prefer_server_cipher_suites ?? true; // exporter-toolkit's default
  if (typeof prefer !== 'boolean') throw err(file, 'tls_server_config.prefer_server_cipher_suites', prefer, 'true or false');
  const cert = read('tls_server_config.cert_file', t.cert_file);
  const key = read('tls_server_config.key_file', t.key_file);
  const ca = t.client_ca_file ? read('tls_server_config.client_ca_file', t.client_ca_file) : undefined;
  checkPair(file, t, cert, key, ca);
  return {
    cert,
    key,
    ca,
    requestCert: auth !== 'NoClientCert',
    clientAuth: auth as NonNullable<WebConfig['tls']>['clientAuth'],
    minVersion,
    maxVersion,
    ciphers,
    ecdhCurve: curves.length ? curves.map((c) => CURVES[c]).join(':') : undefined,
    honorCipherOrder: prefer,
  };
}

export function loadWebConfig(file: string): WebConfig {
  let doc: unknown;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SockscopeError(
      'ESOCKSCOPE_CONFIG',
      `config: outputs.prometheus.web_config_file = ${JSON.stringify(file)}: expected a readable YAML file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { key: 'outputs.prometheus.web_config_file', value: file },
    );
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
      out.tls = tlsConfig(file, v, read);
    } else if (k === 'basic_auth_users') {
      if (typeof v !== 'object' || v === null) throw err(file, k, v, 'a mapping of user: bcrypt hash');
      out.users = new Map();
      for (const [user, hash] of Object.entries(v as Record<string, unknown>)) {
        if (typeof hash !== 'string' || !/^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash))
          throw err(file, `basic_auth_users.${user}`, hash, 'a bcrypt hash ($2y$10$...)');
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
 * Checks Authorization: Basic against the users without stalling the event loop or telling users apart:
 *   - bcrypt (slow on purpose: ~80 ms at cost 10) runs in worker threads (password-check.ts), a bounded number at
 *     once, with a bounded queue: beyond it the answer is 'busy' (503), so wrong passwords cannot pile up work;
 *   - results are remembered per (user, password) in a bounded cache, as exporter-toolkit does (a scraper's
 *     correct password costs one bcrypt comparison per configuration, not one per scrape);
 *   - an unknown user costs the same comparison as a known one (against a configured hash), so timing does not
 *     tell which users exist.
 */
export class BasicAuth {
  private readonly cache = new Map<string, boolean>();
  /** the hash an unknown user's password is compared with: a configured one of the highest cost */
  private readonly decoy: string;

  /** maxWaitMs: how long a check may wait for a worker before the request is answered 503 */
  constructor(
    private readonly users: Map<string, string>,
    private readonly checker: PasswordChecker,
    private readonly maxWaitMs: number,
  ) {
    this.decoy = [...users.values()].sort((a, b) => Number(b.slice(4, 6)) - Number(a.slice(4, 6)))[0];
  }

  async check(header: string | undefined): Promise<{ ok: boolean; user?: string; busy?: boolean }> {
    if (!header?.startsWith('Basic ')) return { ok: false };
    const raw = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = raw.indexOf(':');
    if (colon < 0) return { ok: false };
    const user = raw.slice(0, colon);
    const key = createHash('sha256').update(raw).digest('base64');
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key); // most recently used last
      this.cache.set(key, cached);
      return { ok: cached, user };
    }
    const hash = this.users.get(user);
    const good = await this.checker.compare(raw.slice(colon + 1), hash ?? this.decoy, this.maxWaitMs);
    if (good === 'busy') return { ok: false, user, busy: true };
    const ok = good && hash !== undefined;
    this.cache.set(key, ok);
    if (this.cache.size > AUTH_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    return { ok, user };
  }
}

/** Credentials remembered (verified or refused); exporter-toolkit keeps 100. */
const AUTH_CACHE_ENTRIES = 1024;
