/**
 * Interface names by index as the calling thread's network namespace has them: an RTM_GETLINK dump over
 * NETLINK_ROUTE, as ss (iproute2's ll_init_map) asks. /sys/class/net is the sysfs this process mounted — the
 * host's after `ls -N`'s setns() or in a namespace walker thread — so it is only the fallback, when the FFI is not
 * loaded or the dump fails.
 */
import { loadedLibc } from '../sys/libc.js';
import { sysfsInterfaceNames } from '../util/net.js';
import { findAttribute } from './attributes.js';
import { encodeRequest, MessageIterator, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR } from './message.js';

const NETLINK_ROUTE = 0;
const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
/** struct ifinfomsg: family, pad, type, index (s32), flags, change */
const IFINFOMSG_LEN = 16;
const IFLA_IFNAME = 3;

/** ifindex → name from one RTM_GETLINK dump in the calling thread's namespace; undefined when it cannot be had. */
export function rtnetlinkLinkNames(): Map<number, string> | undefined {
  const libc = loadedLibc();
  if (!libc) return undefined;
  let fd = -1;
  try {
    fd = libc.openNetlink(NETLINK_ROUTE, { timeoutMs: 2000 });
    libc.sendToKernel(fd, encodeRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, new Uint8Array(IFINFOMSG_LEN)));
    const names = new Map<number, string>();
    const buf = new Uint8Array(1 << 16);
    const view = new DataView(buf.buffer);
    const text = new TextDecoder();
    const it = new MessageIterator(view, 0, 0);
    for (;;) {
      it.reset(view, 0, libc.recv(fd, buf));
      while (it.next()) {
        if (it.type === NLMSG_DONE) return names;
        if (it.type === NLMSG_ERROR) return undefined;
        if (it.type !== RTM_NEWLINK || it.payloadLength < IFINFOMSG_LEN) continue;
        const index = view.getInt32(it.payload + 4, true);
        const name = findAttribute(view, it.payload + IFINFOMSG_LEN, it.offset + it.length, IFLA_IFNAME);
        if (!name) continue;
        const [at, len] = name;
        const nul = buf.indexOf(0, at);
        names.set(index, text.decode(buf.subarray(at, nul >= at && nul < at + len ? nul : at + len)));
      }
      if (it.error !== undefined) return undefined;
    }
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) libc.close(fd);
  }
}

/**
 * Interface name → ifindex in the calling thread's namespace, as ss's filters resolve `dev NAME` (iproute2's
 * ll_name_to_index over the same RTM_GETLINK dump), read on first use; /sys/class/net when rtnetlink cannot be had.
 */
export function interfaceIndexes(sysfs: (name: string) => number | undefined): (name: string) => number | undefined {
  let lookup: ((name: string) => number | undefined) | undefined;
  return (name) => {
    if (!lookup) {
      const names = rtnetlinkLinkNames();
      const indexes = names ? new Map([...names].map(([index, n]) => [n, index])) : undefined;
      lookup = indexes ? (n) => indexes.get(n) : sysfs;
    }
    return lookup(name);
  };
}

/**
 * ifindex → interface name, read on first use (only sockets bound to a device need it) in the namespace the
 * calling thread is in then: rtnetlink, /sys/class/net when that cannot be had.
 */
export function interfaceNames(): (ifindex: number) => string | undefined {
  let lookup: ((ifindex: number) => string | undefined) | undefined;
  return (ifindex) => {
    if (!lookup) {
      const names = rtnetlinkLinkNames();
      lookup = names ? (i) => names.get(i) : sysfsInterfaceNames();
    }
    return lookup(ifindex);
  };
}
