import type { ScrapeConfig } from '@fleet/pipeline';
import type { Discoverer, DiscoveryDeps } from './discovery.js';
import { FileDiscoverer } from './file-sd.js';
import { StaticDiscoverer } from './static.js';

/** Every discoverer a scrape job's config asks for, in config order (static first). */
export function createDiscoverers(config: ScrapeConfig, deps: DiscoveryDeps): Discoverer[] {
  void deps;
  return [
    ...(config.staticConfigs.length ? [new StaticDiscoverer(config.staticConfigs)] : []),
    ...config.fileSdConfigs.map((f) => new FileDiscoverer(f)),
  ];
}
