/**
 * The agent's configuration: its shape, its defaults, and the JSON Schema every source (TOML file, environment,
 * flags) is validated against before anything starts.
 */
import { DURATION_EXAMPLES, DURATION_PATTERN } from '../util/duration.js';
export const DEFAULT_PORT = 11979;
export const DEFAULT_LISTEN = `127.0.0.1:${DEFAULT_PORT}`;

export interface PortGroupConfigEntry {
  ports?: string[];
  ports_match?: string[];
  remote_ports?: string[];
  tags?: Record<string, string>;
}

export interface AgentConfig {
  agent: {
    interval: string;
    hostname: string;
    omit_hostname: boolean;
    flush_timeout: string;
    tags: Record<string, string>;
  };
  collectors: {
    netstat: { enabled: boolean; semantics: 'sockscope' | 'telegraf'; per_ip_version: boolean };
    netstat_port: {
      enabled: boolean;
      semantics: 'sockscope' | 'telegraf';
      process_attribution: boolean;
      /** with no addr_ports: one group per TCP listening port */
      auto_listen_ports: boolean;
      addr_ports: PortGroupConfigEntry[];
    };
    socketstat: { enabled: boolean; protocols: string[]; info_fields: string[]; aggregate: boolean };
    listen: { enabled: boolean };
  };
  outputs: {
    prometheus: {
      enabled: boolean;
      listen: string[];
      web_config_file: string;
      max_requests: number;
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
    };
    stdout: { enabled: boolean };
    zabbix: { enabled: boolean; server: string; host: string; timeout: string; compress: boolean; buffer_limit: number };
  };
  zabbix_agent: { enabled: boolean; listen: string[]; allow: string[]; timeout: string };
}

export const DEFAULTS: AgentConfig = {
  agent: { interval: '10s', hostname: '', omit_hostname: false, flush_timeout: '5s', tags: {} },
  collectors: {
    netstat: { enabled: true, semantics: 'sockscope', per_ip_version: false },
    netstat_port: { enabled: true, semantics: 'sockscope', process_attribution: false, auto_listen_ports: true, addr_ports: [] },
    socketstat: { enabled: false, protocols: ['tcp', 'udp'], info_fields: [], aggregate: false },
    listen: { enabled: true },
  },
  outputs: {
    prometheus: { enabled: true, listen: [DEFAULT_LISTEN], web_config_file: '', max_requests: 40, max_header_bytes: 8192, read_timeout: '10s' },
    influxdb: {
      enabled: false, urls: ['http://127.0.0.1:8086'], version: 1, database: 'sockscope', retention_policy: '', precision: 'ns',
      username: '', password: '', organization: '', bucket: '', token: '', timeout: '5s', batch_size: 5000,
      metric_buffer_limit: 100_000, gzip: true, uint_support: false,
    },
    stdout: { enabled: false },
    zabbix: { enabled: false, server: '127.0.0.1:10051', host: '', timeout: '5s', compress: false, buffer_limit: 100_000 },
  },
  zabbix_agent: { enabled: false, listen: ['127.0.0.1:10050'], allow: [], timeout: '3s' },
};

// the one duration syntax (src/util/duration.ts)
const duration = { type: 'string', pattern: DURATION_PATTERN, description: `a duration like ${DURATION_EXAMPLES}` };
const listenAddr = { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[0-9.]+|[A-Za-z0-9.-]+):\\d{1,5}$', description: 'ADDRESS:PORT, e.g. 127.0.0.1:11979 or [::1]:11979' };
const tagMap = { type: 'object', additionalProperties: { type: 'string' }, description: 'a table of string tags' };
const strings = { type: 'array', items: { type: 'string' } };

export const CONFIG_SCHEMA = {
  type: 'object', additionalProperties: false,
  properties: {
    agent: {
      type: 'object', additionalProperties: false,
      properties: {
        interval: duration, hostname: { type: 'string' }, omit_hostname: { type: 'boolean' }, flush_timeout: duration, tags: tagMap,
      },
    },
    collectors: {
      type: 'object', additionalProperties: false,
      properties: {
        netstat: {
          type: 'object', additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, semantics: { enum: ['sockscope', 'telegraf'] }, per_ip_version: { type: 'boolean' } },
        },
        netstat_port: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, semantics: { enum: ['sockscope', 'telegraf'] }, process_attribution: { type: 'boolean' },
            auto_listen_ports: { type: 'boolean' },
            addr_ports: {
              type: 'array',
              items: {
                type: 'object', additionalProperties: false,
                properties: { ports: strings, ports_match: strings, remote_ports: strings, tags: tagMap },
              },
            },
          },
        },
        socketstat: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, protocols: { type: 'array', items: { enum: ['tcp', 'udp', 'raw'] } },
            info_fields: strings, aggregate: { type: 'boolean' },
          },
        },
        listen: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } },
      },
    },
    outputs: {
      type: 'object', additionalProperties: false,
      properties: {
        prometheus: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, listen: { type: 'array', items: listenAddr, minItems: 1 }, web_config_file: { type: 'string' },
            max_requests: { type: 'integer', minimum: 1, maximum: 10000 }, max_header_bytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
            read_timeout: duration,
          },
        },
        influxdb: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, urls: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^https?://[^\\s]+$', description: 'an http:// or https:// URL' } },
            version: { enum: [1, 2] }, database: { type: 'string' }, retention_policy: { type: 'string' },
            precision: { enum: ['ns', 'us', 'ms', 's'] }, username: { type: 'string' }, password: { type: 'string' },
            organization: { type: 'string' }, bucket: { type: 'string' }, token: { type: 'string' }, timeout: duration,
            batch_size: { type: 'integer', minimum: 1, maximum: 1_000_000 }, metric_buffer_limit: { type: 'integer', minimum: 1, maximum: 100_000_000 },
            gzip: { type: 'boolean' }, uint_support: { type: 'boolean' },
          },
        },
        stdout: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } },
        zabbix: {
          type: 'object', additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' }, server: { type: 'string', pattern: '^\\[?[^\\s\\]]+\\]?(:\\d{1,5})?$', description: 'HOST or HOST:PORT of the Zabbix server or proxy' },
            host: { type: 'string' }, timeout: duration, compress: { type: 'boolean' }, buffer_limit: { type: 'integer', minimum: 1, maximum: 10_000_000 },
          },
        },
      },
    },
    zabbix_agent: {
      type: 'object', additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' }, listen: { type: 'array', items: listenAddr, minItems: 1 },
        allow: { type: 'array', items: { type: 'string', pattern: '^[0-9a-fA-F:.]+(/\\d{1,3})?$', description: 'an IP address or CIDR' } },
        timeout: duration,
      },
    },
  },
} as const;
