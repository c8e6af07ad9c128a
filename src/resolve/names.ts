/**
 * -r: names for addresses (ports are named by ss-words' serviceName). /etc/hosts is read once; reverse DNS asks with a
 * per-query timeout, bounded concurrency and one overall budget, so a dead resolver costs at most the budget,
 * never a hang. Answers (and failures) are cached for the run.
 */
import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';

export interface NameResolverOptions {
  /** per reverse query */
  timeoutMs?: number;
  /** for all reverse queries of one run */
  budgetMs?: number;
  concurrency?: number;
  hostsFile?: string;
  /** false: /etc/hosts only */
  dns?: boolean;
  /** DNS servers to ask instead of /etc/resolv.conf's (SOCKSCOPE_DNS_SERVERS=addr[,addr]) */
  servers?: string[];
}

export class NameResolver {
  private readonly names = new Map<string, string | null>();
  private hostsLoaded = false;
  /** queries abandoned because the budget ran out */
  skipped = 0;

  constructor(private readonly o: NameResolverOptions = {}) {}

  private loadHosts(): void {
    if (this.hostsLoaded) return;
    this.hostsLoaded = true;
    let text = '';
    try {
      text = readFileSync(this.o.hostsFile ?? '/etc/hosts', 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      const [address, name] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (address && name && !this.names.has(address)) this.names.set(address, name);
    }
  }

  /** Resolve every address (wildcards skipped) within the budget. */
  async resolveAll(addresses: Iterable<string>): Promise<void> {
    this.loadHosts();
    const todo = [...new Set(Array.from(addresses, unmapped))].filter((a) => a !== '' && a !== '0.0.0.0' && a !== '::' && !this.names.has(a));
    if (todo.length === 0 || this.o.dns === false) return;
    const resolver = new dns.Resolver({ timeout: this.o.timeoutMs ?? 500, tries: 1 });
    if (this.o.servers?.length) resolver.setServers(this.o.servers);
    const deadline = Date.now() + (this.o.budgetMs ?? 2000);
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const address = todo[next++];
        if (Date.now() >= deadline) {
          this.skipped++;
          continue;
        }
        const left = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), left)));
        const answer = await Promise.race([
          resolver.reverse(address).then(
            (n) => n[0] ?? null,
            () => null,
          ),
          timeout,
        ]);
        clearTimeout(timer);
        this.names.set(address, answer);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 16, todo.length) }, worker));
    resolver.cancel();
  }

  name(address: string): string | undefined {
    this.loadHosts();
    return this.names.get(unmapped(address)) ?? undefined;
  }
}

/** A v4-mapped IPv6 address (`::ffff:127.0.0.1`) is looked up as its IPv4 address, as glibc's getnameinfo does for ss. */
const unmapped = (address: string): string => (address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address);
