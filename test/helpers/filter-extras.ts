/**
 * A few more sockets for the filter tests, beside the population (population-holder.ts) in the same
 * namespace: the ones Node cannot make and the population has no need for, but that make `dev`, `fwmark`,
 * `autobound` and service names select something.
 *
 *   devListener   TCP 127.0.0.1:(kernel's pick), SO_BINDTODEVICE lo            dev lo / dev 1
 *   devUdp        UDP [::1]:(kernel's pick), SO_BINDTODEVICE lo
 *   markListener  TCP 127.0.0.1:(kernel's pick), SO_MARK 0x2a                   fwmark = 0x2a
 *   explicitEphemeral TCP 127.0.0.1:PORT with PORT chosen inside ip_local_port_range: the kernel's AUTO says
 *                 no (bound explicitly), ss's user-space autobound says yes, so `autobound` leaves it out
 *   http          TCP 127.0.0.1:80 bound explicitly, one client connected       sport = :http, not autobound
 *   domainUdp     UDP 127.0.0.1:53 bound explicitly                             sport = :domain (-u)
 *
 * python3 in the namespace (nsenter), dying with this process (PR_SET_PDEATHSIG, stdin EOF).
 */
import { holdPython, type PopulationNetns } from './netns.js';

export interface Extras {
  pid: number;
  devListener: number;
  devUdp: number;
  markListener: number;
  explicitEphemeral: number;
  http: number;
  httpClient: number;
  domainUdp: number;
}

const PYTHON = String.raw`
import ctypes, json, os, socket, sys
ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG = SIGKILL
SO_BINDTODEVICE, SO_MARK = 25, 36
keep = []
def port(s): return s.getsockname()[1]
out = {'pid': os.getpid()}

d = socket.socket(socket.AF_INET, socket.SOCK_STREAM); d.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b'lo')
d.bind(('127.0.0.1', 0)); d.listen(1); keep.append(d); out['devListener'] = port(d)

u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, b'lo')
u.bind(('::1', 0)); keep.append(u); out['devUdp'] = port(u)

m = socket.socket(socket.AF_INET, socket.SOCK_STREAM); m.setsockopt(socket.SOL_SOCKET, SO_MARK, 0x2a)
m.bind(('127.0.0.1', 0)); m.listen(1); keep.append(m); out['markListener'] = port(m)

low, high = map(int, open('/proc/sys/net/ipv4/ip_local_port_range').read().split())
e = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
for p in range((low + high) // 2, high):
    try:
        e.bind(('127.0.0.1', p)); break
    except OSError:
        continue
e.listen(1); keep.append(e); out['explicitEphemeral'] = port(e)

h = socket.socket(socket.AF_INET, socket.SOCK_STREAM); h.bind(('127.0.0.1', 80)); h.listen(4); keep.append(h)
c = socket.create_connection(('127.0.0.1', 80)); keep.append(c)
out['http'] = 80; out['httpClient'] = port(c)

n = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); n.bind(('127.0.0.1', 53)); keep.append(n); out['domainUdp'] = 53

sys.stdout.write(json.dumps(out) + '\n'); sys.stdout.flush()
sys.stdin.buffer.read()
`;

export async function startExtras(ns: PopulationNetns, timeoutMs = 10_000): Promise<{ extras: Extras; stop: () => Promise<void> }> {
  const { line, stop } = await holdPython(ns, PYTHON, 'the extra sockets', timeoutMs);
  return { extras: JSON.parse(line) as Extras, stop };
}
