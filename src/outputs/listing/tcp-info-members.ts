/**
 * The tcp_info members of the socket record (from TCP_INFO_FIELDS: names with their unit, scales, what the
 * record leaves out) and their words in the ls table (TCP_INFO_SS: ss 6.1's names, formats and conditions).
 */
import { TCP_INFO_FIELDS, unitName, type TcpInfoField } from '../../diag/tcp-info.js';
import type { SsShow, SsWord } from './member-types.js';

/** tcpi_options bits (linux/tcp.h TCPI_OPT_*). */
export const TCPI_OPTIONS: readonly [number, string][] = [
  [1, 'timestamps'],
  [2, 'sack'],
  [4, 'wscale'],
  [8, 'ecn'],
  [16, 'ecn_seen'],
  [32, 'syn_data'],
  [64, 'usec_ts'],
  [128, 'tfo_child'],
];

/** ss's (and pyroute2 ss2's) words for the tcpi_options bits, by record name. */
export const TCPI_OPTION_SS: Readonly<Record<string, string>> = {
  timestamps: 'ts',
  sack: 'sack',
  wscale: 'wscale',
  ecn: 'ecn',
  ecn_seen: 'ecnseen',
  syn_data: 'fastopen',
  usec_ts: 'usec_ts',
  tfo_child: 'tfo_child',
};

/** tcp_info fields the record leaves out: state (the record's state says it), options (decoded into `options`), fackets (0 since Linux 4.x). */
const TCP_INFO_LEFT_OUT = new Set(['state', 'options', 'fackets']);

/** What the record does with a tcp_info value: leave out a u64's ~0, min_rtt unset, wscale without the option. */
export type TcpInfoSpecial = 'none' | 'minRtt' | 'wscale';

/** The tcp_info members of a record, in order: the kernel field, its output name (unit in the name), its scale. */
export const TCP_INFO_MEMBERS: readonly { field: TcpInfoField; name: string; scale: number; special: TcpInfoSpecial }[] = TCP_INFO_FIELDS.filter(
  (field) => !TCP_INFO_LEFT_OUT.has(field.name),
).map((field) => ({
  field,
  ...unitName(field),
  // min_rtt's TCP_INFO_UNSET value means "no sample yet"; wscale is meaningless without TCPI_OPT_WSCALE
  special: field.name === 'min_rtt' ? 'minRtt' : field.name === 'snd_wscale' || field.name === 'rcv_wscale' ? 'wscale' : 'none',
}));

const nonzero: SsShow = { nonzero: true };
/** an integer word ss prints when it is not 0 (most of tcp_info's) */
const count = (name: string, rank: number): SsWord => ({ name, format: 'int', rank, line: 'next', show: nonzero });
/** a u64's ~0 ("unlimited") is not a rate */
const U64_SET = 0xffffffff * 2 ** 32;

/**
 * The tcp_info members' words in the table (ss 6.1's tcp_show_info), by kernel field name: ss's names, formats
 * and conditions; units come from TCP_INFO_FIELDS. Ranks interleave with the other -i members' (congestion,
 * dctcp, bbr).
 */
export const TCP_INFO_SS: Readonly<Record<string, SsWord | readonly SsWord[]>> = {
  options: { name: '', format: 'options', rank: 100, line: 'next', flags: ['timers', 'extended'], bits: ['timestamps', 'sack', 'ecn', 'ecn_seen', 'syn_data'] },
  snd_wscale: { name: 'wscale', format: 'int', rank: 120, line: 'next', show: { option: 'wscale' }, with: { field: 'rcv_wscale', sep: ',' } },
  rto: { name: 'rto', format: 'time', rank: 130, line: 'next', show: { nonzero: true, except: 3000000 } },
  backoff: count('backoff', 140),
  rtt: { name: 'rtt', format: 'time', rank: 150, line: 'next', show: nonzero, with: { field: 'rttvar', sep: '/' } },
  ato: { name: 'ato', format: 'time', rank: 160, line: 'next', show: nonzero },
  snd_mss: count('mss', 170),
  pmtu: count('pmtu', 180),
  rcv_mss: count('rcvmss', 190),
  advmss: count('advmss', 200),
  snd_cwnd: [count('cwnd', 210), { name: 'send', format: 'send', rank: 330, line: 'next' }],
  snd_ssthresh: { name: 'ssthresh', format: 'int', rank: 220, line: 'next', show: { nonzero: true, below: 0xffff } },
  bytes_sent: count('bytes_sent', 230),
  bytes_retrans: count('bytes_retrans', 240),
  bytes_acked: count('bytes_acked', 250),
  bytes_received: count('bytes_received', 260),
  segs_out: count('segs_out', 270),
  segs_in: count('segs_in', 280),
  data_segs_out: count('data_segs_out', 290),
  data_segs_in: count('data_segs_in', 300),
  last_data_sent: count('lastsnd', 340),
  last_data_recv: count('lastrcv', 350),
  last_ack_recv: count('lastack', 360),
  pacing_rate: {
    name: 'pacing_rate',
    format: 'rate',
    rank: 370,
    line: 'next',
    show: { nonzero: true, below: U64_SET },
    with: { field: 'max_pacing_rate', sep: '/', show: { nonzero: true, below: U64_SET } },
  },
  delivery_rate: { name: 'delivery_rate', format: 'rate', rank: 380, line: 'next', show: nonzero },
  delivered: count('delivered', 390),
  delivered_ce: count('delivered_ce', 400),
  delivery_rate_app_limited: { name: 'app_limited', format: 'flag', rank: 410, line: 'next' },
  busy_time: { name: 'busy', format: 'timeTrunc', rank: 420, line: 'next', show: nonzero },
  rwnd_limited: { name: 'rwnd_limited', format: 'limited', rank: 421, line: 'next', show: nonzero, of: 'busy_time' },
  sndbuf_limited: { name: 'sndbuf_limited', format: 'limited', rank: 422, line: 'next', show: nonzero, of: 'busy_time' },
  unacked: count('unacked', 430),
  retrans: { name: 'retrans', format: 'int', rank: 440, line: 'next', show: nonzero, with: { field: 'total_retrans', sep: '/', either: true } },
  lost: count('lost', 450),
  sacked: { name: 'sacked', format: 'int', rank: 460, line: 'next', show: { nonzero: true, connected: true } },
  dsack_dups: count('dsack_dups', 470),
  fackets: count('fackets', 480),
  reordering: { name: 'reordering', format: 'int', rank: 490, line: 'next', show: { except: 3 } },
  reord_seen: count('reord_seen', 500),
  rcv_rtt: { name: 'rcv_rtt', format: 'time', rank: 510, line: 'next', show: nonzero },
  rcv_space: count('rcv_space', 520),
  rcv_ssthresh: count('rcv_ssthresh', 530),
  notsent_bytes: count('notsent', 540),
  min_rtt: { name: 'minrtt', format: 'time', rank: 550, line: 'next', show: { nonzero: true, except: 0xffffffff } },
  rcv_ooopack: count('rcv_ooopack', 560),
  snd_wnd: count('snd_wnd', 570),
};
