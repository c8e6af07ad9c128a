/**
 * The agent's configuration: its shape, its defaults, and the JSON Schema every source (TOML file, environment,
 * flags) is validated against before anything starts.
 */
import { DURATION_EXAMPLES, DURATION_PATTERN } from '../util/duration.js';
import { collectorConfigSchema, collectorDefaults, type COLLECTORS } from '../collectors/registry.js';

import { DEFAULT_WINDOW, defaultThresholds, thresholdsSchema, type DoctorThresholds } from '../doctor/definitions.js';

export const DEFAULT_PORT = 11979;
export const DEFAULT_LISTEN = `127.0.0.1:${DEFAULT_PORT}`;
/** buffer_strategy = "disk": each output's log under here (systemd's StateDirectory=sockscope) */
export const DEFAULT_BUFFER_DIRECTORY = '/var/lib/sockscope/buffer';

export type { PortGroupConfig as PortGroupConfigEntry } from '../collectors/netstat-port.js';

/** The [collectors.*] sections: each collector's `config.defaults` keys and `enabled` (registry.collectorDefaults). */
export type CollectorSections = {
  [C in (typeof COLLECTORS)[number] as C['name']]: { enabled: boolean } & C['config']['defaults'];
};

export interface AgentConfig {
  agent: {
    interval: string;
    hostname: string;
    omit_hostname: boolean;
    flush_timeout: string;
    tags: Record<string, string>;
  };
  /** one section per collector (src/collectors/registry.ts) */
  collectors: CollectorSections;
  outputs: {
    prometheus: {
      enabled: boolean;
      listen: string[];
      web_config_file: string;
      max_requests: number;
      max_connections: number;
      max_header_bytes: number;
      read_timeout: string;
    };
    influxdb: {
      enabled: boolean;
      urls: string[];
      version: 1 | 2;
      database: string;
      retention_policy: string;
      precision: 'ns' | 'us' | 'ms' | 's';
      username: string;
      password: string;
      organization: string;
      bucket: string;
      token: string;
      timeout: string;
      batch_size: number;
      metric_buffer_limit: number;
      gzip: boolean;
      uint_support: boolean;
      buffer_strategy: 'memory' | 'disk';
      buffer_directory: string;
    };
    stdout: { enabled: boolean };
    zabbix: {
      enabled: boolean;
      server: string;
      host: string;
      timeout: string;
      compress: boolean;
      buffer_limit: number;
      buffer_strategy: 'memory' | 'disk';
      buffer_directory: string;
    };
  };
  zabbix_agent: { enabled: boolean; listen: string[]; allow: string[]; timeout: string };
  /** `sockscope doctor`: its window and its checks' thresholds (src/doctor/definitions.ts) */
  doctor: { window: string } & DoctorThresholds;
  /** every network namespace (docs/namespaces.md) */
  netns: {
    enabled: boolean;
    /** only these ip netns names or inodes; pods, Kubernetes namespaces, containers likewise ([] = all) */
    names: string[];
    pods: string[];
    pod_namespaces: string[];
    containers: string[];
    max_namespaces: number;
    max_series: number;
    labels: ('netns' | 'pod' | 'namespace' | 'container')[];
    /** the netns measurement: each namespace's kernel counters */
    counters: boolean;
    kubelet_log_root: string;
  };
}

export const DEFAULTS: AgentConfig = {
  agent: { interval: '10s', hostname: '', omit_hostname: false, flush_timeout: '5s', tags: {} },
  collectors: collectorDefaults() as unknown as CollectorSections,
  outputs: {
    prometheus: {
      enabled: true,
      listen: [DEFAULT_LISTEN],
      web_config_file: '',
      max_requests: 40,
      max_connections: 512,
      max_header_bytes: 8192,
      read_timeout: '10s',
    },
    influxdb: {
      enabled: false,
      urls: ['http://127.0.0.1:8086'],
      version: 1,
      database: 'sockscope',
      retention_policy: '',
      precision: 'ns',
      username: '',
      password: '',
      organization: '',
      bucket: '',
      token: '',
      timeout: '5s',
      batch_size: 5000,
      metric_buffer_limit: 100_000,
      gzip: true,
      uint_support: false,
      buffer_strategy: 'memory',
      buffer_directory: DEFAULT_BUFFER_DIRECTORY,
    },
    stdout: { enabled: false },
    zabbix: {
      enabled: false,
      server: '127.0.0.1:10051',
      host: '',
      timeout: '5s',
      compress: false,
      buffer_limit: 100_000,
      buffer_strategy: 'memory',
      buffer_directory: DEFAULT_BUFFER_DIRECTORY,
    },
  },
  zabbix_agent: { enabled: false, listen: ['127.0.0.1:10050'], allow: [], timeout: '3s' },
  doctor: { window: DEFAULT_WINDOW, ...defaultThresholds() } as AgentConfig['doctor'],
  netns: {
    enabled: false,
    names: [],
    pods: [],
    pod_namespaces: [],
    containers: [],
    max_namespaces: 1000,
    max_series: 200_000,
    labels: ['netns', 'pod', 'namespace', 'container'],
    counters: true,
    kubelet_log_root: '/var/log',
  },
};

