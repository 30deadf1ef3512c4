/** A group of targets sharing labels, as in Prometheus service discovery. */
export interface TargetGroup {
  /** Identifies the group within its discoverer (e.g. `file.json:0`). */
  source: string;
  targets: string[];
  labels: Record<string, string>;
}

/**
 * A source of target groups for one scrape job. `start` calls `onUpdate` with the full current
 * list whenever it changes (and once at start); errors are reported via `onError` and the last
 * good list stays in effect.
 */
export interface Discoverer {
  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void;
  stop(): void;
}
