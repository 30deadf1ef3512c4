import type { AgentConfig, RemoteWriteConfig, ScrapeConfig } from '@fleet/pipeline';

/**
 * JSON with object keys sorted at every level and `undefined` members left out, so two configs
 * that mean the same thing compare equal whatever order their fields were built in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** A destination as a config wants it. `fingerprint` changes whenever the running queue would differ. */
export interface DestinationSpec {
  config: RemoteWriteConfig;
  /** The global external labels the queue adds (a change of them changes every destination). */
  externalLabels: Record<string, string>;
  fingerprint: string;
}

/** A scrape job as a config wants it, identified by (instance, job). */
export interface JobSpec {
  key: string;
  instance: string;
  config: ScrapeConfig;
  /** Names of the destinations the job's instance writes to (sorted, unique). */
  destinations: string[];
  fingerprint: string;
}

/** Identifies a scrape job in results and logs. */
export interface JobRef {
  instance: string;
  job: string;
}

/** The key of a job in maps (instance and job names may contain any character). */
export function jobKey(instance: string, job: string): string {
  return JSON.stringify([instance, job]);
}

/** Every destination (by name) and scrape job (by instance and job name) a config asks for. */
export function desiredState(config: AgentConfig): { destinations: Map<string, DestinationSpec>; jobs: Map<string, JobSpec> } {
  const destinations = new Map<string, DestinationSpec>();
  const jobs = new Map<string, JobSpec>();
  const externalLabels = config.global.externalLabels;
  for (const inst of config.instances) {
    // Grafana Agent instances may share a destination (same name and URL): one queue, one WAL.
    for (const rw of inst.remoteWrite) {
      destinations.set(rw.name, { config: rw, externalLabels, fingerprint: canonicalJson({ remoteWrite: rw, externalLabels }) });
    }
    const names = [...new Set(inst.remoteWrite.map((rw) => rw.name))].sort();
    for (const job of inst.scrapeConfigs) {
      const key = jobKey(inst.name, job.jobName);
      jobs.set(key, { key, instance: inst.name, config: job, destinations: names, fingerprint: canonicalJson({ job, destinations: names }) });
    }
  }
  return { destinations, jobs };
}

/** How a wanted set of keyed items differs from the running one. */
export interface KeyedDiff {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

/** Compares running and wanted items by key and fingerprint. */
export function diffByFingerprint(running: ReadonlyMap<string, { fingerprint: string }>, wanted: ReadonlyMap<string, { fingerprint: string }>): KeyedDiff {
  const diff: KeyedDiff = { added: [], changed: [], removed: [], unchanged: [] };
  for (const [key, want] of wanted) {
    const have = running.get(key);
    if (!have) diff.added.push(key);
    else if (have.fingerprint === want.fingerprint) diff.unchanged.push(key);
    else diff.changed.push(key);
  }
  for (const key of running.keys()) if (!wanted.has(key)) diff.removed.push(key);
  return diff;
}

/** Destination names become WAL directories: refuse anything that is not one plain path segment. */
export function checkDestinationName(name: string): void {
  if (!/^[a-zA-Z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw new Error(`invalid destination name ${JSON.stringify(name)}: it names the WAL directory, so it must be letters, digits, _ . - and not "." or ".."`);
  }
}
