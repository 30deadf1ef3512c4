import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import {
  ExpositionError,
  detachSeriesText,
  formatFromContentType,
  parseExposition,
  parseSeriesText,
  type ExpositionFormat,
  type ParseSummary,
} from './index.js';

type Sample = [seriesText: string, value: number, timestampMs: number | undefined];

function collect(body: string, format: ExpositionFormat): { samples: Sample[]; summary: ParseSummary } {
  const samples: Sample[] = [];
  const summary = parseExposition(body, format, { sample: (s, v, ts) => void samples.push([s, v, ts]) });
  return { samples, summary };
}

const text = (body: string) => collect(body, 'prometheus-text').samples;
const om = (body: string) => collect(body, 'openmetrics').samples;

/** Runs the parser and returns the ExpositionError it must throw. */
function parseError(body: string, format: ExpositionFormat): ExpositionError {
  try {
    parseExposition(body, format, { sample() {} });
  } catch (e) {
    expect(e).toBeInstanceOf(ExpositionError);
    return e as ExpositionError;
  }
  throw new Error(`expected ExpositionError for ${JSON.stringify(body)}`);
}

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** Independent reading of a Go-formatted sample value (the fixtures use no exotic spellings). */
function goValue(s: string): number {
  if (/^nan$/i.test(s)) return NaN;
  if (/^\+?inf$/i.test(s)) return Infinity;
  if (/^-inf$/i.test(s)) return -Infinity;
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`unexpected value ${s}`);
  return v;
}

/** Independent split of the fixtures' sample lines: no timestamps there, so the value is the last space-separated field. */
function independentSamples(body: string, format: ExpositionFormat): Sample[] {
  const out: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    let series = line;
    if (format === 'openmetrics') {
      // Drop an exemplar: ` # {` never occurs inside the fixture's label values.
      const ex = line.indexOf(' # {');
      if (ex !== -1) series = line.slice(0, ex);
    }
    const sp = series.lastIndexOf(' ');
    out.push([series.slice(0, sp), goValue(series.slice(sp + 1)), undefined]);
  }
  return out;
}