// the one duration syntax (src/util/duration.ts)
const duration = { type: 'string', pattern: DURATION_PATTERN, description: `a duration like ${DURATION_EXAMPLES}` };
const listenAddr = {
  type: 'string',
  pattern: '^(\\[[0-9a-fA-F:.]+\\]|[0-9.]+|[A-Za-z0-9.-]+):\\d{1,5}$',
  description: 'ADDRESS:PORT, e.g. 127.0.0.1:11979 or [::1]:11979',
};
const tagMap = { type: 'object', additionalProperties: { type: 'string' }, description: 'a table of string tags' };
const strings = { type: 'array', items: { type: 'string' } };
const buffer_strategy = { enum: ['memory', 'disk'] };
const bufferDirectory = { type: 'string', pattern: '^/', description: 'an absolute directory path' };

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    agent: {
      type: 'object',
      additionalProperties: false,
      properties: {
        interval: duration,
        hostname: { type: 'string' },
        omit_hostname: { type: 'boolean' },
        flush_timeout: duration,
        tags: tagMap,
      },
    },
    collectors: collectorConfigSchema(),
    outputs: {
      type: 'object',
      additionalProperties: false,
      properties: {
        prometheus: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            listen: { type: 'array', items: listenAddr, minItems: 1 },
            web_config_file: { type: 'string' },
            max_requests: { type: 'integer', minimum: 1, maximum: 10000 },
            max_connections: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            max_header_bytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
            read_timeout: duration,
          },
        },
        influxdb: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            urls: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^https?://[^\\s]+$', description: 'an http:// or https:// URL' } },
            version: { enum: [1, 2] },
            database: { type: 'string' },
            retention_policy: { type: 'string' },
            precision: { enum: ['ns', 'us', 'ms', 's'] },
            username: { type: 'string' },
            password: { type: 'string' },
            organization: { type: 'string' },
            bucket: { type: 'string' },
            token: { type: 'string' },
            timeout: duration,
            batch_size: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            metric_buffer_limit: { type: 'integer', minimum: 1, maximum: 100_000_000 },
            gzip: { type: 'boolean' },
            uint_support: { type: 'boolean' },
            buffer_strategy,
            buffer_directory: bufferDirectory,
          },
        },
        stdout: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } },
        zabbix: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            server: { type: 'string', pattern: '^\\[?[^\\s\\]]+\\]?(:\\d{1,5})?$', description: 'HOST or HOST:PORT of the Zabbix server or proxy' },
            host: { type: 'string' },
            timeout: duration,
            compress: { type: 'boolean' },
            buffer_limit: { type: 'integer', minimum: 1, maximum: 10_000_000 },
            buffer_strategy,
            buffer_directory: bufferDirectory,
          },
        },
      },
    },
    zabbix_agent: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        listen: { type: 'array', items: listenAddr, minItems: 1 },
        allow: { type: 'array', items: { type: 'string', pattern: '^[0-9a-fA-F:.]+(/\\d{1,3})?$', description: 'an IP address or CIDR' } },
        timeout: duration,
      },
    },
    doctor: (() => {
      const t = thresholdsSchema() as { properties: Record<string, unknown> };
      return { type: 'object', additionalProperties: false, properties: { window: duration, ...t.properties } };
    })(),
    netns: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        names: strings,
        pods: strings,
        pod_namespaces: strings,
        containers: strings,
        max_namespaces: { type: 'integer', minimum: 0, maximum: 100_000 },
        max_series: { type: 'integer', minimum: 0, maximum: 100_000_000 },
        labels: { type: 'array', items: { enum: ['netns', 'pod', 'namespace', 'container'] }, uniqueItems: true },
        counters: { type: 'boolean' },
        kubelet_log_root: { type: 'string', minLength: 1 },
      },
    },
  },
} as const;
