/**
 * A small hand-written protobuf reader/writer for Prometheus remote-write 1.0
 * (`prometheus.WriteRequest`), independent of the agent's encoder:
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; (exemplars = 3, histograms = 4) }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 *
 * Doubles are read with DataView and their raw IEEE-754 bits are kept next to the value, because
 * Prometheus stale markers are a specific NaN (0x7ff0000000000002) and JavaScript may canonicalise
 * NaN payloads when numbers are passed around.
 */

/** A label pair, in wire order. */
export interface Label {
  name: string;
  value: string;
}

/** A decoded sample. */
export interface Sample {
  value: number;
  /** Milliseconds since epoch (int64 on the wire). */
  timestamp: number;
  /** Raw IEEE-754 bits of `value` as 16 lowercase hex digits, straight from the wire. */
  bits: string;
  /** Whether `bits` is the Prometheus stale marker. */
  stale: boolean;
}

/** A decoded time series. */
export interface TimeSeries {
  labels: Label[];
  samples: Sample[];
  /** Number of exemplars (field 3) seen and skipped. */
  exemplarCount: number;
  /** Number of native histograms (field 4) seen and skipped. */
  histogramCount: number;
}

/** A decoded `prometheus.WriteRequest`. */
export interface WriteRequest {
  timeseries: TimeSeries[];
  /** Number of `MetricMetadata` entries (field 3), which are not decoded further. */
  metadataCount: number;
}

/** Bits of the Prometheus stale marker NaN. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

/** Thrown on malformed protobuf. */
export class ProtobufError extends Error {
  override name = 'ProtobufError';
}

/** Raw IEEE-754 bits of `value` (as JS holds it now: NaN payloads may already be canonicalised). */
export function float64Bits(value: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, true);
  return view.getBigUint64(0, true);
}

/** `bits` as 16 lowercase hex digits. */
export function bitsToHex(bits: bigint): string {
  return bits.toString(16).padStart(16, '0');
}

/** Whether the raw bits (bigint or 16 hex digits) are the stale marker. */
export function isStaleBits(bits: bigint | string): boolean {
  return (typeof bits === 'string' ? BigInt(`0x${bits}`) : bits) === STALE_NAN_BITS;
}

/**
 * Whether `value` is the stale-marker NaN, judged by its bits through a Float64Array. Reliable only
 * while the engine has not canonicalised the NaN (array literals, some arithmetic and
 * serialisation do); prefer {@link Sample.stale} / {@link isStaleBits}.
 */
export function isStaleMarker(value: number): boolean {
  // Element assignment keeps the NaN payload; `new Float64Array([value])` would not (the array
  // literal quiets the signalling NaN to 0x7ff8000000000002).
  const f = new Float64Array(1);
  f[0] = value;
  return new BigUint64Array(f.buffer)[0] === STALE_NAN_BITS;
}

/** The stale-marker NaN as a JS number (bits may not survive being copied around). */
export function staleMarkerValue(): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, STALE_NAN_BITS, true);
  return view.getFloat64(0, true);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

