// Counting remote-write receiver for `npm run bench:agent` (forked by run.mjs; its CPU is not
// part of any measurement). Its counts define "delivered".
//
// POST (any path): the body is a snappy *block* compressed protobuf WriteRequest
// (remote write 1.0). It is decompressed with snappyjs `uncompress` and walked without building
// objects: WriteRequest.timeseries = field 1; in each TimeSeries, samples = field 2 (each Sample
// is counted, and its timestamp = field 2 of Sample is read to know the newest one delivered).
// Metadata-only requests (WriteRequest field 3, which Prometheus sends every minute) count 0.
// Answers 204 at once; a body that does not decode is answered 400 and counted in `errors`.
//
// Protocol with the parent: once listening, sends {port} over the IPC channel. GET /stats
// returns {requests, samples, series, bytes, rawBytes, errors, maxTs}. Exits when the parent
// goes away.
import { Buffer } from 'node:buffer';
import http from 'node:http';
import snappy from 'snappyjs';

const stats = { requests: 0, samples: 0, series: 0, bytes: 0, rawBytes: 0, errors: 0, maxTs: 0 };

// Protobuf varint reader over a Uint8Array; `pos` is advanced in place. Values up to 2^53 are
// exact (timestamps in ms need ~41 bits), so no bit operations beyond 32 bits.
let pos = 0;
function varint(buf) {
  let result = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 128;
  }
}

/** Skips a field of the given wire type at `pos`. */
function skip(buf, wireType) {
  switch (wireType) {
    case 0:
      varint(buf);
      return;
    case 1:
      pos += 8;
      return;
    case 2: {
      const len = varint(buf);
      pos += len;
      return;
    }
    case 5:
      pos += 4;
      return;
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Counts series and samples of one WriteRequest; returns [series, samples, newest ts]. */
function walkWriteRequest(buf) {
  let series = 0;
  let samples = 0;
  let maxTs = 0;
  pos = 0;
  const end = buf.length;
  while (pos < end) {
    const tag = varint(buf);
    if (tag !== 0x0a) {
      skip(buf, tag & 7);
      continue;
    }
    // TimeSeries
    const tsEnd = varint(buf) + pos;
    series++;
    while (pos < tsEnd) {
      const t = varint(buf);
      if (t !== 0x12) {
        skip(buf, t & 7);
        continue;
      }
      // Sample { double value = 1; int64 timestamp = 2; }
      const sEnd = varint(buf) + pos;
      samples++;
      while (pos < sEnd) {
        const st = varint(buf);
        if (st === 0x10) {
          const ts = varint(buf);
          if (ts > maxTs && ts < 2 ** 53) maxTs = ts;
        } else skip(buf, st & 7);
      }
      pos = sEnd;
    }
    pos = tsEnd;
  }
  if (pos !== end) throw new Error('truncated message');
  return [series, samples, maxTs];
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    stats.requests++;
    stats.bytes += body.length;
    try {
      const raw = snappy.uncompress(body);
      const [series, samples, maxTs] = walkWriteRequest(raw);
      stats.rawBytes += raw.length;
      stats.series += series;
      stats.samples += samples;
      if (maxTs > stats.maxTs) stats.maxTs = maxTs;
      res.writeHead(204).end();
    } catch (err) {
      stats.errors++;
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode: ${err.message}\n`);
    }
  });
});
// Keep connections open like a real receiver would (Node's default is 5 s).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
