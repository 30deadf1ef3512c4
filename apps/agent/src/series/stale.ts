/**
 * Prometheus's staleness marker: a NaN with the exact bit pattern 0x7ff0000000000002. JavaScript
 * engines may canonicalise NaN payloads when numbers are copied, so the agent never relies on
 * the bits surviving inside a `number`: stale samples travel with an explicit flag and the
 * bits are written out explicitly by the WAL and the remote-write encoder.
 */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;

/** Writes the staleness marker's bits (little-endian, as protobuf and the WAL store doubles). */
export function writeStaleNaN(view: DataView, offset: number): void {
  view.setUint32(offset, STALE_NAN_LO, true);
  view.setUint32(offset + 4, STALE_NAN_HI, true);
}

/** True when the 8 little-endian bytes at `offset` are the staleness marker. */
export function isStaleNaNAt(view: DataView, offset: number): boolean {
  return view.getUint32(offset, true) === STALE_NAN_LO && view.getUint32(offset + 4, true) === STALE_NAN_HI;
}