class Reader {
  pos: number;
  private readonly view: DataView;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  done(): boolean {
    return this.pos >= this.end;
  }
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }
  length(): number {
    const n = this.varint();
    if (n > BigInt(this.end - this.pos)) throw new ProtobufError('length-delimited field runs past its message');
    return Number(n);
  }
  fixed64(): { value: number; bits: bigint } {
    if (this.pos + 8 > this.end) throw new ProtobufError('truncated fixed64');
    const bits = this.view.getBigUint64(this.pos, true);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return { value, bits };
  }
  sub(): Reader {
    const len = this.length();
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }
  string(): string {
    const len = this.length();
    try {
      return utf8.decode(this.buf.subarray(this.pos, this.pos + len));
    } catch {
      throw new ProtobufError('string field is not valid UTF-8');
    } finally {
      this.pos += len;
    }
  }
  tag(): { field: number; wire: number } {
    const key = Number(this.varint());
    const field = key >>> 3;
    if (field === 0) throw new ProtobufError('field number 0');
    return { field, wire: key & 7 };
  }
  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.length());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${wire}`);
    }
  }
  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtobufError('truncated field');
    this.pos += n;
  }
}

function expectWire(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new ProtobufError(`${what}: wire type ${actual}, expected ${expected}`);
}

function decodeLabel(r: Reader): Label {
  const label: Label = { name: '', value: '' };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 2, 'Label.name');
      label.name = r.string();
    } else if (field === 2) {
      expectWire(wire, 2, 'Label.value');
      label.value = r.string();
    } else r.skip(wire);
  }
  return label;
}

function decodeSample(r: Reader): Sample {
  let value = 0;
  let bits = 0n;
  let timestamp = 0;
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 1, 'Sample.value');
      ({ value, bits } = r.fixed64());
    } else if (field === 2) {
      expectWire(wire, 0, 'Sample.timestamp');
      timestamp = Number(BigInt.asIntN(64, r.varint()));
    } else r.skip(wire);
  }
  return { value, timestamp, bits: bitsToHex(bits), stale: bits === STALE_NAN_BITS };
}

function decodeTimeSeries(r: Reader): TimeSeries {
  const ts: TimeSeries = { labels: [], samples: [], exemplarCount: 0, histogramCount: 0 };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 2, 'TimeSeries.labels');
      ts.labels.push(decodeLabel(r.sub()));
    } else if (field === 2) {
      expectWire(wire, 2, 'TimeSeries.samples');
      ts.samples.push(decodeSample(r.sub()));
    } else {
      if (field === 3) ts.exemplarCount++;
      if (field === 4) ts.histogramCount++;
      r.skip(wire);
    }
  }
  return ts;
}

/** Decodes a serialized `prometheus.WriteRequest` (already snappy-decompressed). */
export function decodeWriteRequest(bytes: Uint8Array): WriteRequest {
  const r = new Reader(bytes);
  const out: WriteRequest = { timeseries: [], metadataCount: 0 };
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1) {
      expectWire(wire, 2, 'WriteRequest.timeseries');
      out.timeseries.push(decodeTimeSeries(r.sub()));
    } else {
      if (field === 3) out.metadataCount++;
      r.skip(wire);
    }
  }
  return out;
}

/** A sample to encode; `bits` (raw IEEE-754) wins over `value`, so exact NaN payloads can be sent. */
export interface SampleInput {
  value?: number;
  bits?: bigint;
  timestamp: number;
}

/** A series to encode. An array of labels is written in the given order (to test validation); a record is sorted. */
export interface TimeSeriesInput {
  labels: Label[] | Record<string, string>;
  samples: SampleInput[];
}

/** A stale-marker sample at `timestamp`. */
export function staleSample(timestamp: number): SampleInput {
  return { bits: STALE_NAN_BITS, timestamp };
}

class Writer {
  private bytes: number[] = [];
  varint(v: bigint): this {
    let n = BigInt.asUintN(64, v);
    while (n >= 0x80n) {
      this.bytes.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.bytes.push(Number(n));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(BigInt((field << 3) | wire));
  }
  lengthDelimited(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(BigInt(data.length));
    for (const b of data) this.bytes.push(b);
    return this;
  }
  fixed64(field: number, bits: bigint): this {
    this.tag(field, 1);
    for (let i = 0n; i < 8n; i++) this.bytes.push(Number((bits >> (8n * i)) & 0xffn));
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** Encodes a `prometheus.WriteRequest` (not compressed) from plain objects. */
export function encodeWriteRequest(series: TimeSeriesInput[]): Uint8Array {
  const w = new Writer();
  for (const s of series) {
    const ts = new Writer();
    const labels = Array.isArray(s.labels)
      ? s.labels
      : Object.entries(s.labels)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value]) => ({ name, value }));
    for (const l of labels) {
      const lw = new Writer();
      if (l.name !== '') lw.lengthDelimited(1, utf8Encoder.encode(l.name));
      if (l.value !== '') lw.lengthDelimited(2, utf8Encoder.encode(l.value));
      ts.lengthDelimited(1, lw.finish());
    }
    for (const sample of s.samples) {
      const sw = new Writer();
      const bits = sample.bits ?? float64Bits(sample.value ?? 0);
      if (bits !== 0n) sw.fixed64(1, bits);
      if (sample.timestamp !== 0) sw.tag(2, 0).varint(BigInt(sample.timestamp));
      ts.lengthDelimited(2, sw.finish());
    }
    w.lengthDelimited(1, ts.finish());
  }
  return w.finish();
}
