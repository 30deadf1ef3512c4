import type { SampleColumns } from '../wal/format.js';

/**
 * Where a scrape's samples go: every WAL of the destinations its job writes to (each WAL adds
 * the SERIES records it lacks, from the agent's series table). Resolves when the samples are in
 * the WALs; the columns may be reused afterwards.
 */
export interface Appender {
  append(columns: SampleColumns): Promise<void>;
}
