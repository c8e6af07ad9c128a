/**
 * The packet and netlink sockets of the families tests, made by a python3 script (Node makes neither): AF_PACKET
 * raw and dgram, bound and not, with SO_ATTACH_FILTER programs that queue nothing (Recv-Q stays 0 whatever
 * crosses lo), a fanout group and an rx ring; AF_NETLINK bound, autobound, joined to a group and connected. It
 * prints one JSON line ({pid, packet: [fds]}) when they exist and holds them until its stdin closes. Used by
 * test/integration/families-vs-ss.test.ts and scripts/record-family-fixtures.mjs.
 */
/** The classic BPF programs the maker attaches (struct sock_filter: code, jt, jf, k): both queue nothing. */
export const IP_THEN_DROP = [
  [0x28, 0, 0, 12],
  [0x15, 0, 1, 0x800],
  [0x06, 0, 0, 0],
  [0x06, 0, 0, 0],
];
export const DROP = [[0x06, 0, 0, 0]];

export const FAMILY_MAKER = String.raw`
import ctypes, json, os, socket, struct, sys
SOL_PACKET, PACKET_FANOUT, PACKET_RX_RING, SO_ATTACH_FILTER = 263, 18, 5, 26
keep = []
def attach(s, prog):
    buf = ctypes.create_string_buffer(b''.join(struct.pack('HBBI', *i) for i in prog))
    keep.append(buf)
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack('HL', len(prog), ctypes.addressof(buf)))
# every socket that receives has a program that queues nothing: Recv-Q stays 0 whatever crosses lo
a = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
attach(a, ${JSON.stringify(IP_THEN_DROP)})
a.setsockopt(SOL_PACKET, PACKET_FANOUT, 7 | (1 << 16))
b = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
b.bind(('lo', 0))
c = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
attach(c, ${JSON.stringify(DROP)})
c.bind(('lo', 3))
c.setsockopt(SOL_PACKET, PACKET_RX_RING, struct.pack('IIII', 4096, 1, 2048, 2))
d = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86dd))
attach(d, ${JSON.stringify(DROP)})
n1 = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); n1.bind((0, 0))
n2 = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 16); n2.bind((0, 0))
n3 = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 15); n3.bind((0, 1))
n4 = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); n4.connect((0, 0))
print(json.dumps({'pid': os.getpid(), 'packet': [s.fileno() for s in (a, b, c, d)]}), flush=True)
sys.stdin.read()
`;
