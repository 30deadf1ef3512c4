import { isStaleNaNAt, writeStaleNaN } from '../series/stale.js';
import { allocColumns, type SampleColumns } from '../wal/format.js';

/**
 * Staleness across the restart of a changed scrape job, as Prometheus does on reload (where the
 * new scrape loop inherits the old one's series cache): series the new job keeps producing get
 * no staleness marker (no false end-of-series), series it no longer produces (a target gone, a
 * metric dropped by the new relabelling, a failing target) do.
 *
 * The old job stops with `stale: true`; its end-of-run markers are {@link hold}-ed here instead of
 * being written. The new job's appends are {@link observe}d until it has scraped every target
 * once (or a deadline passes); {@link release} then yields the held markers minus the series the
 * new job produced, per destination, keeping their original timestamps. Destinations the new job
 * no longer writes to get every marker.
 */
export class StaleHandoff {
  private refs: number[] = [];
  private timestamps: number[] = [];
  private readonly continued = new Set<number>();
  private released = false;

  /**
   * @param from destinations the old job wrote to
   * @param to destinations the new job writes to
   */
  constructor(
    readonly from: readonly string[],
    readonly to: ReadonlySet<string>,
  ) {}

  /** True when every sample is a staleness marker: what a loop writes when it stops. */
  static onlyStale(columns: SampleColumns): boolean {
    const view = new DataView(columns.valueBits.buffer, columns.valueBits.byteOffset, columns.valueBits.byteLength);
    for (let i = 0; i < columns.count; i++) if (!isStaleNaNAt(view, i * 8)) return false;
    return columns.count > 0;
  }

  /** Keeps a copy of the old job's end-of-run markers. */
  hold(columns: SampleColumns): void {
    for (let i = 0; i < columns.count; i++) {
      this.refs.push(columns.refs[i]!);
      this.timestamps.push(columns.timestamps[i]!);
    }
  }

  /** Markers held so far. */
  get held(): number {
    return this.refs.length;
  }

  /** Notes the series the new job appends (until {@link release}). */
  observe(columns: SampleColumns): void {
    if (this.released) return;
    for (let i = 0; i < columns.count; i++) this.continued.add(columns.refs[i]!);
  }

  /** Ends the handoff: the markers still due, per destination (empty columns are left out). */
  release(): Array<{ destination: string; columns: SampleColumns }> {
    if (this.released) return [];
    this.released = true;
    const out: Array<{ destination: string; columns: SampleColumns }> = [];
    for (const destination of this.from) {
      const keepAll = !this.to.has(destination);
      const columns = allocColumns(Math.max(1, this.refs.length));
      for (let i = 0; i < this.refs.length; i++) {
        const ref = this.refs[i]!;
        if (!keepAll && this.continued.has(ref)) continue;
        const j = columns.count++;
        columns.refs[j] = ref;
        columns.timestamps[j] = this.timestamps[i]!;
        writeStaleNaN(columns.valueView, j * 8);
      }
      if (columns.count) out.push({ destination, columns });
    }
    this.refs = [];
    this.timestamps = [];
    this.continued.clear();
    return out;
  }
}