describe('formatFromContentType', () => {
  it('recognises OpenMetrics media types, case-insensitively and with parameters', () => {
    expect(formatFromContentType('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(formatFromContentType('application/openmetrics-text')).toBe('openmetrics');
    expect(formatFromContentType(' Application/OpenMetrics-Text ;version=0.0.1')).toBe('openmetrics');
  });
  it('falls back to the text format for everything else', () => {
    expect(formatFromContentType('text/plain; version=0.0.4; charset=utf-8')).toBe('prometheus-text');
    expect(formatFromContentType('application/json')).toBe('prometheus-text');
    expect(formatFromContentType('')).toBe('prometheus-text');
    expect(formatFromContentType(null)).toBe('prometheus-text');
    expect(formatFromContentType(undefined)).toBe('prometheus-text');
  });
});

describe('real exposition bodies (fixtures/)', () => {
  const textFixtures = ['node-exporter.prom', 'node-exporter.accept-openmetrics.prom', 'prometheus-server.prom'];

  for (const name of textFixtures) {
    it(`${name}: reports every sample line, in order, with the right series text and value`, () => {
      const body = fixture(name);
      const { samples, summary } = collect(body, 'prometheus-text');
      const expected = independentSamples(body, 'prometheus-text');
      expect(expected.length).toBeGreaterThan(250);
      expect(summary.samples).toBe(expected.length);
      expect(samples).toEqual(expected);
      expect(summary.lines).toBe(body.split('\n').length - 1);
    });

    it(`${name}: every series text parses into labels`, () => {
      for (const [series] of text(fixture(name))) {
        const labels = parseSeriesText(series);
        expect(labels[0]!.name).toBe('__name__');
        expect(series.startsWith(labels[0]!.value)).toBe(true);
        expect(new Set(labels.map((l) => l.name)).size).toBe(labels.length);
      }
    });
  }

  it('node exporter: the scrape that asked for OpenMetrics was answered in text format, and Content-Type says so', () => {
    // node_exporter 1.5 does not enable OpenMetrics; the recorded response header was this:
    const format = formatFromContentType('text/plain; version=0.0.4; charset=utf-8');
    expect(format).toBe('prometheus-text');
    const body = fixture('node-exporter.accept-openmetrics.prom');
    expect(collect(body, format).summary.samples).toBe(independentSamples(body, format).length);
    // Parsing it as OpenMetrics would be wrong, and the parser says why.
    expect(parseError(body, 'openmetrics').message).toMatch(/^line \d+: invalid metric type "untyped"/);
  });

  it('node exporter: summaries come through as their quantile/_sum/_count series, metadata is collected', () => {
    const { samples, summary } = collect(fixture('node-exporter.prom'), 'prometheus-text');
    const series = samples.map(([s]) => s);
    expect(series).toEqual(
      expect.arrayContaining([
        'go_gc_duration_seconds{quantile="0"}',
        'go_gc_duration_seconds{quantile="0.5"}',
        'go_gc_duration_seconds{quantile="1"}',
        'go_gc_duration_seconds_sum',
        'go_gc_duration_seconds_count',
      ]),
    );
    expect(summary.metadata.get('go_gc_duration_seconds')).toEqual({
      type: 'summary',
      help: 'A summary of the pause duration of garbage collection cycles.',
    });
    expect(summary.metadata.get('node_cpu_seconds_total')?.type).toBe('counter');
    expect(summary.metadata.get('node_load1')?.type).toBe('gauge');
    // A label value with spaces, '#' and parentheses.
    const uname = samples.find(([s]) => s.startsWith('node_uname_info'))!;
    expect(parseSeriesText(uname[0])).toContainEqual({ name: 'version', value: '#1 SMP PREEMPT_DYNAMIC @0' });
  });

  it('prometheus server: histograms come through as _bucket/_sum/_count, +Inf bucket equals _count, NaN quantiles parse', () => {
    const { samples, summary } = collect(fixture('prometheus-server.prom'), 'prometheus-text');
    const histograms = [...summary.metadata].filter(([, m]) => m.type === 'histogram').map(([n]) => n);
    expect(histograms.length).toBeGreaterThanOrEqual(5);
    const byName = new Map<string, Sample[]>();
    for (const s of samples) {
      const name = parseSeriesText(s[0])[0]!.value;
      byName.set(name, [...(byName.get(name) ?? []), s]);
    }
    for (const h of histograms) {
      const buckets = byName.get(`${h}_bucket`) ?? [];
      const sums = byName.get(`${h}_sum`) ?? [];
      const counts = byName.get(`${h}_count`) ?? [];
      expect(buckets.length, h).toBeGreaterThan(1);
      expect(sums.length, h).toBe(counts.length);
      for (const [countSeries, count] of counts) {
        const labels = parseSeriesText(countSeries).slice(1);
        const inf = buckets.find(([b]) => {
          const bl = parseSeriesText(b).slice(1);
          return bl.some((l) => l.name === 'le' && l.value === '+Inf') && labels.every((l) => bl.some((x) => x.name === l.name && x.value === l.value));
        });
        expect(inf?.[1], `${h} +Inf bucket`).toBe(count);
      }
    }
    const nanQuantiles = samples.filter(([s, v]) => s.includes('quantile=') && Number.isNaN(v));
    expect(nanQuantiles.length).toBeGreaterThan(0);
  });

  it('prom-client OpenMetrics: every sample, exemplars skipped, Nan/+Inf/-Inf, escapes, metadata, # EOF', () => {
    const body = fixture('prom-client.openmetrics.txt');
    expect(body.endsWith('# EOF\n')).toBe(true);
    const { samples, summary } = collect(body, 'openmetrics');
    const expected = independentSamples(body, 'openmetrics');
    expect(expected.length).toBeGreaterThan(50);
    expect(summary.samples).toBe(expected.length);
    expect(samples).toEqual(expected);
    expect(summary.lines).toBe(body.split('\n').length - 1);

    const get = (series: string) => samples.find(([s]) => s === series)?.[1];
    // A sample carrying an exemplar: value is the sample's, not the exemplar's.
    expect(body).toContain('http_request_duration_seconds_bucket{le="+Inf",method="get"} 5 # {trace_id="t7"} 7 ');
    expect(get('http_request_duration_seconds_bucket{le="+Inf",method="get"}')).toBe(5);
    expect(get('http_request_duration_seconds_sum{method="get"}')).toBe(7.621);
    expect(get('http_requests_total{code="200",method="get",path="/api/v1/query"}')).toBe(1027);
    expect(body).toContain('special_values{kind="nan"} Nan');
    expect(get('special_values{kind="nan"}')).toBeNaN();
    expect(get('special_values{kind="pinf"}')).toBe(Infinity);
    expect(get('special_values{kind="ninf"}')).toBe(-Infinity);
    expect(get('special_values{kind="big"}')).toBe(1.7976931348623157e308);
    expect(get('special_values{kind="tiny"}')).toBe(1.5e-300);
    expect(get('rpc_duration_seconds{quantile="0.99",service="store"}')).toBe(0.0995);

    const escaped = samples.find(([s]) => s.startsWith('http_requests_total{code="500"'))![0];
    expect(parseSeriesText(escaped)).toEqual([
      { name: '__name__', value: 'http_requests_total' },
      { name: 'code', value: '500' },
      { name: 'method', value: 'post' },
      { name: 'path', value: '/a "quoted" \\ path\nnewline' },
    ]);
    expect(summary.metadata.get('http_requests')).toEqual({
      type: 'counter',
      help: 'Requests handled, by "code" and method.\nSecond line with a backslash \\ here.',
    });
    expect(summary.metadata.get('http_request_duration_seconds')?.type).toBe('histogram');
    expect(summary.metadata.get('rpc_duration_seconds')?.type).toBe('summary');
  });
});

describe('text format rules', () => {
  it('splits series text, value and integer-ms timestamp', () => {
    expect(text('http_requests_total{code="200",method="get"} 1027 1395066363000\nup 1\n')).toEqual([
      ['http_requests_total{code="200",method="get"}', 1027, 1395066363000],
      ['up', 1, undefined],
    ]);
  });

  it('accepts negative timestamps', () => {
    expect(text('a 1 -5\n')).toEqual([['a', 1, -5]]);
  });

  it('accepts blank lines, whitespace-only lines, comments and tolerates \\r\\n', () => {
    const body = '\n# a comment\n#no space comment\n   \n\t\na 1\r\nb{x="y"} 2 3\r\n# HELPER is a comment too\n\r\n';
    expect(text(body)).toEqual([
      ['a', 1, undefined],
      ['b{x="y"}', 2, 3],
    ]);
  });

  it('accepts the last line without a newline, and an empty body', () => {
    expect(text('a 1\nb 2')).toEqual([
      ['a', 1, undefined],
      ['b', 2, undefined],
    ]);
    expect(collect('', 'prometheus-text').summary).toEqual({ samples: 0, lines: 0, metadata: new Map() });
  });

  it('allows blanks around tokens and a trailing comma; series text keeps inner blanks and is trimmed outside', () => {
    const samples = text('  a { x = "1" , y="2" , }   3   \n');
    expect(samples).toEqual([['a { x = "1" , y="2" , }', 3, undefined]]);
    expect(parseSeriesText(samples[0]![0])).toEqual([
      { name: '__name__', value: 'a' },
      { name: 'x', value: '1' },
      { name: 'y', value: '2' },
    ]);
    expect(text('a\t1\t5\n')).toEqual([['a', 1, 5]]);
  });

  it('accepts {} with no labels, and a value right after } (as Prometheus does)', () => {
    expect(text('a{} 1\nb{x="1"}2\n')).toEqual([
      ['a{}', 1, undefined],
      ['b{x="1"}', 2, undefined],
    ]);
    expect(parseSeriesText('a{}')).toEqual([{ name: '__name__', value: 'a' }]);
  });

  it('tolerates a missing comma between label pairs (as Prometheus does)', () => {
    const [[series]] = text('a{x="1" y="2"} 1\n') as [Sample];
    expect(parseSeriesText(series).map((l) => l.name)).toEqual(['__name__', 'x', 'y']);
  });

  it('accepts metric names with colons and label values with any characters', () => {
    const samples = text('job:http_requests:rate5m{path="/a b,c}=d#e",u="héllo ✓"} 0.5\n');
    expect(samples).toEqual([['job:http_requests:rate5m{path="/a b,c}=d#e",u="héllo ✓"}', 0.5, undefined]]);
    expect(parseSeriesText(samples[0]![0])).toEqual([
      { name: '__name__', value: 'job:http_requests:rate5m' },
      { name: 'path', value: '/a b,c}=d#e' },
      { name: 'u', value: 'héllo ✓' },
    ]);
  });

  it('handles escapes in label values: series text is raw, parseSeriesText unescapes', () => {
    const samples = text('a{x="back\\\\slash",y="q\\"uote",z="new\\nline"} 1\n');
    expect(samples[0]![0]).toBe('a{x="back\\\\slash",y="q\\"uote",z="new\\nline"}');
    expect(parseSeriesText(samples[0]![0])).toEqual([
      { name: '__name__', value: 'a' },
      { name: 'x', value: 'back\\slash' },
      { name: 'y', value: 'q"uote' },
      { name: 'z', value: 'new\nline' },
    ]);
    // An escaped quote followed by more text, and a value ending in an escaped backslash.
    expect(parseSeriesText('a{x="\\"}\\" ",y="\\\\"}')).toEqual([
      { name: '__name__', value: 'a' },
      { name: 'x', value: '"}" ' },
      { name: 'y', value: '\\' },
    ]);
  });

  it('emits histogram and summary series as ordinary samples', () => {
    const body = [
      '# HELP rpc_seconds RPC latency.',
      '# TYPE rpc_seconds histogram',
      'rpc_seconds_bucket{le="0.1"} 3',
      'rpc_seconds_bucket{le="+Inf"} 5',
      'rpc_seconds_sum 1.25',
      'rpc_seconds_count 5',
      '# TYPE q summary',
      'q{quantile="0.99"} NaN',
      'q_sum 0',
      'q_count 0',
      '',
    ].join('\n');
    const { samples, summary } = collect(body, 'prometheus-text');
    expect(samples.map(([s]) => s)).toEqual([
      'rpc_seconds_bucket{le="0.1"}',
      'rpc_seconds_bucket{le="+Inf"}',
      'rpc_seconds_sum',
      'rpc_seconds_count',
      'q{quantile="0.99"}',
      'q_sum',
      'q_count',
    ]);
    expect(samples[4]![1]).toBeNaN();
    expect(summary.metadata).toEqual(
      new Map([
        ['rpc_seconds', { type: 'histogram', help: 'RPC latency.' }],
        ['q', { type: 'summary' }],
      ]),
    );
  });

  it('reads HELP and TYPE metadata, unescaping \\\\ and \\n in HELP', () => {
    const body = '# HELP a Line one\\nline two \\\\ and \\"kept\\".\n#\tTYPE\ta\tcounter \n# HELP b\n# TYPE c untyped\na 1\n';
    expect(collect(body, 'prometheus-text').summary.metadata).toEqual(
      new Map([
        ['a', { help: 'Line one\nline two \\ and \\"kept\\".', type: 'counter' }],
        ['b', { help: '' }],
        ['c', { type: 'untyped' }],
      ]),
    );
  });

  it('treats # EOF and # UNIT as plain comments', () => {
    expect(text('a 1\n# EOF\n# UNIT a seconds\nb 2\n')).toHaveLength(2);
  });

  it('ignores a leading byte-order mark', () => {
    expect(text('\ufeffa 1\n')).toEqual([['a', 1, undefined]]);
  });
});

describe('values (Go ParseFloat-compatible, as Prometheus parses them)', () => {
  const cases: [string, number][] = [
    ['1', 1],
    ['-1', -1],
    ['-1.5e-3', -1.5e-3],
    ['1.770328e+06', 1770328],
    ['1E5', 1e5],
    ['+3', 3],
    ['007', 7],
    ['1.', 1],
    ['.5', 0.5],
    ['+.5e-3', 0.0005],
    ['0', 0],
    ['-0', -0],
    ['0.1', 0.1],
    ['0.30000000000000004', 0.30000000000000004],
    ['123456789012345678901234567890', 1.2345678901234568e29],
    ['9007199254740993', 9007199254740992],
    ['1.7976931348623157e308', 1.7976931348623157e308],
    ['4.9e-324', 5e-324],
    ['1e-400', 0],
    ['2.2250738585072014e-308', 2.2250738585072014e-308],
    ['+Inf', Infinity],
    ['-Inf', -Infinity],
    ['Inf', Infinity],
    ['inf', Infinity],
    ['+infinity', Infinity],
    ['-INFINITY', -Infinity],
    ['NaN', NaN],
    ['nan', NaN],
    ['NAN', NaN],
  ];
  for (const [literal, expected] of cases) {
    it(`${literal} -> ${String(expected)} (both formats)`, () => {
      expect(Object.is(text(`a ${literal}\n`)[0]![1], expected)).toBe(true);
      expect(Object.is(om(`a ${literal}\n# EOF\n`)[0]![1], expected)).toBe(true);
    });
  }

  it('parses a spread of decimal literals exactly like Number() does', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const x = (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
      for (const lit of [String(x), x.toExponential(Math.floor(rand() * 16)), x.toFixed(Math.floor(rand() * 10)), x.toPrecision(1 + Math.floor(rand() * 20))]) {
        expect(text(`a ${lit}\n`)[0]![1], lit).toBe(Number(lit));
      }
    }
  });

  const bad = ['12abc', '0x1p3', '0x10', '1_000', '+NaN', '-nan', 'infin', 'Infinit', '.', '-', '+', 'e5', '1e', '1e+', '1..2', '1.2.3', '--1', 'one', '1,5'];
  for (const literal of bad) {
    it(`rejects ${JSON.stringify(literal)}`, () => {
      const e = parseError(`a ${literal}\n`, 'prometheus-text');
      expect(e.message).toBe(`line 1: invalid sample value ${JSON.stringify(literal)}: expected a float such as 1, -1.5e-3, +Inf, -Inf or NaN`);
      expect(parseError(`a ${literal}\n# EOF\n`, 'openmetrics').message).toMatch(/^line 1: invalid sample value/);
    });
  }

  it('rejects finite literals that overflow float64 (Go reports ErrRange)', () => {
    expect(parseError('a 1e400\n', 'prometheus-text').message).toBe('line 1: sample value "1e400" is out of the float64 range');
    expect(parseError('a -1.8e308\n# EOF\n', 'openmetrics').message).toBe('line 1: sample value "-1.8e308" is out of the float64 range');
  });
});

describe('OpenMetrics rules', () => {
  it('requires # EOF and accepts it with or without a final newline', () => {
    expect(om('a 1\n# EOF\n')).toEqual([['a', 1, undefined]]);
    expect(om('a 1\n# EOF')).toEqual([['a', 1, undefined]]);
    expect(collect('# EOF\n', 'openmetrics').summary).toEqual({ samples: 0, lines: 1, metadata: new Map() });
  });

  it('converts float-second timestamps to ms with Math.round', () => {
    expect(om('a 1 1520879607.789\nb 2 1520879607\nc 3 -1.5\nd 4 1.0005\ne 5 1e3\n# EOF\n')).toEqual([
      ['a', 1, 1520879607789],
      ['b', 2, 1520879607000],
      ['c', 3, -1500],
      ['d', 4, 1001],
      ['e', 5, 1_000_000],
    ]);
  });

  it('skips exemplars after the value or after the timestamp', () => {
    const body = [
      'foo_total{a="1"} 17 # {trace_id="abc"} 1.0 1520879607.789',
      'foo_total{a="2"} 18 1520879607.5 # {trace_id="def",span_id="x"} 2',
      'foo_bucket{le="+Inf"} 3 # {} 0.5',
      'foo_bucket{le="1"} 1 # {trace_id="a # {b} c"} -Inf',
      '# EOF',
      '',
    ].join('\n');
    expect(om(body)).toEqual([
      ['foo_total{a="1"}', 17, undefined],
      ['foo_total{a="2"}', 18, 1520879607500],
      ['foo_bucket{le="+Inf"}', 3, undefined],
      ['foo_bucket{le="1"}', 1, undefined],
    ]);
  });

  it('treats _created, info, stateset and gaugehistogram series as ordinary samples; reads TYPE/HELP/UNIT', () => {
    const body = [
      '# TYPE req counter',
      '# UNIT req ',
      '# HELP req Requests with \\"quotes\\" and \\\\.',
      'req_total 5',
      'req_created 1700000000.25',
      '# TYPE build info',
      'build_info{version="1.2"} 1',
      '# TYPE state stateset',
      'state{state="a"} 1',
      'state{state="b"} 0',
      '# TYPE lat_seconds gaugehistogram',
      '# UNIT lat_seconds seconds',
      'lat_seconds_bucket{le="+Inf"} 2',
      'lat_seconds_gcount 2',
      'lat_seconds_gsum 0.5',
      '# TYPE x unknown',
      'x 1',
      '# EOF',
      '',
    ].join('\n');
    const { samples, summary } = collect(body, 'openmetrics');
    expect(samples.map(([s, v]) => [s, v])).toEqual([
      ['req_total', 5],
      ['req_created', 1700000000.25],
      ['build_info{version="1.2"}', 1],
      ['state{state="a"}', 1],
      ['state{state="b"}', 0],
      ['lat_seconds_bucket{le="+Inf"}', 2],
      ['lat_seconds_gcount', 2],
      ['lat_seconds_gsum', 0.5],
      ['x', 1],
    ]);
    expect(summary.metadata).toEqual(
      new Map([
        ['req', { type: 'counter', unit: '', help: 'Requests with "quotes" and \\.' }],
        ['build', { type: 'info' }],
        ['state', { type: 'stateset' }],
        ['lat_seconds', { type: 'gaugehistogram', unit: 'seconds' }],
        ['x', { type: 'unknown' }],
      ]),
    );
  });

  it('tolerates \\r\\n line endings', () => {
    expect(om('# TYPE a gauge\r\na 1 2\r\n# EOF\r\n')).toEqual([['a', 1, 2000]]);
  });

  it('handles label escapes', () => {
    const [[series]] = om('a{x="\\"\\\\\\n"} 1\n# EOF\n') as [Sample];
    expect(parseSeriesText(series)[1]).toEqual({ name: 'x', value: '"\\\n' });
  });
});

describe('parseSeriesText', () => {
  it('returns __name__ first, then labels in written order', () => {
    expect(parseSeriesText('http_requests_total{method="get",code="200"}')).toEqual([
      { name: '__name__', value: 'http_requests_total' },
      { name: 'method', value: 'get' },
      { name: 'code', value: '200' },
    ]);
    expect(parseSeriesText('up')).toEqual([{ name: '__name__', value: 'up' }]);
  });

  const bad: [string, RegExp][] = [
    ['', /^line 1: expected a metric name, got end of line$/],
    ['{a="b"}', /^line 1: expected a metric name, got '\{'$/],
    ['a-b', /^line 1: invalid character '-' in metric name "a"$/],
    ['a{x="1"} 5', /^line 1: unexpected "5" after the label set$/],
    ['a{x="1",x="2"}', /^line 1: duplicate label name "x"$/],
    ['a{__name__="b"}', /^line 1: label name "__name__" duplicates the metric name "a"$/],
    ['a{x="\\t"}', /^line 1: invalid escape sequence '\\t' in value of label "x"/],
    ['a{x="1}', /^line 1: unterminated value of label "x": missing closing '"'$/],
    ['a{1x="1"}', /^line 1: expected label name or '\}', got '1'$/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      expect(() => parseSeriesText(input)).toThrow(ExpositionError);
      expect(() => parseSeriesText(input)).toThrow(message);
    });
  }

  it('uses the given line number in errors', () => {
    try {
      parseSeriesText('a{x=}', 42);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ExpositionError);
      expect((e as ExpositionError).line).toBe(42);
      expect((e as ExpositionError).message).toBe(`line 42: expected '"' to open the value of label "x", got '}'`);
    }
  });
});

