/**
 * Hot-path parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
 *
 * The scrape loop calls `parseExposition` on every scrape. It validates every line fully,
 * but it only splits each sample into (series text, value, timestamp). It builds no label
 * arrays and allocates nothing per line except the `seriesText` substring, plus a rare
 * `Number()` fallback for values with more than 15 significant digits. The caller caches its
 * per-series work by `seriesText` and calls `parseSeriesText` only on a cache miss.
 *
 * Grammar references: https://prometheus.io/docs/instrumenting/exposition_formats/, the
 * OpenMetrics 1.0 spec, and Prometheus' own `model/textparse` lexers and parsers. Where the
 * two formats differ, this parser follows Prometheus:
 * - text format: `[ \t]+` separates tokens anywhere on a line (also around `=`, `,`, `{`).
 *   A trailing comma in `{}` and a missing comma between label pairs are tolerated.
 *   Blank lines and non-HELP/TYPE `#` lines are ignored. Timestamps are integer ms.
 * - OpenMetrics: exactly one space between tokens and none inside `{}`, no trailing comma,
 *   no blank lines. Only `# HELP`, `# TYPE`, `# UNIT` and `# EOF` comments. Timestamps are
 *   float seconds. Exemplars are validated and skipped. The body must end with `# EOF`.
 * Deliberately more lenient than Prometheus 2.42: `\r\n` line endings and a leading BOM (both
 * formats); blanks before a sample line, blanks after a `# TYPE` value, and negative
 * timestamps (text format). Deliberately
 * stricter: label-value escapes other than `\\`, `\"` and `\n` are errors (Prometheus keeps
 * them literally), and a raw newline cannot occur inside a quoted label value.
 */

/** The two exposition formats this parser understands. */
export type ExpositionFormat = 'prometheus-text' | 'openmetrics';

/** Metric family types accepted in `# TYPE` (the last four are OpenMetrics only, `untyped` is text only). */
export type MetricType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'summary'
  | 'untyped'
  | 'unknown'
  | 'info'
  | 'stateset'
  | 'gaugehistogram';

/** Metadata gathered from `# HELP` / `# TYPE` / `# UNIT` lines, keyed by the family name as written. */
export interface MetricMetadata {
  type?: MetricType;
  /** Help text with escapes resolved (`\\` and `\n`, plus `\"` in OpenMetrics). */
  help?: string;
  /** OpenMetrics `# UNIT` (may be the empty string). */
  unit?: string;
}

/**
 * Picks the format from a Content-Type header. The result is `openmetrics` when the media type
 * is `application/openmetrics-text` (any parameters, case-insensitive), and `prometheus-text`
 * for everything else, including a missing header.
 */
export function formatFromContentType(contentType: string | null | undefined): ExpositionFormat {
  if (!contentType) return 'prometheus-text';
  const semi = contentType.indexOf(';');
  const mediaType = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return mediaType === 'application/openmetrics-text' ? 'openmetrics' : 'prometheus-text';
}

/** Receives each sample, in input order. */
export interface SampleSink {
  /**
   * Called once per sample line, in input order, before the next line is parsed.
   *
   * seriesText: the metric name and label block exactly as written in the input, with surrounding
   *   whitespace trimmed, e.g. `http_requests_total{code="200",method="get"}`. It is meant as a
   *   cache key. It is already fully validated, so `parseSeriesText(seriesText)` cannot throw.
   *   It may be a V8 "sliced string" that keeps the whole scrape body alive. Pass it through
   *   `detachSeriesText` before keeping it beyond the scrape (e.g. when inserting a cache entry).
   * value: the float value (NaN, +Inf, -Inf supported; OpenMetrics and text both).
   * timestampMs: milliseconds since epoch if the line had a timestamp, else undefined.
   *   Text format timestamps are integer ms; OpenMetrics timestamps are seconds (may be
   *   fractional) -> converted to ms with Math.round.
   *
   * If this throws, `parseExposition` stops and rethrows the error unchanged.
   */
  sample(seriesText: string, value: number, timestampMs: number | undefined): void;
}

/** What `parseExposition` saw in a successfully parsed body. */
export interface ParseSummary {
  /** Number of samples delivered to the sink (one per sample line). */
  samples: number;
  /** Number of lines in the body (for OpenMetrics, up to and including `# EOF`). */
  lines: number;
  /** Family metadata from HELP/TYPE/UNIT lines. A later line for the same name overrides an earlier one. */
  metadata: Map<string, MetricMetadata>;
}

