import { promises as dns } from 'node:dns';
import type { DnsSdConfig } from '@fleet/pipeline';
import type { Discoverer, DiscoveryDeps, TargetGroup } from './discovery.js';

type Resolver = InstanceType<typeof dns.Resolver>;

/** One discovered address with the labels Prometheus gives it. */
interface DnsTarget {
  address: string;
  srvTarget: string;
  srvPort: string;
  mxTarget: string;
  nsTarget: string;
}

/** The outcome of looking one name up. */
type Lookup = { ok: true; targets: DnsTarget[]; nxdomain: boolean } | { ok: false; reason: string };

/** Go's `net.JoinHostPort`: brackets hosts that contain a colon (IPv6). */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** c-ares drops the root dot; Go's resolver (whose names Prometheus puts in labels) keeps it. */
const rooted = (name: string): string => (name.endsWith('.') ? name : `${name}.`);
const unrooted = (name: string): string => name.replace(/\.+$/, '');

const EMPTY = { srvTarget: '', srvPort: '', mxTarget: '', nsTarget: '' };

/**
 * `dns_sd_configs`: looks every name up (types A, AAAA, SRV, MX, NS) each `refresh_interval`,
 * as Prometheus does:
 *
 * - A/AAAA targets are `ip:port` (IPv6 bracketed); SRV targets `target:port` from the record;
 *   MX and NS targets `host:port` with the configured port (the record's trailing dot trimmed).
 * - Every target carries `__meta_dns_name`, `__meta_dns_srv_record_target`,
 *   `__meta_dns_srv_record_port`, `__meta_dns_mx_record_target` and
 *   `__meta_dns_ns_record_target` (empty when not applicable; record targets keep the root dot).
 * - A name that does not exist (NXDOMAIN) has no targets any more; a name whose lookup fails
 *   otherwise (SERVFAIL, REFUSED, timeout) keeps its last good targets. Both go to `onError`.
 *
 * Servers: `FLEET_DNS_SERVERS` in the environment, comma-separated `host`, `host:port`,
 * `[v6]` or `[v6]:port` (e.g. `10.0.0.2:53,[fd00::2]:5353`); unset, the system's resolv.conf
 * (with its search domains). A malformed list is reported and nothing is looked up (no
 * silent fallback to other servers). CNAMEs are followed by the resolver.
 *
 * Groups: all targets of a name share `source` = the name. A/AAAA targets of one name form one
 * group; SRV/MX/NS records carry their own labels, and since a {@link TargetGroup}'s labels are
 * per group, each such record is its own group (same `source`).
 */
export class DnsDiscoverer implements Discoverer {
  private readonly resolver: Resolver;
  private readonly serverError: string | null = null;
  private readonly lastGood = new Map<string, TargetGroup[]>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastEmitted: string | null = null;

