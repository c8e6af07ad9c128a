/**
 * `sockscope config sample`: every setting with its default value and what it does. A test parses this text
 * and requires it to equal DEFAULTS, so the sample cannot drift from the code.
 */
import { collectorSample } from '../collectors/registry.js';
import { doctorSampleSection } from '../doctor/definitions.js';
import { DEFAULT_BUFFER_DIRECTORY, DEFAULT_LISTEN } from './defaults.js';

export const SAMPLE_CONFIG = `# sockscope agent configuration (TOML). Every value below is the default.
# Precedence: command-line flags > environment (SOCKSCOPE_<SECTION>_<KEY>, e.g. SOCKSCOPE_AGENT_INTERVAL)
# > this file > defaults. 'sockscope config show' prints the effective values and where each came from.
# DataKit's [[inputs.netstat]] blocks (interval, addr_ports, tags) and its ENV_INPUT_NETSTAT_* variables
# are read too.

[agent]
  ## How often to gather (a duration: 500ms, 10s, 1m).
  interval = "10s"
  ## The host tag on every metric; "" means this machine's hostname.
  hostname = ""
  ## Leave the host tag out.
  omit_hostname = false
  ## On SIGTERM, how long outputs may take to flush their buffers before the agent exits.
  flush_timeout = "5s"

## Tags added to every metric (like Telegraf's [global_tags]).
[agent.tags]
  # dc = "eu-west-1"

${collectorSample()}
[outputs.prometheus]
  ## /metrics (Prometheus text 0.0.4 or OpenMetrics 1.0 by Accept), /healthz, /api/snapshot, /.
  enabled = true
  ## ADDRESS:PORT to listen on (several allowed). Port ${DEFAULT_LISTEN.split(':')[1]} is outside the exporter
  ## port registry (9100-9999) and below the ephemeral range.
  listen = ["${DEFAULT_LISTEN}"]
  ## A Prometheus exporter-toolkit web config (tls_server_config, basic_auth_users with bcrypt hashes).
  web_config_file = ""
  ## Requests served at once, and password checks waiting or running; more get 503.
  max_requests = 40
  ## Connections kept open (capped below the process's open-file limit). Beyond it the least recently active
  ## idle connection is closed to make room, so idle clients cannot lock scrapers out.
  max_connections = 512
  ## Largest request header accepted.
  max_header_bytes = 8192
  ## A client must send its whole request within this time.
  read_timeout = "10s"

[outputs.influxdb]
  ## Push line protocol to InfluxDB over HTTP (v1 /write or v2 /api/v2/write).
  enabled = false
  urls = ["http://127.0.0.1:8086"]
  ## 1: database, retention_policy, username, password. 2: organization, bucket, token.
  version = 1
  database = "sockscope"
  retention_policy = ""
  precision = "ns"
  username = ""
  password = ""
  organization = ""
  bucket = ""
  token = ""
  timeout = "5s"
  ## Metrics per write request.
  batch_size = 5000
  ## Metrics kept while InfluxDB is unreachable; beyond this the oldest are dropped (and counted).
  metric_buffer_limit = 100000
  gzip = true
  ## Write unsigned integers with the u suffix (InfluxDB 2.x); off writes them as i, as Telegraf does.
  uint_support = false
  ## "memory": the buffer is lost if the agent is killed or crashes. "disk": also written ahead to
  ## <buffer_directory>/influxdb as each gather is accepted, and read back at the next start, so kill -9, an OOM
  ## kill or a crash loses nothing (a power loss can lose the last second: see docs/agent.md).
  buffer_strategy = "memory"
  buffer_directory = "${DEFAULT_BUFFER_DIRECTORY}"

[outputs.stdout]
  ## Line protocol on stdout, one batch per gather.
  enabled = false

[outputs.zabbix]
  ## Push every gather to a Zabbix server's trapper port (items of 'sockscope zabbix template').
  enabled = false
  server = "127.0.0.1:10051"
  ## The Zabbix host name the items belong to; "" means the agent's host tag.
  host = ""
  timeout = "5s"
  ## zlib-compress frames (Zabbix 4.0+ servers accept them).
  compress = false
  ## Items kept while the server is unreachable; beyond this the oldest are dropped.
  buffer_limit = 100000
  ## "memory" or "disk" (written ahead to <buffer_directory>/zabbix), as for InfluxDB.
  buffer_strategy = "memory"
  buffer_directory = "${DEFAULT_BUFFER_DIRECTORY}"

[zabbix_agent]
  ## Answer Zabbix passive checks like zabbix_agentd 6.0: agent.ping, agent.version,
  ## net.tcp.socket.count[...], net.udp.socket.count[...], sockscope.* and LLD keys.
  enabled = false
  listen = ["127.0.0.1:10050"]
  ## Addresses or CIDRs allowed to ask (zabbix_agentd's Server=); empty means loopback only.
  allow = []
  ## A request must arrive within this time.
  timeout = "3s"

[netns]
  ## Every network namespace on the host (containers, pods, ip netns), each gathered in its own right: the
  ## enabled collectors' metrics gain netns, pod, namespace and container labels; the host's stay unlabeled.
  ## Needs CAP_SYS_ADMIN (setns) and CAP_SYS_PTRACE (other users' /proc). See docs/namespaces.md.
  enabled = false
  ## Only these: ip netns names or namespace inodes, pod names, Kubernetes namespaces, container names or
  ## ids (12+ hex digits). Empty: all.
  names = []
  pods = []
  pod_namespaces = []
  containers = []
  ## Namespaces read per gather at most (besides the host's); the rest are counted, not read.
  max_namespaces = 1000
  ## Metrics from namespaces per gather at most; the rest are dropped and counted (sockscope_netns_series_dropped_total).
  max_series = 200000
  ## Labels on their metrics.
  labels = ["netns", "pod", "namespace", "container"]
  ## The netns measurement: each namespace's ListenOverflows, ListenDrops, TCPReqQFullDrop, SyncookiesSent,
  ## orphans, TIME_WAIT, TCP memory and UDP receive-buffer errors.
  counters = true
  ## Where kubelet's pods/ and containers/ log directories are (pod and container names come from them).
  kubelet_log_root = "/var/log"

${doctorSampleSection()}`;