describe('malformed input', () => {
  // [description, format, body, expected line, expected message (after `line N: `)]
  const cases: [string, ExpositionFormat, string, number, string | RegExp][] = [
    ['bad metric name start', 'prometheus-text', 'a 1\n1a 1\n', 2, `expected a metric name or '#' at the start of the line, got '1'`],
    ['bad character in metric name', 'prometheus-text', 'a 1\nb 2\na-b 1\n', 3, `invalid character '-' in metric name "a"`],
    ['bad label name', 'prometheus-text', 'a{x:y="1"} 1\n', 1, `expected '=' after label name "x", got ':'`],
    ['label name starting with a digit', 'prometheus-text', 'a{0x="1"} 1\n', 1, `expected label name or '}', got '0'`],
    ['missing =', 'prometheus-text', '\n\na{code "200"} 1\n', 3, `expected '=' after label name "code", got '"'`],
    ['unquoted label value', 'prometheus-text', 'a{x=1} 1\n', 1, `expected '"' to open the value of label "x", got '1'`],
    ['unterminated quote', 'prometheus-text', 'a 1\na{x="1} 1\nb 2\n', 2, `unterminated value of label "x": missing closing '"'`],
    ['raw newline inside a label value', 'prometheus-text', 'a{x="one\ntwo"} 1\n', 1, `unterminated value of label "x": missing closing '"'`],
    ['unterminated label set', 'prometheus-text', 'a{x="1" 1\n', 1, `expected ',' or '}' after the value of label "x", got '1'`],
    ['label set cut at end of line', 'prometheus-text', 'a{x="1",\n', 1, `unterminated label set: expected label name or '}', got end of line`],
    ['leading comma', 'prometheus-text', 'a{,x="1"} 1\n', 1, `expected label name or '}', got ','`],
    ['double comma', 'prometheus-text', 'a{x="1",,} 1\n', 1, `expected label name or '}', got ','`],
    ['bad escape', 'prometheus-text', 'a{x="\\t"} 1\n', 1, /^invalid escape sequence '\\t' in value of label "x"/],
    ['duplicate label', 'prometheus-text', 'a 1\na{x="1",y="2",x="3"} 1\n', 2, 'duplicate label name "x"'],
    ['__name__ inside braces', 'prometheus-text', 'a{__name__="b"} 1\n', 1, 'label name "__name__" duplicates the metric name "a"'],
    ['missing value', 'prometheus-text', 'a 1\nb\n', 2, 'missing value after series "b"'],
    ['missing value after labels', 'prometheus-text', 'b{x="1"}  \n', 1, 'missing value after series "b{x=\\"1\\"}"'],
    ['bad float', 'prometheus-text', 'a 12abc\n', 1, /^invalid sample value "12abc"/],
    ['second label set', 'prometheus-text', 'a{x="1"}{y="2"} 1\n', 1, /^invalid sample value "\{y=\\"2\\"\}"/],
    ['float timestamp in text format', 'prometheus-text', 'a 1 1.5\n', 1, 'invalid timestamp "1.5": expected integer milliseconds'],
    ['timestamp with +', 'prometheus-text', 'a 1 +5\n', 1, 'invalid timestamp "+5": expected integer milliseconds'],
    ['timestamp out of int64 range', 'prometheus-text', 'a 1 9223372036854775808\n', 1, 'timestamp "9223372036854775808" is out of the int64 range'],
    ['extra field', 'prometheus-text', 'a 1 2 3\n', 1, 'unexpected "3" after timestamp (expected end of line)'],
    ['exemplar in text format', 'prometheus-text', 'a 1 # {x="y"} 1\n', 1, `unexpected '#' after value: exemplars are only allowed in OpenMetrics`],
    ['unknown TYPE', 'prometheus-text', '# TYPE a info\n', 1, 'invalid metric type "info" for "a" (expected counter, gauge, histogram, summary or untyped)'],
    ['TYPE without type', 'prometheus-text', 'a 1\n# TYPE a\n', 2, 'missing metric type after # TYPE a'],
    ['HELP without name', 'prometheus-text', '# HELP \n', 1, 'expected metric name after # HELP, got end of line'],
    ['HELP with bad name', 'prometheus-text', '# HELP a.b text\n', 1, `invalid character '.' in metric name "a" in # HELP`],
    ['control character', 'prometheus-text', 'a 1\n\u0001\n', 2, `expected a metric name or '#' at the start of the line, got control character U+0001`],
    ['error after \\r\\n lines', 'prometheus-text', 'a 1\r\nb 2\r\nc x\r\n', 3, /^invalid sample value "x"/],

    ['missing # EOF', 'openmetrics', 'a 1\nb 2\n', 3, 'missing # EOF: OpenMetrics input must end with "# EOF"'],
    ['missing # EOF, no final newline', 'openmetrics', 'a 1\nb 2', 2, 'missing # EOF: OpenMetrics input must end with "# EOF"'],
    ['empty body', 'openmetrics', '', 1, 'missing # EOF: OpenMetrics input must end with "# EOF"'],
    ['content after # EOF', 'openmetrics', 'a 1\n# EOF\nb 1\n', 3, 'unexpected content after # EOF'],
    ['blank line after # EOF', 'openmetrics', '# EOF\n\n', 2, 'unexpected content after # EOF'],
    ['text after # EOF on its line', 'openmetrics', 'a 1\n# EOF x\n', 2, 'unexpected text after # EOF'],
    ['blank line', 'openmetrics', 'a 1\n\n# EOF\n', 2, 'empty line (not allowed in OpenMetrics)'],
    ['unknown comment', 'openmetrics', '# TYPE a gauge\n# hello\n# EOF\n', 2, 'invalid comment "# hello": OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF'],
    ['comment without space', 'openmetrics', '#HELP a b\n# EOF\n', 1, /^invalid comment "#HELP a b"/],
    ['untyped is text-format only', 'openmetrics', '# TYPE a untyped\n# EOF\n', 1, /^invalid metric type "untyped" for "a"/],
    ['unit not a suffix', 'openmetrics', '# UNIT a_seconds bytes\n# EOF\n', 1, 'unit "bytes" is not a suffix of metric name "a_seconds" (expected the name to end in "_bytes")'],
    ['HELP without text', 'openmetrics', '# HELP a\n# EOF\n', 1, `expected ' ' and text after metric name "a" in # HELP`],
    ['leading space', 'openmetrics', ' a 1\n# EOF\n', 1, `expected a metric name or '#' at the start of the line, got ' '`],
    ['two spaces before value', 'openmetrics', 'a  1\n# EOF\n', 1, `expected value after series "a", got ' ' (OpenMetrics separates tokens with exactly one space)`],
    ['tab separator', 'openmetrics', 'a\t1\n# EOF\n', 1, `expected ' ' after series, got tab (OpenMetrics separates tokens with exactly one space)`],
    ['trailing space', 'openmetrics', 'a 1 \n# EOF\n', 1, /^expected timestamp or exemplar after value, got end of line/],
    ['spaces inside labels', 'openmetrics', 'a{x = "1"} 1\n# EOF\n', 1, `expected '=' after label name "x", got ' '`],
    ['space after comma', 'openmetrics', 'a{x="1", y="2"} 1\n# EOF\n', 1, `expected label name or '}', got ' ' (OpenMetrics allows no spaces inside {})`],
    ['trailing comma', 'openmetrics', 'a{x="1",} 1\n# EOF\n', 1, `trailing comma before '}' is not allowed in OpenMetrics`],
    ['duplicate label', 'openmetrics', 'a{x="1",x="1"} 1\n# EOF\n', 1, 'duplicate label name "x"'],
    ['NaN timestamp', 'openmetrics', 'a 1 NaN\n# EOF\n', 1, 'invalid timestamp "NaN": must be finite'],
    ['bad timestamp', 'openmetrics', 'a 1 12:00\n# EOF\n', 1, /^invalid timestamp "12:00"/],
    ['text after timestamp', 'openmetrics', 'a 1 2 3\n# EOF\n', 1, 'unexpected " 3" after timestamp (expected end of line or an exemplar)'],
    ['malformed exemplar start', 'openmetrics', 'a_total 1 #{x="y"} 1\n# EOF\n', 1, `expected exemplar '# {' after sample, got "#{x"`],
    ['exemplar with unquoted value', 'openmetrics', 'a_total 1 # {trace_id=abc} 1\n# EOF\n', 1, `expected '"' to open the value of label "trace_id", got 'a'`],
    ['exemplar without value', 'openmetrics', 'a_total 1 # {a="b"}\n# EOF\n', 1, `expected ' ' and a value after exemplar labels, got end of line`],
    ['exemplar with bad value', 'openmetrics', 'a_total 1 # {a="b"} x\n# EOF\n', 1, /^invalid exemplar value "x"/],
    ['exemplar with bad timestamp', 'openmetrics', 'a_total 1 # {a="b"} 1 Inf\n# EOF\n', 1, 'invalid exemplar timestamp "Inf": must be finite'],
    ['text after exemplar', 'openmetrics', 'a_total 1 # {a="b"} 1 2 3\n# EOF\n', 1, 'unexpected " 3" after exemplar timestamp (expected end of line)'],
  ];

  for (const [description, format, body, line, message] of cases) {
    it(`${format}: ${description} -> line ${line}`, () => {
      const e = parseError(body, format);
      expect(e.line).toBe(line);
      expect(e.name).toBe('ExpositionError');
      if (typeof message === 'string') {
        expect(e.reason).toBe(message);
        expect(e.message).toBe(`line ${line}: ${message}`);
      } else {
        expect(e.reason).toMatch(message);
        expect(e.message.startsWith(`line ${line}: `)).toBe(true);
      }
    });
  }

  it('reports the column of the problem', () => {
    expect(parseError('a 1\nfoo{code "200"} 1\n', 'prometheus-text').column).toBe(10);
    expect(parseError('abc 1x\n', 'prometheus-text').column).toBe(5);
  });

  it('propagates an error thrown by the sink unchanged', () => {
    const boom = new Error('sink failed');
    expect(() =>
      parseExposition('a 1\nb 2\n', 'prometheus-text', {
        sample(s) {
          if (s === 'b') throw boom;
        },
      }),
    ).toThrow(boom);
  });
});