  constructor(
    private readonly config: DnsSdConfig,
    private readonly deps: DiscoveryDeps,
  ) {
    this.resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
    const servers = (deps.env.FLEET_DNS_SERVERS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (servers.length) {
      try {
        this.resolver.setServers(servers);
      } catch (err) {
        this.serverError = `FLEET_DNS_SERVERS ${JSON.stringify(deps.env.FLEET_DNS_SERVERS)}: ${(err as Error).message}; no lookups until it is fixed`;
      }
    }
  }

  /** Whether the last round reported an error (the next good one then updates, clearing it). */
  private failedLastRound = false;

  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void {
    if (this.serverError) {
      // An explicit but broken server list must not fall back to other servers silently.
      onUpdate([]);
      onError(`dns_sd: ${this.serverError}`);
      return;
    }
    const refresh = async (): Promise<void> => {
      const results = await Promise.all(this.config.names.map(async (name) => [name, await this.lookup(name)] as const));
      if (this.stopped) return;
      // Errors go out after this round's update: an update clears a job's last discovery error.
      const errors: string[] = [];
      for (const [name, result] of results) {
        if (result.ok) {
          this.lastGood.set(name, this.groups(name, result.targets));
          if (result.nxdomain) errors.push(`dns_sd ${this.config.type} ${name}: no such name (NXDOMAIN); its targets are removed`);
        } else {
          errors.push(`dns_sd ${this.config.type} ${name}: ${result.reason}${this.lastGood.has(name) ? '; keeping its last targets' : ''}`);
        }
      }
      // Config order, whatever order the answers came in.
      const groups = this.config.names.flatMap((n) => this.lastGood.get(n) ?? []);
      const key = JSON.stringify(groups);
      if (key !== this.lastEmitted || this.failedLastRound) {
        this.lastEmitted = key;
        onUpdate(groups);
      }
      this.failedLastRound = errors.length > 0;
      for (const message of errors) onError(message);
    };
    const loop = (): void => {
      refresh()
        .catch((err: unknown) => onError(`dns_sd: ${(err as Error).message}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.config.refreshIntervalMs);
        });
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.resolver.cancel();
  }

  private groups(name: string, targets: DnsTarget[]): TargetGroup[] {
    const labels = (t: DnsTarget): Record<string, string> => ({
      __meta_dns_name: name,
      __meta_dns_srv_record_target: t.srvTarget,
      __meta_dns_srv_record_port: t.srvPort,
      __meta_dns_mx_record_target: t.mxTarget,
      __meta_dns_ns_record_target: t.nsTarget,
    });
    if (this.config.type === 'A' || this.config.type === 'AAAA') {
      return targets.length ? [{ source: name, targets: targets.map((t) => t.address), labels: labels({ address: '', ...EMPTY }) }] : [];
    }
    return targets.map((t) => ({ source: name, targets: [t.address], labels: labels(t) }));
  }

  private async lookup(name: string): Promise<Lookup> {
    const port = this.config.port;
    try {
      let targets: DnsTarget[];
      switch (this.config.type) {
        case 'A':
          targets = (await this.resolver.resolve4(name)).map((ip) => ({ address: joinHostPort(ip, port), ...EMPTY }));
          break;
        case 'AAAA':
          targets = (await this.resolver.resolve6(name)).map((ip) => ({ address: joinHostPort(ip, port), ...EMPTY }));
          break;
        case 'SRV':
          targets = (await this.resolver.resolveSrv(name)).map((r) => ({
            ...EMPTY,
            address: joinHostPort(unrooted(r.name), r.port),
            srvTarget: rooted(r.name),
            srvPort: String(r.port),
          }));
          break;
        case 'MX':
          targets = (await this.resolver.resolveMx(name)).map((r) => ({ ...EMPTY, address: joinHostPort(unrooted(r.exchange), port), mxTarget: rooted(r.exchange) }));
          break;
        case 'NS':
          targets = (await this.resolver.resolveNs(name)).map((ns) => ({ ...EMPTY, address: joinHostPort(unrooted(ns), port), nsTarget: rooted(ns) }));
          break;
      }
      return { ok: true, targets, nxdomain: false };
    } catch (err) {
      const code = (err as { code?: string }).code;
      // NODATA: the name exists without records of this type (Prometheus: an empty group).
      if (code === dns.NODATA) return { ok: true, targets: [], nxdomain: false };
      // NXDOMAIN is authoritative: the name has no records (Prometheus: an empty group).
      if (code === dns.NOTFOUND) return { ok: true, targets: [], nxdomain: true };
      if (code === dns.CANCELLED) return { ok: false, reason: 'lookup cancelled' };
      this.deps.log('warn', 'dns_sd lookup failed', { name, type: this.config.type, code });
      return { ok: false, reason: describe(code, err as Error) };
    }
  }
}

function describe(code: string | undefined, err: Error): string {
  switch (code) {
    case dns.SERVFAIL:
      return 'the server failed (SERVFAIL)';
    case dns.REFUSED:
      return 'the server refused the query (REFUSED)';
    case dns.TIMEOUT:
      return 'no answer from any server (timeout)';
    case dns.CONNREFUSED:
      return 'could not contact the DNS servers (connection refused)';
    default:
      return `lookup failed: ${code ?? err.message}`;
  }
}
