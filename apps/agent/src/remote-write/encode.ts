/**
 * Protobuf encoding of Prometheus remote-write 1.0 `WriteRequest`s, by hand: the agent encodes
 * every sample it sends, and caching each series' encoded labels (they never change) makes the
 * per-sample cost a memcpy plus 20 bytes. Wire format (prometheus/prompb/remote.proto, types.proto):
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 */
import type { Label } from '@fleet/pipeline';
import { writeStaleNaN } from '../series/stale.js';


function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** int64 as protobuf varint (two's complement for negatives → 10 bytes). */
function writeInt64(buf: Uint8Array, pos: number, n: number): number {
  if (n >= 0) return writeVarint(buf, pos, n);
  let big = BigInt.asUintN(64, BigInt(n));
  while (big >= 128n) {
    buf[pos++] = Number(big & 0x7fn) | 0x80;
    big >>= 7n;
  }
  buf[pos++] = Number(big);
  return pos;
}

function int64Size(n: number): number {
  return n >= 0 ? varintSize(n) : 10;
}

/**
 * The encoded `labels` fields of a TimeSeries (field 1, repeated). Labels must already be sorted,
 * unique and non-empty: the remote-write spec requires it. Encoded in place (no temporaries).
 */
export function encodeLabels(labels: readonly Label[]): Uint8Array {
  let total = 0;
  const sizes: number[] = [];
  for (const l of labels) {
    const n = Buffer.byteLength(l.name);
    const v = Buffer.byteLength(l.value);
    const inner = 1 + varintSize(n) + n + 1 + varintSize(v) + v;
    sizes.push(n, v, inner);
    total += 1 + varintSize(inner) + inner;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  labels.forEach((l, i) => {
    const [n, v, inner] = [sizes[i * 3]!, sizes[i * 3 + 1]!, sizes[i * 3 + 2]!];
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, inner);
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, n);
    pos += out.write(l.name, pos, 'utf8');
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, v);
    pos += out.write(l.value, pos, 'utf8');
  });
  return out;
}

/** Samples of a batch, as parallel arrays (no object per sample on the hot path). */
export interface SampleBatch {
  count: number;
  /** Encoded labels per sample (see {@link encodeLabels}), shared between samples of a series. */
  labels: Uint8Array[];
  timestamps: Float64Array;
  values: Float64Array;
  /** 1 where the sample is a staleness marker (its value is ignored). */
  stale: Uint8Array;
}

/** Encodes a WriteRequest with one TimeSeries per sample (as Prometheus does). */
export function encodeWriteRequest(batch: SampleBatch): Uint8Array {
  let total = 0;
  const sampleSizes = new Uint16Array(batch.count);
  for (let i = 0; i < batch.count; i++) {
    const sample = 1 + 8 + 1 + int64Size(batch.timestamps[i]!);
    const series = batch.labels[i]!.length + 1 + varintSize(sample) + sample;
    sampleSizes[i] = sample;
    total += 1 + varintSize(series) + series;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = 0;
  for (let i = 0; i < batch.count; i++) {
    const labels = batch.labels[i]!;
    const sample = sampleSizes[i]!;
    const series = labels.length + 1 + varintSize(sample) + sample;
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, series);
    out.set(labels, pos);
    pos += labels.length;
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, sample);
    out[pos++] = 0x09;
    if (batch.stale[i]) writeStaleNaN(view, pos);
    else view.setFloat64(pos, batch.values[i]!, true);
    pos += 8;
    out[pos++] = 0x10;
    pos = writeInt64(out, pos, batch.timestamps[i]!);
  }
  return out;
}
