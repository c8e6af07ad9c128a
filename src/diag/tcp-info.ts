/**
 * struct tcp_info (linux/tcp.h), decoded by the length the kernel sent: a field that lies past that length is
 * absent (undefined), never 0; a longer struct from a newer kernel is accepted and its extra bytes ignored.
 * Names are the kernel's without the tcpi_ prefix; units are the kernel's (see UNITS). Offsets are x86_64 and
 * arm64 (the struct has no pointer-sized members).
 */
export type TcpInfoFieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'lo4' | 'hi4' | 'bit0' | 'bits1_2';

export interface TcpInfoField {
  readonly name: string;
  readonly offset: number;
  readonly kind: TcpInfoFieldKind;
  /** the kernel's unit, where the value has one (the rest are counts, flags, segments or byte sizes) */
  readonly unit?: TcpInfoUnit;
}

/** Units tcp_info values come in. Declared once here; every output converts from them at its edge. */
export type TcpInfoUnit = 'us' | 'ms' | 'bytes_per_second' | 'bytes';

const f = (name: string, offset: number, kind: TcpInfoFieldKind, unit?: TcpInfoUnit): TcpInfoField =>
  unit ? { name, offset, kind, unit } : { name, offset, kind };

export const TCP_INFO_FIELDS: readonly TcpInfoField[] = [
  f('state', 0, 'u8'),
  f('ca_state', 1, 'u8'),
  f('retransmits', 2, 'u8'),
  f('probes', 3, 'u8'),
  f('backoff', 4, 'u8'),
  f('options', 5, 'u8'),
  // __u8 tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;  (pyroute2 ss2 swapped these)
  f('snd_wscale', 6, 'lo4'),
  f('rcv_wscale', 6, 'hi4'),
  // __u8 tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2;
  f('delivery_rate_app_limited', 7, 'bit0'),
  f('fastopen_client_fail', 7, 'bits1_2'),
  f('rto', 8, 'u32', 'us'),
  f('ato', 12, 'u32', 'us'),
  f('snd_mss', 16, 'u32'),
  f('rcv_mss', 20, 'u32'),
  f('unacked', 24, 'u32'),
  f('sacked', 28, 'u32'),
  f('lost', 32, 'u32'),
  f('retrans', 36, 'u32'),
  f('fackets', 40, 'u32'),
  f('last_data_sent', 44, 'u32', 'ms'),
  f('last_ack_sent', 48, 'u32', 'ms'),
  f('last_data_recv', 52, 'u32', 'ms'),
  f('last_ack_recv', 56, 'u32', 'ms'),
  f('pmtu', 60, 'u32'),
  f('rcv_ssthresh', 64, 'u32'),
  f('rtt', 68, 'u32', 'us'),
  f('rttvar', 72, 'u32', 'us'),
  f('snd_ssthresh', 76, 'u32'),
  f('snd_cwnd', 80, 'u32'),
  f('advmss', 84, 'u32'),
  f('reordering', 88, 'u32'),
  f('rcv_rtt', 92, 'u32', 'us'),
  f('rcv_space', 96, 'u32'),
  f('total_retrans', 100, 'u32'),
  f('pacing_rate', 104, 'u64', 'bytes_per_second'),
  f('max_pacing_rate', 112, 'u64', 'bytes_per_second'), // 3.15
  f('bytes_acked', 120, 'u64', 'bytes'),
  f('bytes_received', 128, 'u64', 'bytes'), // 4.1
  f('segs_out', 136, 'u32'),
  f('segs_in', 140, 'u32'), // 4.2
  f('notsent_bytes', 144, 'u32', 'bytes'),
  f('min_rtt', 148, 'u32', 'us'),
  f('data_segs_in', 152, 'u32'),
  f('data_segs_out', 156, 'u32'), // 4.6
  f('delivery_rate', 160, 'u64', 'bytes_per_second'), // 4.9
  f('busy_time', 168, 'u64', 'us'),
  f('rwnd_limited', 176, 'u64', 'us'),
  f('sndbuf_limited', 184, 'u64', 'us'), // 4.10
  f('delivered', 192, 'u32'),
  f('delivered_ce', 196, 'u32'), // 4.18
  f('bytes_sent', 200, 'u64', 'bytes'),
  f('bytes_retrans', 208, 'u64', 'bytes'),
  f('dsack_dups', 216, 'u32'),
  f('reord_seen', 220, 'u32'), // 4.19
  f('rcv_ooopack', 224, 'u32'),
  f('snd_wnd', 228, 'u32'), // 5.4
  f('rcv_wnd', 232, 'u32'),
  f('rehash', 236, 'u32'), // 6.2
  f('total_rto', 240, 'u16'),
  f('total_rto_recoveries', 242, 'u16'),
  f('total_rto_time', 244, 'u32', 'ms'), // 6.7
  f('received_ce', 248, 'u32'),
  f('delivered_e1_bytes', 252, 'u32'),
  f('delivered_e0_bytes', 256, 'u32'),
  f('delivered_ce_bytes', 260, 'u32'),
  f('received_e1_bytes', 264, 'u32'),
  f('received_e0_bytes', 268, 'u32'),
  f('received_ce_bytes', 272, 'u32'), // 6.18
  // Bytes 276..279 are laid out differently by the 6.18 UAPI (u16 accecn_fail_mode, u16 accecn_opt_seen) and the
  // 7.0 UAPI (a u32 bitfield with ecn_mode, accecn_opt_seen, accecn_fail_mode, options2); the length alone cannot
  // tell them apart, so they are not decoded.
];