/**
 * The input is not valid exposition text. `line` is 1-based. `column` is the 1-based UTF-16
 * column where the problem was found, when known. `message` is `line N: <reason>` and
 * `reason` is the part after the prefix.
 */
export class ExpositionError extends Error {
  /** 1-based line number of the offending line. */
  readonly line: number;
  /** 1-based column (UTF-16 code units) within the line, when known. */
  readonly column: number | undefined;
  /** What is wrong, without the `line N: ` prefix. */
  readonly reason: string;

  constructor(line: number, reason: string, column?: number) {
    super(`line ${line}: ${reason}`);
    this.name = 'ExpositionError';
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Character classes

const NAME_START = 1; // [a-zA-Z_:]
const NAME_CHAR = 2; // [a-zA-Z0-9_:]
const LABEL_START = 4; // [a-zA-Z_]
const LABEL_CHAR = 8; // [a-zA-Z0-9_]

const CHAR_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
  const digit = c >= 48 && c <= 57;
  let k = 0;
  if (letter || c === 58) k |= NAME_START | NAME_CHAR;
  if (digit) k |= NAME_CHAR | LABEL_CHAR;
  if (letter) k |= LABEL_START | LABEL_CHAR;
  CHAR_CLASS[c] = k;
}

const SPACE = 32;
const TAB = 9;
const CR = 13;
const HASH = 35;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const EQUALS = 61;
const LBRACE = 123;
const RBRACE = 125;

function isClass(c: number, cls: number): boolean {
  return c < 128 && (CHAR_CLASS[c]! & cls) !== 0;
}

// ---------------------------------------------------------------------------------------------
// Error helpers (cold path)

/** Where the line being scanned starts in the string being scanned (for column numbers). */
let curLineStart = 0;
/** The 1-based number of the line being scanned. */
let curLine = 1;

function fail(pos: number, reason: string): never {
  throw new ExpositionError(curLine, reason, pos - curLineStart + 1);
}

function describeChar(s: string, pos: number, end: number): string {
  if (pos >= end) return 'end of line';
  const c = s.charCodeAt(pos);
  if (c === TAB) return 'tab';
  if (c < 32 || c === 127) return `control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${s[pos]}'`;
}

function quote(s: string, maxLen = 80): string {
  return JSON.stringify(s.length > maxLen ? `${s.slice(0, maxLen)}…` : s);
}

// ---------------------------------------------------------------------------------------------
// Series scanning (shared by parseExposition and parseSeriesText so they always agree)

/**
 * Label offsets of the series most recently scanned. Each label takes 4 slots: name start,
 * name end, value start, value end (value offsets exclude the quotes).
 */
let labelOffsets = new Int32Array(64);
let labelCount = 0;
/** End offset of the metric name of the series most recently scanned. */
let nameEndOffset = 0;

function skipBlanks(s: string, p: number, end: number): number {
  while (p < end) {
    const c = s.charCodeAt(p);
    if (c !== SPACE && c !== TAB) break;
    p++;
  }
  return p;
}

/**
 * Scans a series (metric name plus optional label block) that starts at `start`, where the
 * caller has already checked that a metric-name start character is present. Returns the
 * offset just past the series (past the name, or past `}`). Sets `nameEndOffset` and, for
 * `record`, `labelCount` and `labelOffsets`. In text mode, blanks may appear between the
 * name and `{` and around label tokens. In OpenMetrics mode, none may.
 */
function scanSeries(s: string, start: number, end: number, om: boolean): number {
  let p = start + 1;
  while (p < end) {
    const c = s.charCodeAt(p);
    if (c < 128 && (CHAR_CLASS[c]! & NAME_CHAR) !== 0) p++;
    else break;
  }
  nameEndOffset = p;
  labelCount = 0;
  let q = p;
  if (!om) q = skipBlanks(s, q, end);
  if (q < end && s.charCodeAt(q) === LBRACE) return scanLabels(s, q + 1, end, om, true, start);
  return p;
}

/**
 * Scans label pairs after `{` up to and including the closing `}`. Returns the offset past `}`.
 * With `record`, it stores offsets and rejects duplicate names (and `__name__`, which would
 * duplicate the metric name). Exemplar label sets are scanned without `record`.
 */
function scanLabels(s: string, p: number, end: number, om: boolean, record: boolean, seriesStart: number): number {
  for (;;) {
    if (!om) p = skipBlanks(s, p, end);
    if (p >= end) fail(p, `unterminated label set: expected label name or '}', got end of line`);
    let c = s.charCodeAt(p);
    if (c === RBRACE) return p + 1;
    if (!(c < 128 && (CHAR_CLASS[c]! & LABEL_START) !== 0)) {
      fail(p, `expected label name or '}', got ${describeChar(s, p, end)}${om && c === SPACE ? ' (OpenMetrics allows no spaces inside {})' : ''}`);
    }
    const ns = p;
    p++;
    while (p < end) {
      c = s.charCodeAt(p);
      if (c < 128 && (CHAR_CLASS[c]! & LABEL_CHAR) !== 0) p++;
      else break;
    }
    const ne = p;
    if (!om) p = skipBlanks(s, p, end);
    if (p >= end || s.charCodeAt(p) !== EQUALS) {
      fail(p, `expected '=' after label name ${quote(s.slice(ns, ne))}, got ${describeChar(s, p, end)}`);
    }
    p++;
    if (!om) p = skipBlanks(s, p, end);
    if (p >= end || s.charCodeAt(p) !== QUOTE) {
      fail(p, `expected '"' to open the value of label ${quote(s.slice(ns, ne))}, got ${describeChar(s, p, end)}`);
    }
    p++;
    const vs = p;
    for (;;) {
      if (p >= end) fail(vs - 1, `unterminated value of label ${quote(s.slice(ns, ne))}: missing closing '"'`);
      c = s.charCodeAt(p);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        p++;
        if (p >= end) fail(vs - 1, `unterminated value of label ${quote(s.slice(ns, ne))}: missing closing '"'`);
        const e = s.charCodeAt(p);
        if (e !== BACKSLASH && e !== QUOTE && e !== 110 /* n */) {
          fail(p - 1, `invalid escape sequence '\\${s[p]}' in value of label ${quote(s.slice(ns, ne))} (only \\\\, \\" and \\n are allowed)`);
        }
      }
      p++;
    }
    const ve = p;
    p++; // closing quote
    if (record) recordLabel(s, ns, ne, vs, ve, seriesStart);
    if (!om) p = skipBlanks(s, p, end);
    if (p >= end) fail(p, `unterminated label set: expected ',' or '}', got end of line`);
    c = s.charCodeAt(p);
    if (c === COMMA) {
      p++;
      // Text format allows a trailing comma before '}'. OpenMetrics does not (nor does Prometheus 2.x).
      if (om && p < end && s.charCodeAt(p) === RBRACE) fail(p - 1, `trailing comma before '}' is not allowed in OpenMetrics`);
      continue;
    }
    // Text format: like Prometheus, tolerate a missing comma between two label pairs.
    if (!om && c < 128 && (CHAR_CLASS[c]! & LABEL_START) !== 0) continue;
    if (c !== RBRACE) {
      fail(p, `expected ',' or '}' after the value of label ${quote(s.slice(ns, ne))}, got ${describeChar(s, p, end)}`);
    }
    return p + 1;
  }
}