describe('robustness', () => {
  it('on random mutations of real input: never hangs, throws only ExpositionError, and every reported series text parses', () => {
    const sources: [ExpositionFormat, string[]][] = [
      ['prometheus-text', fixture('node-exporter.prom').split('\n').slice(0, 300)],
      ['openmetrics', fixture('prom-client.openmetrics.txt').split('\n').filter((l) => l !== '# EOF' && l !== '')],
    ];
    const alphabet = ['{', '}', '"', '\\', ',', '=', ' ', '\t', '\r', '\n', '#', 'a', '1', '.', 'e', '-', '+', 'I', 'N', '_', ':', 'é'];
    let seed = 12345;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 4000; i++) {
      const [format, lines] = sources[i % 2]!;
      const start = rand(lines.length - 3);
      let chunk = lines.slice(start, start + 3).join('\n');
      for (let m = 1 + rand(3); m > 0; m--) {
        const at = rand(chunk.length + 1);
        const op = rand(3);
        const ch = alphabet[rand(alphabet.length)]!;
        chunk = op === 0 ? chunk.slice(0, at) + ch + chunk.slice(at) : op === 1 ? chunk.slice(0, at) + chunk.slice(at + 1) : chunk.slice(0, at) + ch + chunk.slice(at + 1);
      }
      const body = format === 'openmetrics' ? `${chunk}\n# EOF\n` : `${chunk}\n`;
      const series: string[] = [];
      try {
        parseExposition(body, format, { sample: (s) => void series.push(s) });
        accepted++;
      } catch (e) {
        if (!(e instanceof ExpositionError)) throw new Error(`non-ExpositionError for ${JSON.stringify(body)}: ${String(e)}`, { cause: e });
        expect(e.line).toBeGreaterThanOrEqual(1);
        rejected++;
        continue;
      }
      for (const s of series) {
        expect(s).toBe(s.trim());
        expect(() => parseSeriesText(s), s).not.toThrow();
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });

  it('handles a large body without a newline-per-line blow-up, and many labels', () => {
    const labels = Array.from({ length: 40 }, (_, i) => `l${i}="${'v'.repeat(i)}"`).join(',');
    const body = `${Array.from({ length: 20000 }, (_, i) => `m{${labels},i="${i}"} ${i}`).join('\n')}\n`;
    let n = 0;
    parseExposition(body, 'prometheus-text', {
      sample(s, v) {
        if (n++ === 0) expect(parseSeriesText(s)).toHaveLength(42);
        expect(v).toBe(n - 1);
      },
    });
    expect(n).toBe(20000);
  });
});

describe('detachSeriesText', () => {
  it('returns an equal string', () => {
    const [[series]] = text('http_requests_total{code="200",method="get",path="/x"} 1\n') as [Sample];
    expect(detachSeriesText(series)).toBe(series);
    expect(detachSeriesText('a{x="é✓\\n"}')).toBe('a{x="é✓\\n"}');
  });
});
