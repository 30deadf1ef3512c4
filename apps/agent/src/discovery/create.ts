import type { ScrapeConfig } from '@fleet/pipeline';
import { ConsulDiscoverer } from './consul-sd.js';
import type { Discoverer, DiscoveryDeps } from './discovery.js';
import { DnsDiscoverer } from './dns-sd.js';
import { Ec2Discoverer } from './ec2-sd.js';
import { FileDiscoverer } from './file-sd.js';
import { HttpDiscoverer } from './http-sd.js';
import { KubernetesDiscoverer } from './kubernetes/kubernetes-sd.js';
import { StaticDiscoverer } from './static.js';

/** A discoverer with the mechanism it runs, for status and heartbeats (`kubernetes`, `ec2`, …). */
export interface NamedDiscoverer {
  mechanism: 'static' | 'file' | 'kubernetes' | 'ec2' | 'dns' | 'http' | 'consul';
  discoverer: Discoverer;
}

/** A discoverer whose construction failed (e.g. an unreadable tls_config file): it only reports why. */
class FailedDiscoverer implements Discoverer {
  constructor(private readonly message: string) {}
  start(onUpdate: (groups: []) => void, onError: (message: string) => void): void {
    onUpdate([]);
    onError(this.message);
  }
  stop(): void {}
}

function build(mechanism: NamedDiscoverer['mechanism'], make: () => Discoverer): NamedDiscoverer {
  try {
    return { mechanism, discoverer: make() };
  } catch (err) {
    return { mechanism, discoverer: new FailedDiscoverer(`${mechanism}_sd: ${(err as Error).message}`) };
  }
}

/** Every discoverer a scrape job's config asks for, in config order (static first). */
export function createDiscoverers(config: ScrapeConfig, deps: DiscoveryDeps): NamedDiscoverer[] {
  return [
    ...(config.staticConfigs.length ? [build('static', () => new StaticDiscoverer(config.staticConfigs))] : []),
    ...config.fileSdConfigs.map((c) => build('file', () => new FileDiscoverer(c))),
    ...config.kubernetesSdConfigs.map((c) => build('kubernetes', () => new KubernetesDiscoverer(c, deps))),
    ...config.ec2SdConfigs.map((c) => build('ec2', () => new Ec2Discoverer(c, deps))),
    ...config.dnsSdConfigs.map((c) => build('dns', () => new DnsDiscoverer(c, deps))),
    ...config.httpSdConfigs.map((c) => build('http', () => new HttpDiscoverer(c, deps))),
    ...config.consulSdConfigs.map((c) => build('consul', () => new ConsulDiscoverer(c, deps))),
  ];
}