function recordLabel(s: string, ns: number, ne: number, vs: number, ve: number, seriesStart: number): void {
  const len = ne - ns;
  if (len === 8 && s.startsWith('__name__', ns)) {
    fail(ns, `label name "__name__" duplicates the metric name ${quote(s.slice(seriesStart, nameEndOffset))}`);
  }
  const offs = labelOffsets;
  for (let k = 0, o = 0; k < labelCount; k++, o += 4) {
    const os = offs[o]!;
    if (offs[o + 1]! - os !== len) continue;
    let i = 0;
    while (i < len && s.charCodeAt(os + i) === s.charCodeAt(ns + i)) i++;
    if (i === len) fail(ns, `duplicate label name ${quote(s.slice(ns, ne))}`);
  }
  let o = labelCount * 4;
  if (o + 4 > offs.length) {
    const grown = new Int32Array(offs.length * 2);
    grown.set(offs);
    labelOffsets = grown;
  }
  const t = labelOffsets;
  t[o++] = ns;
  t[o++] = ne;
  t[o++] = vs;
  t[o] = ve;
  labelCount++;
}

// ---------------------------------------------------------------------------------------------
// Numbers

/** Exact powers of ten representable as doubles (Clinger's fast path). */
const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

const FLOAT_OK = 0;
const FLOAT_SYNTAX = 1;
const FLOAT_RANGE = 2;
/** Outcome of the most recent `parseGoFloat` call. */
let floatStatus = FLOAT_OK;

