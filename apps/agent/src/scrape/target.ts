import { labelsKey, relabel, sortLabels, type CompiledRelabel, type Label, type ScrapeConfig } from '@fleet/pipeline';
import { formatDuration } from '@fleet/pipeline';
import type { TargetGroup } from '../discovery/discovery.js';

/** A target to scrape: its final labels (no `__` labels) and URL. */
export interface Target {
  /** Sorted; include `job` and `instance`. */
  labels: Label[];
  url: URL;
  /** Identity of the target within its job (labels + URL). */
  key: string;
}

/** Why a discovered target was not turned into a scrape target. */
export interface DroppedTarget {
  address: string;
  reason: string;
}

/** What {@link buildTargets} yields. */
export interface BuiltTargets {
  /** Distinct targets, in discovery order. */
  targets: Target[];
  /** Dropped targets, at most `keep_dropped_targets` of them (0 = all). */
  dropped: DroppedTarget[];
  /** How many were dropped in all. */
  droppedCount: number;
}

/**
 * Builds targets the way Prometheus does (`PopulateLabels`): group labels, `__address__`,
 * defaults (`job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
 * `__scrape_timeout__`, `__param_*`), `relabel_configs`, default `instance`, then every `__*`
 * label removed. Targets that relabelling drops or that lack an address are reported as dropped:
 * all of them are counted, the first `keep_dropped_targets` (0 = all) are kept, as Prometheus.
 */
export function buildTargets(job: ScrapeConfig, groups: TargetGroup[], rules: CompiledRelabel[]): BuiltTargets {
  const targets: Target[] = [];
  const kept: DroppedTarget[] = [];
  let droppedCount = 0;
  const dropped = {
    push(d: DroppedTarget): void {
      droppedCount++;
      if (job.keepDroppedTargets === 0 || kept.length < job.keepDroppedTargets) kept.push(d);
    },
  };
  const seen = new Set<string>();
  for (const group of groups) {
    for (const address of group.targets) {
      const base = new Map<string, string>(Object.entries(group.labels));
      base.set('__address__', address);
      const defaults: Array<[string, string]> = [
        ['job', job.jobName],
        ['__scrape_interval__', formatDuration(job.scrapeIntervalMs)],
        ['__scrape_timeout__', formatDuration(job.scrapeTimeoutMs)],
        ['__metrics_path__', job.metricsPath],
        ['__scheme__', job.scheme],
      ];
      for (const [name, values] of Object.entries(job.params)) if (values[0] !== undefined) defaults.push([`__param_${name}`, values[0]]);
      for (const [k, v] of defaults) if (!base.has(k)) base.set(k, v);
      let labels: Label[] | null = sortLabels([...base].map(([name, value]) => ({ name, value })));
      if (rules.length) labels = relabel(labels, rules);
      if (!labels) {
        dropped.push({ address, reason: 'dropped by relabel_configs' });
        continue;
      }
      const get = (n: string) => labels!.find((l) => l.name === n)?.value ?? '';
      let addr = get('__address__');
      if (!addr) {
        dropped.push({ address, reason: 'no __address__ after relabelling' });
        continue;
      }
      const scheme = get('__scheme__') || job.scheme;
      if (!/^\[.*\](:\d+)?$|^[^:]+(:\d+)?$/.test(addr)) {
        dropped.push({ address, reason: `invalid __address__ ${JSON.stringify(addr)}` });
        continue;
      }
      if (!/:\d+$/.test(addr)) addr = `${addr}:${scheme === 'https' ? 443 : 80}`;
      const url = new URL(`${scheme}://${addr}${get('__metrics_path__') || job.metricsPath}`);
      for (const [name, values] of Object.entries(job.params)) for (const v of values) url.searchParams.append(name, v);
      for (const l of labels) {
        if (l.name.startsWith('__param_')) url.searchParams.set(l.name.slice(8), l.value);
      }
      const final = labels.filter((l) => !l.name.startsWith('__') && l.value !== '');
      if (!final.some((l) => l.name === 'instance')) final.push({ name: 'instance', value: addr });
      const sorted = sortLabels(final);
      const key = `${labelsKey(sorted)}|${url}`;
      if (seen.has(key)) continue;
      seen.add(key);
      targets.push({ labels: sorted, url, key });
    }
  }
  return { targets, dropped: kept, droppedCount };
}