/**
 * Values the kernel uses for "not measured / not set" rather than a measurement: tcp_min_rtt() before the first
 * sample (~0U), and TCP_INFINITE_SSTHRESH. Outputs leave such a value out (ss does not print it either).
 */
export const TCP_INFO_UNSET: Readonly<Record<string, number>> = { min_rtt: 0xffffffff, snd_ssthresh: 0x7fffffff };

const BY_NAME = new Map(TCP_INFO_FIELDS.map((x) => [x.name, x]));
export const tcpInfoField = (name: string): TcpInfoField | undefined => BY_NAME.get(name);

/** Units of the fields that have one (the rest are counts, flags or byte sizes): TCP_INFO_FIELDS' units, by name. */
export const TCP_INFO_UNITS: Readonly<Record<string, TcpInfoUnit>> = Object.fromEntries(TCP_INFO_FIELDS.flatMap((x) => (x.unit ? [[x.name, x.unit]] : [])));

/**
 * How a field is published with its unit in its name (the socket record, socketstat): microseconds and
 * milliseconds keep the kernel's value and say it (`rtt_us`, `last_data_sent_ms`); rates are bytes per second in
 * the kernel and bits per second out (`pacing_rate_bps`, × 8); byte counts keep their names.
 */
export function unitName(field: TcpInfoField): { name: string; scale: number } {
  switch (field.unit) {
    case 'us':
      return { name: `${field.name}_us`, scale: 1 };
    case 'ms':
      return { name: `${field.name}_ms`, scale: 1 };
    case 'bytes_per_second':
      return { name: `${field.name}_bps`, scale: 8 };
    default:
      return { name: field.name, scale: 1 };
  }
}

/** A time unit's count per second: declared once; SECONDS_PER and MS_PER derive from it (divide by it for seconds). */
export const PER_SECOND = { us: 1e6, ms: 1e3 } as const;

/** Seconds per unit, for outputs that want base units (Prometheus): 1e-6 for us, 1e-3 for ms. */
export const SECONDS_PER: Readonly<Partial<Record<TcpInfoUnit, number>>> = { us: 1 / PER_SECOND.us, ms: 1 / PER_SECOND.ms };

/** A time unit's count per millisecond (ss and ss2 print milliseconds: value / MS_PER[unit]): 1000 for us, 1 for ms. */
export const MS_PER: Readonly<Record<keyof typeof PER_SECOND, number>> = { us: PER_SECOND.us / 1000, ms: PER_SECOND.ms / 1000 };

/** Bytes a field of each kind needs: the field is there when offset + size <= the length the kernel sent. */
export const TCP_INFO_KIND_SIZE: Readonly<Record<TcpInfoFieldKind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, lo4: 1, hi4: 1, bit0: 1, bits1_2: 1 };
const SIZE = TCP_INFO_KIND_SIZE;

/** Kinds as small integers, for the direct writers' loops (readTcpInfoAt). */
export const TCP_INFO_KIND_CODE: Readonly<Record<TcpInfoFieldKind, number>> = { u8: 0, u16: 1, u32: 2, u64: 3, lo4: 4, hi4: 5, bit0: 6, bits1_2: 7 };

/**
 * The field of kind `code` (TCP_INFO_KIND_CODE) at byte `at`, the caller having checked the length. u64 values
 * become numbers (exact below 2^53); ~0 (pacing "unlimited") is Infinity.
 */
export function readTcpInfoAt(view: DataView, at: number, code: number): number {
  switch (code) {
    case 0:
      return view.getUint8(at);
    case 1:
      return view.getUint16(at, true);
    case 2:
      return view.getUint32(at, true);
    case 3: {
      const lo = view.getUint32(at, true);
      const hi = view.getUint32(at + 4, true);
      if (hi === 0xffffffff && lo === 0xffffffff) return Infinity;
      return hi * 0x100000000 + lo;
    }
    case 4:
      return view.getUint8(at) & 0x0f;
    case 5:
      return view.getUint8(at) >> 4;
    case 6:
      return view.getUint8(at) & 1;
    default:
      return (view.getUint8(at) >> 1) & 3;
  }
}

/**
 * Read one field of a tcp_info payload at [offset, offset+length). Returns undefined when the kernel's struct
 * was too short to hold it. u64 values become numbers (exact below 2^53); ~0 (pacing "unlimited") is Infinity.
 */
export function readTcpInfoField(view: DataView, offset: number, length: number, field: TcpInfoField): number | undefined {
  if (field.offset + SIZE[field.kind] > length) return undefined;
  return readTcpInfoAt(view, offset + field.offset, TCP_INFO_KIND_CODE[field.kind]);
}

export type TcpInfo = Record<string, number>;

/** Decode every field the kernel sent. `length` is recorded by the caller; fields past it are simply absent. */
export function decodeTcpInfo(view: DataView, offset: number, length: number): TcpInfo {
  const out: TcpInfo = {};
  for (const field of TCP_INFO_FIELDS) {
    const value = readTcpInfoField(view, offset, length, field);
    if (value !== undefined) out[field.name] = value;
  }
  return out;
}