function matchesIgnoreCase(s: string, p: number, end: number, lowerWord: string): boolean {
  if (end - p !== lowerWord.length) return false;
  for (let i = 0; i < lowerWord.length; i++) {
    if ((s.charCodeAt(p + i) | 0x20) !== lowerWord.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses s[start, end) the way Prometheus does (Go's strconv.ParseFloat without hex floats and
 * underscores). Accepts [+-]digits[.digits][(e|E)[+-]digits], a leading or trailing '.',
 * [+-]inf / [+-]infinity and nan (case-insensitive). Sets `floatStatus`: syntax errors and
 * finite literals that overflow to ±Inf (Go reports ErrRange) are failures.
 * No allocation unless the literal has more than 15 digits or a large exponent.
 */
function parseGoFloat(s: string, start: number, end: number): number {
  floatStatus = FLOAT_OK;
  let p = start;
  if (p >= end) {
    floatStatus = FLOAT_SYNTAX;
    return NaN;
  }
  let c = s.charCodeAt(p);
  let neg = false;
  let signed = false;
  if (c === 43 /* + */ || c === 45 /* - */) {
    neg = c === 45;
    signed = true;
    p++;
    if (p >= end) {
      floatStatus = FLOAT_SYNTAX;
      return NaN;
    }
    c = s.charCodeAt(p);
  }
  const lc = c | 0x20;
  if (lc === 105 /* i */) {
    if (matchesIgnoreCase(s, p, end, 'inf') || matchesIgnoreCase(s, p, end, 'infinity')) return neg ? -Infinity : Infinity;
    floatStatus = FLOAT_SYNTAX;
    return NaN;
  }
  if (lc === 110 /* n */) {
    if (!signed && matchesIgnoreCase(s, p, end, 'nan')) return NaN;
    floatStatus = FLOAT_SYNTAX;
    return NaN;
  }
  let mant = 0;
  let digits = 0;
  let fracDigits = 0;
  let sawDot = false;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      if (digits < 15) mant = mant * 10 + d;
      digits++;
      if (sawDot) fracDigits++;
    } else if (c === 46 /* . */ && !sawDot) {
      sawDot = true;
    } else {
      break;
    }
  }
  if (digits === 0) {
    floatStatus = FLOAT_SYNTAX;
    return NaN;
  }
  let exp = 0;
  if (p < end) {
    if ((c | 0x20) !== 101 /* e */) {
      floatStatus = FLOAT_SYNTAX;
      return NaN;
    }
    p++;
    let expNeg = false;
    if (p < end) {
      c = s.charCodeAt(p);
      if (c === 43 || c === 45) {
        expNeg = c === 45;
        p++;
      }
    }
    if (p >= end) {
      floatStatus = FLOAT_SYNTAX;
      return NaN;
    }
    for (; p < end; p++) {
      const d = s.charCodeAt(p) - 48;
      if (d < 0 || d > 9) {
        floatStatus = FLOAT_SYNTAX;
        return NaN;
      }
      if (exp < 100000) exp = exp * 10 + d;
    }
    if (expNeg) exp = -exp;
  }
  let v: number;
  const e10 = exp - fracDigits;
  if (digits <= 15 && e10 >= -22 && e10 <= 22) {
    // mant and 10^|e10| are exact doubles, so one IEEE operation rounds correctly.
    v = e10 >= 0 ? mant * POW10[e10]! : mant / POW10[-e10]!;
    return neg ? -v : v;
  }
  v = Number(s.slice(start, end)); // validated above: JS and Go agree on this decimal subset
  if (v === Infinity || v === -Infinity) {
    floatStatus = FLOAT_RANGE;
    return NaN;
  }
  return v;
}

/** Text-format timestamps must fit int64, as Go's strconv.ParseInt(…, 10, 64) enforces. */
function parseTextTimestamp(s: string, start: number, end: number): number {
  let p = start;
  let neg = false;
  if (s.charCodeAt(p) === 45 /* - */) {
    neg = true;
    p++;
  }
  if (p >= end) fail(start, `invalid timestamp ${quote(s.slice(start, end))}: expected integer milliseconds`);
  let v = 0;
  for (let i = p; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) fail(start, `invalid timestamp ${quote(s.slice(start, end))}: expected integer milliseconds`);
    v = v * 10 + d;
  }
  if (end - p > 15) {
    let first = p;
    while (first < end - 1 && s.charCodeAt(first) === 48) first++; // leading zeros
    const digits = s.slice(first, end);
    if (digits.length > 19 || (digits.length === 19 && digits > (neg ? '9223372036854775808' : '9223372036854775807'))) {
      fail(start, `timestamp ${quote(s.slice(start, end))} is out of the int64 range`);
    }
    v = Number(digits);
  }
  return neg ? -v : v;
}

