/**
 * State names and groups of ss's `state` / `exclude` clauses (misc/ss.c scan_state(), iproute2 6.1), as
 * idiag_states bits (1 << TCP_*). ss's SS_ALL is (1 << SS_MAX) - 1 = 0xfff, bits 0..11: the same as ALL_STATES.
 */
import {
  ALL_STATES,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_CLOSING,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_LAST_ACK,
  TCP_LISTEN,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
  TCP_TIME_WAIT,
} from '../diag/constants.js';

const bit = (state: number): number => 1 << state;

/** ss: connected = SS_ALL & ~(CLOSE | LISTEN) */
export const CONNECTED_STATES = ALL_STATES & ~(bit(TCP_CLOSE) | bit(TCP_LISTEN));

/**
 * Every name `state NAME` accepts, lower case (ss compares with strcasecmp). `listen` is sockscope's addition;
 * the rest are ss's words.
 */
export const STATE_NAMES: ReadonlyMap<string, number> = new Map([
  ['established', bit(TCP_ESTABLISHED)],
  ['syn-sent', bit(TCP_SYN_SENT)],
  ['syn-recv', bit(TCP_SYN_RECV)],
  ['syn-rcv', bit(TCP_SYN_RECV)],
  ['fin-wait-1', bit(TCP_FIN_WAIT1)],
  ['fin-wait-2', bit(TCP_FIN_WAIT2)],
  ['time-wait', bit(TCP_TIME_WAIT)],
  ['closed', bit(TCP_CLOSE)],
  ['close', bit(TCP_CLOSE)],
  ['unconnected', bit(TCP_CLOSE)],
  ['close-wait', bit(TCP_CLOSE_WAIT)],
  ['last-ack', bit(TCP_LAST_ACK)],
  ['listening', bit(TCP_LISTEN)],
  ['listen', bit(TCP_LISTEN)],
  ['closing', bit(TCP_CLOSING)],
  // groups
  ['all', ALL_STATES],
  ['connected', CONNECTED_STATES],
  ['synchronized', CONNECTED_STATES & ~bit(TCP_SYN_SENT)],
  ['bucket', bit(TCP_SYN_RECV) | bit(TCP_TIME_WAIT)],
  ['big', ALL_STATES & ~(bit(TCP_SYN_RECV) | bit(TCP_TIME_WAIT))],
]);

/** The mask a state name stands for, or undefined. */
export function stateMask(name: string): number | undefined {
  return STATE_NAMES.get(name.toLowerCase());
}

/** For error messages: the single states, then the groups. */
export const STATE_NAME_LIST =
  'established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, connected, synchronized, bucket, big';
