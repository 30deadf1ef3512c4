/** A group of targets sharing labels, as in Prometheus service discovery. */
export interface TargetGroup {
  /** Identifies the group within its discoverer (e.g. `file.json:0`, `pod/monitoring/node-exporter-x2`). */
  source: string;
  targets: string[];
  labels: Record<string, string>;
}

/**
 * A source of target groups for one scrape job. `start` calls `onUpdate` with the full current
 * list whenever it changes (and once at start); errors are reported via `onError` and the last
 * good list stays in effect. A discoverer never throws out of `start` or its timers.
 */
export interface Discoverer {
  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void;
  stop(): void;
}

/** What every discoverer may use besides its own config block. */
export interface DiscoveryDeps {
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** The process environment (injectable for tests): AWS_*, KUBERNETES_*, proxies, FLEET_DNS_SERVERS. */
  env: NodeJS.ProcessEnv;
}