// ---------------------------------------------------------------------------------------------
// Metadata

const TEXT_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const OM_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown']);

function metadataFor(meta: Map<string, MetricMetadata>, name: string): MetricMetadata {
  let m = meta.get(name);
  if (m === undefined) {
    m = {};
    meta.set(name, m);
  }
  return m;
}

/** Resolves `\\`, `\n` and (when `quotes`) `\"`. Any other backslash is kept literally, as Prometheus does for HELP. */
function unescapeLenient(s: string, quotes: boolean): string {
  if (s.indexOf('\\') === -1) return s;
  let out = '';
  let last = 0;
  for (let i = s.indexOf('\\'); i !== -1 && i + 1 < s.length; i = s.indexOf('\\', i)) {
    const n = s.charCodeAt(i + 1);
    let rep: string | undefined;
    if (n === BACKSLASH) rep = '\\';
    else if (n === 110) rep = '\n';
    else if (quotes && n === QUOTE) rep = '"';
    if (rep === undefined) {
      i++;
      continue;
    }
    out += s.slice(last, i) + rep;
    last = i + 2;
    i += 2;
  }
  return out + s.slice(last);
}

/** Text format `#` line starting at p (the '#'). HELP/TYPE are recorded. Anything else is a comment. */
function textComment(body: string, p: number, end: number, meta: Map<string, MetricMetadata>): void {
  p++;
  const afterHash = p;
  p = skipBlanks(body, p, end);
  if (p === afterHash || end - p < 5) return; // `#foo` or too short for a keyword: plain comment
  const isHelp = body.startsWith('HELP', p);
  if (!isHelp && !body.startsWith('TYPE', p)) return;
  const kw = p + 4;
  const k = body.charCodeAt(kw);
  if (k !== SPACE && k !== TAB) return; // e.g. `# HELPER`: plain comment
  const keyword = isHelp ? 'HELP' : 'TYPE';
  p = skipBlanks(body, kw, end);
  if (p >= end || !isClass(body.charCodeAt(p), NAME_START)) {
    fail(p, `expected metric name after # ${keyword}, got ${describeChar(body, p, end)}`);
  }
  const ns = p;
  p++;
  while (p < end && isClass(body.charCodeAt(p), NAME_CHAR)) p++;
  const name = body.slice(ns, p);
  if (p < end) {
    const c = body.charCodeAt(p);
    if (c !== SPACE && c !== TAB) fail(p, `invalid character ${describeChar(body, p, end)} in metric name ${quote(name)} in # ${keyword}`);
  }
  if (isHelp) {
    // Like Prometheus: the text is everything after the one blank that follows the name.
    metadataFor(meta, name).help = p < end ? unescapeLenient(body.slice(p + 1, end), false) : '';
    return;
  }
  const ts = skipBlanks(body, p, end);
  let te = end;
  while (te > ts && (body.charCodeAt(te - 1) === SPACE || body.charCodeAt(te - 1) === TAB)) te--;
  if (ts === te) fail(ts, `missing metric type after # TYPE ${name}`);
  const type = body.slice(ts, te);
  if (!TEXT_TYPES.has(type)) fail(ts, `invalid metric type ${quote(type)} for ${quote(name)} (expected counter, gauge, histogram, summary or untyped)`);
  metadataFor(meta, name).type = type as MetricType;
}

