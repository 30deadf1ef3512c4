/**
 * On-disk record format of the agent's write-ahead log.
 *
 *   record  = type:u8 | length:u32le | crc32(payload):u32le | payload
 *   SERIES  payload = count:u32le, then per series: ref:u32le, nlabels:u16le,
 *                     per label: nameLen:u16le name valueLen:u32le value (UTF-8)
 *   SAMPLES payload = count:u32le, then per sample: ref:u32le, timestamp:f64le, value:f64le
 *                     (20 bytes; staleness markers keep their exact NaN bits)
 *
 * A torn record at the tail (crash mid-write) fails its length or CRC check and ends the log.
 */
import { crc32 } from 'node:zlib';
import type { Label } from '@fleet/pipeline';

export const RECORD_SERIES = 1;
export const RECORD_SAMPLES = 2;
export const HEADER_BYTES = 9;
export const SAMPLE_BYTES = 20;

const utf8Decoder = new TextDecoder();

function frame(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out[0] = type;
  view.setUint32(1, payload.length, true);
  view.setUint32(5, crc32(payload), true);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** A SERIES record announcing ids and their labels (encoded in place: no temporary arrays). */
export function encodeSeriesRecord(series: ReadonlyArray<{ ref: number; labels: readonly Label[] }>): Uint8Array {
  let size = 4;
  for (const s of series) {
    size += 6;
    for (const l of s.labels) size += 6 + Buffer.byteLength(l.name) + Buffer.byteLength(l.value);
  }
  const payload = Buffer.allocUnsafe(size);
  payload.writeUInt32LE(series.length, 0);
  let pos = 4;
  for (const s of series) {
    payload.writeUInt32LE(s.ref, pos);
    payload.writeUInt16LE(s.labels.length, pos + 4);
    pos += 6;
    for (const l of s.labels) {
      const n = payload.write(l.name, pos + 2, 'utf8');
      payload.writeUInt16LE(n, pos);
      pos += 2 + n;
      const v = payload.write(l.value, pos + 4, 'utf8');
      payload.writeUInt32LE(v, pos);
      pos += 4 + v;
    }
  }
  return frame(RECORD_SERIES, payload);
}

/**
 * A SAMPLES record. `valueBytes` holds each value's 8 raw little-endian bytes (so staleness
 * markers keep their bit pattern); see {@link SampleColumns}.
 */
export function encodeSamplesRecord(columns: SampleColumns, from = 0, to = columns.count): Uint8Array {
  const count = to - from;
  const payload = new Uint8Array(4 + count * SAMPLE_BYTES);
  const view = new DataView(payload.buffer);
  view.setUint32(0, count, true);
  const src = new DataView(columns.valueBits.buffer, columns.valueBits.byteOffset, columns.valueBits.byteLength);
  let pos = 4;
  for (let i = from; i < to; i++) {
    view.setUint32(pos, columns.refs[i]!, true);
    view.setFloat64(pos + 4, columns.timestamps[i]!, true);
    view.setUint32(pos + 12, src.getUint32(i * 8, true), true);
    view.setUint32(pos + 16, src.getUint32(i * 8 + 4, true), true);
    pos += SAMPLE_BYTES;
  }
  return frame(RECORD_SAMPLES, payload);
}

/**
 * Samples as columns. `valueBits` is 8 bytes per sample (a Float64 little-endian image), so a
 * staleness marker's NaN payload survives every copy.
 */
export interface SampleColumns {
  count: number;
  refs: Uint32Array;
  timestamps: Float64Array;
  valueBits: Uint8Array;
  /** A view over `valueBits` for writing values (one per columns: no allocation per sample). */
  valueView: DataView;
}

/** Allocates columns for up to `capacity` samples. */
export function allocColumns(capacity: number): SampleColumns {
  const valueBits = new Uint8Array(capacity * 8);
  return { count: 0, refs: new Uint32Array(capacity), timestamps: new Float64Array(capacity), valueBits, valueView: new DataView(valueBits.buffer) };
}

/** A decoded record and where it ends in its segment. */
export type WalRecord =
  | { type: typeof RECORD_SERIES; end: number; series: Array<{ ref: number; labels: Label[] }> }
  | { type: typeof RECORD_SAMPLES; end: number; payload: DataView; count: number };

/**
 * Decodes the records in `buf` starting at `offset`; stops at the end of the buffer or at a
 * partial record (returned `consumed` tells how far it got). `corrupt` is set when a complete
 * record fails its CRC or has an unknown type.
 */
export function decodeRecords(buf: Uint8Array, offset: number): { records: WalRecord[]; consumed: number; corrupt: boolean } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: WalRecord[] = [];
  let pos = offset;
  while (pos + HEADER_BYTES <= buf.length) {
    const type = buf[pos]!;
    const len = view.getUint32(pos + 1, true);
    const crc = view.getUint32(pos + 5, true);
    if (pos + HEADER_BYTES + len > buf.length) break;
    const payload = buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len);
    if (crc32(payload) !== crc || (type !== RECORD_SERIES && type !== RECORD_SAMPLES)) {
      return { records, consumed: pos - offset, corrupt: true };
    }
    const end = pos + HEADER_BYTES + len;
    const pview = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    if (type === RECORD_SAMPLES) {
      records.push({ type, end, payload: pview, count: pview.getUint32(0, true) });
    } else {
      records.push({ type, end, series: decodeSeries(payload, pview) });
    }
    pos = end;
  }
  return { records, consumed: pos - offset, corrupt: false };
}

function decodeSeries(payload: Uint8Array, view: DataView): Array<{ ref: number; labels: Label[] }> {
  const count = view.getUint32(0, true);
  const out: Array<{ ref: number; labels: Label[] }> = [];
  let pos = 4;
  for (let i = 0; i < count; i++) {
    const ref = view.getUint32(pos, true);
    const n = view.getUint16(pos + 4, true);
    pos += 6;
    const labels: Label[] = [];
    for (let j = 0; j < n; j++) {
      const nl = view.getUint16(pos, true);
      const name = utf8Decoder.decode(payload.subarray(pos + 2, pos + 2 + nl));
      pos += 2 + nl;
      const vl = view.getUint32(pos, true);
      const value = utf8Decoder.decode(payload.subarray(pos + 4, pos + 4 + vl));
      pos += 4 + vl;
      labels.push({ name, value });
    }
    out.push({ ref, labels });
  }
  return out;
}
