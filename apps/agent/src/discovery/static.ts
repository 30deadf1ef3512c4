import type { StaticConfig } from '@fleet/pipeline';
import type { Discoverer, TargetGroup } from './discovery.js';

/** `static_configs`: the targets written in the config. */
export class StaticDiscoverer implements Discoverer {
  constructor(private readonly configs: StaticConfig[]) {}

  start(onUpdate: (groups: TargetGroup[]) => void): void {
    onUpdate(this.configs.map((c, i) => ({ source: `static:${i}`, targets: c.targets, labels: c.labels })));
  }

  stop(): void {}
}
