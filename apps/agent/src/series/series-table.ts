import { labelsKey, type Label, type Labels } from '@fleet/pipeline';

/** A series known to the agent: a small integer id and its sorted, validated labels. */
export interface SeriesEntry {
  readonly ref: number;
  readonly labels: readonly Label[];
  /** Last time (ms, wall clock) a sample of this series was appended; used to forget old series. */
  lastAppendMs: number;
}

/**
 * The agent-wide table of series ids. Ids are assigned on first sight and never reused while
 * the process runs; after a restart the WAL replay re-registers the ids it finds (`restore`).
 */
export class SeriesTable {
  private readonly byKey = new Map<string, SeriesEntry>();
  private readonly byRef = new Map<number, SeriesEntry>();
  /** Label names and values are interned: 100k series share a few thousand distinct strings. */
  private readonly strings = new Map<string, string>();
  private nextRef = 1;

  private intern(s: string): string {
    let v = this.strings.get(s);
    if (v === undefined) {
      v = s;
      this.strings.set(v, v);
    }
    return v;
  }

  private internLabels(labels: Labels): Label[] {
    return labels.map((l) => ({ name: this.intern(l.name), value: this.intern(l.value) }));
  }

  /** The entry for a sorted label set, created if new. */
  getOrCreate(labels: readonly Label[], nowMs: number): SeriesEntry {
    const key = labelsKey(labels);
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { ref: this.nextRef++, labels: this.internLabels(labels), lastAppendMs: nowMs };
      this.byKey.set(key, entry);
      this.byRef.set(entry.ref, entry);
    }
    return entry;
  }

  /** Re-registers a series read back from the WAL under its old id. */
  restore(ref: number, labels: Labels): SeriesEntry {
    const existing = this.byRef.get(ref);
    if (existing) return existing;
    const key = labelsKey(labels);
    const byLabels = this.byKey.get(key);
    const entry: SeriesEntry = byLabels ?? { ref, labels: this.internLabels(labels), lastAppendMs: 0 };
    this.byRef.set(ref, entry);
    if (!byLabels) this.byKey.set(key, entry);
    if (ref >= this.nextRef) this.nextRef = ref + 1;
    return entry;
  }

  get(ref: number): SeriesEntry | undefined {
    return this.byRef.get(ref);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Forgets series with no sample since `cutoffMs` (their ids are not reused). */
  forgetOlderThan(cutoffMs: number, keep: (ref: number) => boolean = () => false): number {
    let n = 0;
    for (const [key, e] of this.byKey) {
      if (e.lastAppendMs < cutoffMs && !keep(e.ref)) {
        this.byKey.delete(key);
        this.byRef.delete(e.ref);
        n++;
      }
    }
    if (n > 0) {
      // Drop interned strings only the forgotten series used.
      this.strings.clear();
      for (const e of this.byKey.values()) for (const l of e.labels) this.strings.set(l.name, l.name).set(l.value, l.value);
    }
    return n;
  }
}