/** OpenMetrics `#` line starting at p (the '#'). Returns true for `# EOF`. */
function omComment(body: string, p: number, end: number, meta: Map<string, MetricMetadata>): boolean {
  const len = end - p;
  if (len === 5 && body.startsWith('# EOF', p)) return true;
  let keyword: 'HELP' | 'TYPE' | 'UNIT' | undefined;
  if (len >= 7 && body.charCodeAt(p + 1) === SPACE && body.charCodeAt(p + 6) === SPACE) {
    if (body.startsWith('HELP', p + 2)) keyword = 'HELP';
    else if (body.startsWith('TYPE', p + 2)) keyword = 'TYPE';
    else if (body.startsWith('UNIT', p + 2)) keyword = 'UNIT';
  }
  if (keyword === undefined) {
    if (body.startsWith('# EOF', p)) fail(p + 5, `unexpected text after # EOF`);
    fail(p, `invalid comment ${quote(body.slice(p, end))}: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF`);
  }
  p += 7;
  if (p >= end || !isClass(body.charCodeAt(p), NAME_START)) {
    fail(p, `expected metric name after # ${keyword}, got ${describeChar(body, p, end)}`);
  }
  const ns = p;
  p++;
  while (p < end && isClass(body.charCodeAt(p), NAME_CHAR)) p++;
  const name = body.slice(ns, p);
  if (p >= end) fail(p, `expected ' ' and text after metric name ${quote(name)} in # ${keyword}`);
  if (body.charCodeAt(p) !== SPACE) fail(p, `invalid character ${describeChar(body, p, end)} in metric name ${quote(name)} in # ${keyword}`);
  const text = body.slice(p + 1, end);
  if (keyword === 'HELP') {
    metadataFor(meta, name).help = unescapeLenient(text, true);
  } else if (keyword === 'TYPE') {
    if (!OM_TYPES.has(text)) {
      fail(p + 1, `invalid metric type ${quote(text)} for ${quote(name)} (expected counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown)`);
    }
    metadataFor(meta, name).type = text as MetricType;
  } else {
    if (text.length > 0 && !(name.length > text.length && name.endsWith(text) && name.charCodeAt(name.length - text.length - 1) === 95)) {
      fail(p + 1, `unit ${quote(text)} is not a suffix of metric name ${quote(name)} (expected the name to end in "_${text}")`);
    }
    metadataFor(meta, name).unit = text;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Sample lines

/** Text format sample line: series starts at p (already checked to be a name start). */
function textSample(body: string, p: number, end: number, sink: SampleSink): void {
  const seriesStart = p;
  const seriesEnd = scanSeries(body, p, end, false);
  p = seriesEnd;
  if (p < end) {
    const c = body.charCodeAt(p);
    if (c !== SPACE && c !== TAB && seriesEnd === nameEndOffset) {
      fail(p, `invalid character ${describeChar(body, p, end)} in metric name ${quote(body.slice(seriesStart, p))}`);
    }
  }
  p = skipBlanks(body, p, end);
  if (p >= end) fail(p, `missing value after series ${quote(body.slice(seriesStart, seriesEnd))}`);
  const vs = p;
  while (p < end) {
    const c = body.charCodeAt(p);
    if (c === SPACE || c === TAB) break;
    p++;
  }
  const value = parseGoFloat(body, vs, p);
  if (floatStatus !== FLOAT_OK) badValue(body, vs, p, 'sample value');
  p = skipBlanks(body, p, end);
  let ts: number | undefined;
  if (p < end) {
    if (body.charCodeAt(p) === HASH) fail(p, `unexpected '#' after value: exemplars are only allowed in OpenMetrics`);
    const tsStart = p;
    while (p < end) {
      const c = body.charCodeAt(p);
      if (c === SPACE || c === TAB) break;
      p++;
    }
    ts = parseTextTimestamp(body, tsStart, p);
    p = skipBlanks(body, p, end);
    if (p < end) fail(p, `unexpected ${quote(body.slice(p, end))} after timestamp (expected end of line)`);
  }
  sink.sample(body.slice(seriesStart, seriesEnd), value, ts);
}

function badValue(s: string, start: number, end: number, what: string): never {
  const text = s.slice(start, end);
  if (floatStatus === FLOAT_RANGE) fail(start, `${what} ${quote(text)} is out of the float64 range`);
  fail(start, `invalid ${what} ${quote(text)}: expected a float such as 1, -1.5e-3, +Inf, -Inf or NaN`);
}

/** Scans an OpenMetrics token that ends at the next space or end of line. */
function omToken(s: string, p: number, end: number): number {
  while (p < end && s.charCodeAt(p) !== SPACE) p++;
  return p;
}

/** OpenMetrics float-seconds timestamp in s[start, end) -> ms (Math.round), or fails. */
function omTimestamp(s: string, start: number, end: number, what: string): number {
  const sec = parseGoFloat(s, start, end);
  if (floatStatus !== FLOAT_OK) badValue(s, start, end, what);
  if (sec !== sec || sec === Infinity || sec === -Infinity) fail(start, `invalid ${what} ${quote(s.slice(start, end))}: must be finite`);
  return Math.round(sec * 1000);
}

/** OpenMetrics exemplar ` # {labels} value [timestamp]`, with p at '#'. Validated, then discarded. */
function omExemplar(body: string, p: number, end: number): void {
  if (!(body.charCodeAt(p + 1) === SPACE && body.charCodeAt(p + 2) === LBRACE && p + 2 < end)) {
    fail(p, `expected exemplar '# {' after sample, got ${quote(body.slice(p, Math.min(end, p + 3)))}`);
  }
  p = scanLabels(body, p + 3, end, true, false, p);
  if (p >= end || body.charCodeAt(p) !== SPACE) fail(p, `expected ' ' and a value after exemplar labels, got ${describeChar(body, p, end)}`);
  p++;
  const vs = p;
  p = omToken(body, p, end);
  parseGoFloat(body, vs, p);
  if (floatStatus !== FLOAT_OK) badValue(body, vs, p, 'exemplar value');
  if (p === end) return;
  p++;
  const ts = p;
  p = omToken(body, p, end);
  omTimestamp(body, ts, p, 'exemplar timestamp');
  if (p < end) fail(p, `unexpected ${quote(body.slice(p, end))} after exemplar timestamp (expected end of line)`);
}

/** OpenMetrics sample line: series starts at p (already checked to be a name start). */
function omSample(body: string, p: number, end: number, sink: SampleSink): void {
  const seriesStart = p;
  const seriesEnd = scanSeries(body, p, end, true);
  p = seriesEnd;
  if (p >= end) fail(p, `missing value after series ${quote(body.slice(seriesStart, seriesEnd))}`);
  if (body.charCodeAt(p) !== SPACE) {
    if (body.charCodeAt(p) === TAB) fail(p, `expected ' ' after series, got tab (OpenMetrics separates tokens with exactly one space)`);
    if (seriesEnd === nameEndOffset) fail(p, `invalid character ${describeChar(body, p, end)} in metric name ${quote(body.slice(seriesStart, p))}`);
    fail(p, `expected ' ' after label set, got ${describeChar(body, p, end)}`);
  }
  p++;
  const vs = p;
  p = omToken(body, p, end);
  if (p === vs) fail(p, `expected value after series ${quote(body.slice(seriesStart, seriesEnd))}, got ${describeChar(body, p, end)} (OpenMetrics separates tokens with exactly one space)`);
  const value = parseGoFloat(body, vs, p);
  if (floatStatus !== FLOAT_OK) badValue(body, vs, p, 'sample value');
  let ts: number | undefined;
  if (p < end) {
    p++; // the space
    if (p < end && body.charCodeAt(p) === HASH) {
      omExemplar(body, p, end);
    } else {
      const tsStart = p;
      p = omToken(body, p, end);
      if (p === tsStart) fail(p, `expected timestamp or exemplar after value, got ${describeChar(body, p, end)} (OpenMetrics separates tokens with exactly one space and allows no trailing space)`);
      ts = omTimestamp(body, tsStart, p, 'timestamp');
      if (p < end) {
        p++;
        if (p < end && body.charCodeAt(p) === HASH) omExemplar(body, p, end);
        else fail(p, `unexpected ${quote(body.slice(p - 1, end))} after timestamp (expected end of line or an exemplar)`);
      }
    }
  }
  sink.sample(body.slice(seriesStart, seriesEnd), value, ts);
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/**
 * Parses a whole scrape body and calls `sink.sample` for every sample line, in input order.
 * Histogram and summary series (`_bucket`, `_sum`, `_count`, quantiles) and OpenMetrics
 * `_created` series are ordinary samples. OpenMetrics exemplars are validated and skipped.
 * Lines may end in `\n` or `\r\n`. A leading byte-order mark is ignored.
 *
 * Throws ExpositionError on the first invalid line. Samples before that line have already
 * reached the sink, so the caller must discard the whole scrape (as Prometheus does). For
 * OpenMetrics, a missing `# EOF` or anything after it is an error (reported on the line where
 * `# EOF` was expected or the first line after it). Errors thrown by the sink propagate unchanged.
 *
 * Not reentrant from within a sink callback (it uses module-level scratch state between the
 * start of a line and the sink call). Calling it again after `sample` returns is fine.
 */
export function parseExposition(body: string, format: ExpositionFormat, sink: SampleSink): ParseSummary {
  const om = format === 'openmetrics';
  const n = body.length;
  const metadata = new Map<string, MetricMetadata>();
  let samples = 0;
  let line = 0;
  let pos = n > 0 && body.charCodeAt(0) === 0xfeff ? 1 : 0;
  let sawEof = false;

  while (pos < n) {
    line++;
    let eol = body.indexOf('\n', pos);
    if (eol === -1) eol = n;
    let end = eol;
    if (end > pos && body.charCodeAt(end - 1) === CR) end--;
    curLine = line;
    curLineStart = pos;
    const next = eol + 1;

    if (om) {
      if (pos === end) fail(pos, 'empty line (not allowed in OpenMetrics)');
      const c = body.charCodeAt(pos);
      if (c === HASH) {
        if (omComment(body, pos, end, metadata)) {
          sawEof = true;
          if (next < n) {
            curLine = line + 1;
            curLineStart = next;
            fail(next, 'unexpected content after # EOF');
          }
          break;
        }
      } else if (c < 128 && (CHAR_CLASS[c]! & NAME_START) !== 0) {
        omSample(body, pos, end, sink);
        samples++;
      } else {
        fail(pos, `expected a metric name or '#' at the start of the line, got ${describeChar(body, pos, end)}`);
      }
    } else {
      let p = pos;
      let c = body.charCodeAt(p);
      if (c === SPACE || c === TAB) {
        p = skipBlanks(body, p, end);
        c = body.charCodeAt(p);
      }
      if (p < end) {
        if (c < 128 && (CHAR_CLASS[c]! & NAME_START) !== 0) {
          textSample(body, p, end, sink);
          samples++;
        } else if (c === HASH) {
          textComment(body, p, end, metadata);
        } else {
          fail(p, `expected a metric name or '#' at the start of the line, got ${describeChar(body, p, end)}`);
        }
      }
    }
    pos = next;
  }

  if (om && !sawEof) {
    curLine = body.endsWith('\n') || n === 0 ? line + 1 : line;
    curLineStart = n;
    throw new ExpositionError(curLine, 'missing # EOF: OpenMetrics input must end with "# EOF"');
  }
  return { samples, lines: line, metadata };
}

/** One label of a parsed series. */
export interface SeriesLabel {
  name: string;
  value: string;
}

/**
 * Parses a series text (as given to `SampleSink.sample`) into labels: `__name__` first, then the
 * labels in written order, with label values unescaped (`\\`, `\"`, `\n`). It accepts the
 * text-format series syntax (blanks allowed between tokens, trailing comma allowed), which
 * covers every series text `parseExposition` reports in either format. Surrounding blanks
 * are ignored.
 *
 * Throws ExpositionError for a bad metric or label name, a missing `=` or quote, an unterminated
 * value, an invalid escape, a duplicate label name (including `__name__`), or trailing text.
 * Its `line` is the `line` argument (default 1), because a series text is a single line.
 */
export function parseSeriesText(seriesText: string, line = 1): SeriesLabel[] {
  const s = seriesText;
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === SPACE || s.charCodeAt(end - 1) === TAB)) end--;
  curLine = line;
  curLineStart = 0;
  const start = skipBlanks(s, 0, end);
  if (start >= end || !isClass(s.charCodeAt(start), NAME_START)) {
    fail(start, `expected a metric name, got ${describeChar(s, start, end)}`);
  }
  const seriesEnd = scanSeries(s, start, end, false);
  if (seriesEnd < end) {
    if (seriesEnd === nameEndOffset) fail(seriesEnd, `invalid character ${describeChar(s, seriesEnd, end)} in metric name ${quote(s.slice(start, seriesEnd))}`);
    const extra = skipBlanks(s, seriesEnd, end);
    fail(extra, `unexpected ${quote(s.slice(extra, end))} after the label set`);
  }
  const count = labelCount;
  const offs = labelOffsets;
  const out: SeriesLabel[] = new Array<SeriesLabel>(count + 1);
  out[0] = { name: '__name__', value: s.slice(start, nameEndOffset) };
  for (let k = 0, o = 0; k < count; k++, o += 4) {
    const vs = offs[o + 2]!;
    const ve = offs[o + 3]!;
    let value = s.slice(vs, ve);
    if (value.indexOf('\\') !== -1) value = unescapeLabelValue(value);
    out[k + 1] = { name: s.slice(offs[o]!, offs[o + 1]!), value };
  }
  return out;
}

/** Unescapes an already-validated label value (only `\\`, `\"` and `\n` can occur). */
function unescapeLabelValue(v: string): string {
  let out = '';
  let last = 0;
  for (let i = v.indexOf('\\'); i !== -1; i = v.indexOf('\\', last)) {
    const n = v.charCodeAt(i + 1);
    out += v.slice(last, i) + (n === 110 ? '\n' : n === QUOTE ? '"' : '\\');
    last = i + 2;
  }
  return out + v.slice(last);
}

/**
 * Returns a copy of `seriesText` that shares no memory with the scrape body. Strings from
 * `parseExposition` are usually V8 sliced strings that keep the whole body alive. Call this
 * (once, on a cache miss) before storing a series text beyond the scrape.
 */
export function detachSeriesText(seriesText: string): string {
  return Buffer.from(seriesText, 'utf16le').toString('utf16le');
}
