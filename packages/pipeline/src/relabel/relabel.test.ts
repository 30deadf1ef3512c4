import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Label } from '../labels.js';
import {
  compileRelabelConfigs,
  createRelabelConfigSchema,
  isValidLabelNameTemplate,
  relabel,
  relabelConfigSchema,
  RelabelConfigError,
  type NameValidationScheme,
  type RelabelConfig,
  type RelabelConfigInput,
} from './index.js';

/** labels.FromMap: a sorted label set. */
function L(map: Record<string, string>): Label[] {
  return Object.entries(map)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function rules(inputs: RelabelConfigInput[], scheme: NameValidationScheme = 'legacy') {
  const schema = createRelabelConfigSchema({ nameValidationScheme: scheme });
  return compileRelabelConfigs(
    inputs.map((i) => schema.parse(i)),
    { nameValidationScheme: scheme },
  );
}

function run(input: Record<string, string>, cfgs: RelabelConfigInput[], scheme: NameValidationScheme = 'legacy') {
  return relabel(L(input), rules(cfgs, scheme));
}

/** Issues as "path: message" lines (path joined with dots, as a caller would print it). */
function issues(input: unknown, scheme: NameValidationScheme = 'legacy'): string[] {
  const r = createRelabelConfigSchema({ nameValidationScheme: scheme }).safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

interface Case {
  name: string;
  input: Record<string, string>;
  relabel: RelabelConfigInput[];
  output?: Record<string, string>;
  drop?: boolean;
  /** Uses UTF-8 label names: only valid under the utf8 scheme. */
  utf8Only?: boolean;
}

// Ported from prometheus/prometheus model/relabel/relabel_test.go, TestRelabel (all cases).
// Fields the Go test leaves unset take the same defaults there (its harness fills action,
// separator, regex and replacement with DefaultRelabelConfig) and here (the schema).
const PROMETHEUS_CASES: Case[] = [
  {
    name: 'replace with ${1} twice',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    relabel: [{ source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch${1}-ch${1}', action: 'replace' }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: 'choo-choo' },
  },
  {
    name: 'two source labels, then overwrite a used label',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    relabel: [
      { source_labels: ['a', 'b'], regex: 'f(.*);(.*)r', target_label: 'a', separator: ';', replacement: 'b${1}${2}m', action: 'replace' },
      { source_labels: ['c', 'a'], regex: '(b).*b(.*)ba(.*)', target_label: 'd', separator: ';', replacement: '$1$2$2$3', action: 'replace' },
    ],
    output: { a: 'boobam', b: 'bar', c: 'baz', d: 'boooom' },
  },
  {
    name: 'drop stops processing',
    input: { a: 'foo' },
    relabel: [
      { source_labels: ['a'], regex: '.*o.*', action: 'drop' },
      { source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch$1-ch$1', action: 'replace' },
    ],
    drop: true,
  },
  {
    name: 'drop on match',
    input: { a: 'foo', b: 'bar' },
    relabel: [{ source_labels: ['a'], regex: '.*o.*', action: 'drop' }],
    drop: true,
  },
  {
    name: 'replace with a group in the middle',
    input: { a: 'abc' },
    relabel: [{ source_labels: ['a'], regex: '.*(b).*', target_label: 'd', separator: ';', replacement: '$1', action: 'replace' }],
    output: { a: 'abc', d: 'b' },
  },
  {
    name: 'drop without match keeps',
    input: { a: 'foo' },
    relabel: [{ source_labels: ['a'], regex: 'no-match', action: 'drop' }],
    output: { a: 'foo' },
  },
  {
    name: 'drop regex is anchored (f|o does not match foo)',
    input: { a: 'foo' },
    relabel: [{ source_labels: ['a'], regex: 'f|o', action: 'drop' }],
    output: { a: 'foo' },
  },
  {
    name: 'keep without match drops',
    input: { a: 'foo' },
    relabel: [{ source_labels: ['a'], regex: 'no-match', action: 'keep' }],
    drop: true,
  },
  {
    name: 'keep on match',
    input: { a: 'foo' },
    relabel: [{ source_labels: ['a'], regex: 'f.*', action: 'keep' }],
    output: { a: 'foo' },
  },
  {
    name: 'no replacement when there is no match',
    input: { a: 'boo' },
    relabel: [{ source_labels: ['a'], regex: 'f', target_label: 'b', replacement: 'bar', action: 'replace' }],
    output: { a: 'boo' },
  },
  {
    name: 'blank replacement deletes the label',
    input: { a: 'foo', f: 'baz' },
    relabel: [{ source_labels: ['a'], regex: '(f).*', target_label: '$1', replacement: '$2', action: 'replace' }],
    output: { a: 'foo' },
  },
  {
    name: 'hashmod',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    relabel: [{ source_labels: ['c'], target_label: 'd', separator: ';', action: 'hashmod', modulus: 1000 }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: '976' },
  },
  {
    name: 'hashmod of a value with a newline',
    input: { a: 'foo\nbar' },
    relabel: [{ source_labels: ['a'], target_label: 'b', separator: ';', action: 'hashmod', modulus: 1000 }],
    output: { a: 'foo\nbar', b: '734' },
  },
  {
    name: 'labelmap with prefix',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    relabel: [{ regex: '(b.*)', replacement: 'bar_${1}', action: 'labelmap' }],
    output: { a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' },
  },
  {
    name: 'labelmap of __meta labels',
    input: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc' },
    relabel: [{ regex: '__meta_(my.*)', replacement: '${1}', action: 'labelmap' }],
    output: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc', my_bar: 'aaa', my_baz: 'bbb' },
  },
  {
    name: 'target label from a group (valid case)',
    input: { a: 'some-name-value' },
    relabel: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${2}', target_label: '${1}' }],
    output: { a: 'some-name-value', name: 'value' },
  },
  {
    name: 'replacement from a missing group is empty (nothing set)',
    input: { a: 'some-name-value' },
    relabel: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${3}', target_label: '${1}' }],
    output: { a: 'some-name-value' },
  },
  {
    name: 'invalid expanded target labels are skipped',
    input: { a: 'some-name-0' },
    relabel: [
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
      { source_labels: ['a'], regex: 'some-([^-]+)(-[^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
    ],
    output: { a: 'some-name-0' },
  },
  {
    name: 'real-life like use case',
    input: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar' },
    relabel: [
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)path:(/[^,]+).*', action: 'replace', replacement: '${1}', target_label: '__metrics_path__' },
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)job:([^,]+).*', action: 'replace', replacement: '${1}', target_label: 'job' },
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', action: 'replace', replacement: '${2}', target_label: '${1}' },
    ],
    output: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar', __metrics_path__: '/secret', job: 'some-job', foo: 'bar' },
  },
  {
    name: 'prometheus/prometheus#12283: labeldrop, then replace the dropped label, then keep',
    input: { __meta_kubernetes_pod_container_port_name: 'foo', __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091' },
    relabel: [
      { regex: '^__meta_kubernetes_pod_container_port_name$', action: 'labeldrop' },
      { source_labels: ['__meta_kubernetes_pod_annotation_XXX_metrics_port'], regex: '(.+)', action: 'replace', replacement: 'metrics', target_label: '__meta_kubernetes_pod_container_port_name' },
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: '^metrics$', action: 'keep' },
    ],
    output: { __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091', __meta_kubernetes_pod_container_port_name: 'metrics' },
  },
  {
    name: 'labelkeep',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    relabel: [{ regex: '(b.*)', action: 'labelkeep' }],
    output: { b1: 'bar', b2: 'baz' },
  },
  {
    name: 'labeldrop',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    relabel: [{ regex: '(b.*)', action: 'labeldrop' }],
    output: { a: 'foo' },
  },
  {
    name: 'uppercase and lowercase',
    input: { foo: 'bAr123Foo' },
    relabel: [
      { source_labels: ['foo'], action: 'uppercase', target_label: 'foo_uppercase' },
      { source_labels: ['foo'], action: 'lowercase', target_label: 'foo_lowercase' },
    ],
    output: { foo: 'bAr123Foo', foo_lowercase: 'bar123foo', foo_uppercase: 'BAR123FOO' },
  },
  {
    name: 'keepequal keeps when equal',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    relabel: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port1' }],
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'dropequal drops when equal',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    relabel: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port1' }],
    drop: true,
  },
  {
    name: 'dropequal keeps when different',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    relabel: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port2' }],
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'keepequal drops when different',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    relabel: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port2' }],
    drop: true,
  },
  {
    name: '. matches newlines (regex is compiled with (?s))',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    relabel: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'd', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', d: 'match' },
  },
  {
    name: 'replace on a source label with UTF-8 characters',
    input: { 'utf-8.label': 'line1\nline2', b: 'bar', c: 'baz' },
    relabel: [{ source_labels: ['utf-8.label'], regex: 'line1.*line2', target_label: 'd', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { 'utf-8.label': 'line1\nline2', b: 'bar', c: 'baz', d: 'match' },
    utf8Only: true,
  },
  {
    name: 'replace into a target label with UTF-8 characters',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    relabel: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'utf-8.label', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', 'utf-8.label': 'match' },
    utf8Only: true,
  },
  {
    name: 'replace into a UTF-8 target label with a $variable',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    relabel: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'utf-8.label${1}', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', 'utf-8.label': 'match' },
    utf8Only: true,
  },
  {
    name: 'various $var styles with a named group',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    relabel: [
      { source_labels: ['a'], regex: '(line1).*(?<second>line2)', target_label: 'label1_${1}', separator: ';', replacement: 'val_${second}', action: 'replace' },
      { source_labels: ['a'], regex: '(line1).*(?<second>line2)', target_label: 'label2_$1', separator: ';', replacement: 'val_$second', action: 'replace' },
    ],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', label1_line1: 'val_line2', label2_line1: 'val_line2' },
  },
  {
    name: '__type__ from the metric name',
    input: { __name__: 'http_requests_total' },
    relabel: [{ source_labels: ['__name__'], regex: '.*_total$', target_label: '__type__', replacement: 'counter', action: 'replace' }],
    output: { __name__: 'http_requests_total', __type__: 'counter' },
  },
  {
    name: '__unit__ from the metric name',
    input: { __name__: 'disk_usage_bytes' },
    relabel: [{ source_labels: ['__name__'], regex: '.*_bytes$', target_label: '__unit__', replacement: 'bytes', action: 'replace' }],
    output: { __name__: 'disk_usage_bytes', __unit__: 'bytes' },
  },
];

describe('TestRelabel (ported from Prometheus)', () => {
  for (const scheme of ['utf8', 'legacy'] as const) {
    describe(`name validation ${scheme}`, () => {
      for (const c of PROMETHEUS_CASES) {
        if (c.utf8Only && scheme === 'legacy') continue;
        it(c.name, () => {
          const res = run(c.input, c.relabel, scheme);
          if (c.drop) expect(res).toBeNull();
          else expect(res).toEqual(L(c.output!));
        });
      }
    });
  }

  it('rejects the UTF-8 name cases under legacy validation', () => {
    for (const c of PROMETHEUS_CASES.filter((x) => x.utf8Only)) {
      expect(c.relabel.flatMap((cfg) => issues(cfg, 'legacy')).length).toBeGreaterThan(0);
    }
  });
});

describe('TestRelabelValidate (ported from Prometheus)', () => {
  const cases: { config: unknown; scheme: NameValidationScheme; expected?: string }[] = [
    { config: { action: null }, scheme: 'legacy', expected: 'action: must not be empty' },
    { config: { action: 'replace' }, scheme: 'legacy', expected: 'target_label: required for action replace' },
    { config: { action: 'lowercase' }, scheme: 'legacy', expected: 'target_label: required for action lowercase' },
    {
      config: { action: 'lowercase', replacement: '$1', target_label: '${3}' },
      scheme: 'legacy',
      expected: 'target_label: "${3}" is not a valid label name for action lowercase',
    },
    // With UTF-8 naming these are legal.
    { config: { action: 'lowercase', replacement: '$1', target_label: '${3}' }, scheme: 'utf8' },
    { config: { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' }, scheme: 'utf8' },
    { config: { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '0${3}' }, scheme: 'utf8' },
    { config: { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '-${3}' }, scheme: 'utf8' },
    // The same under legacy naming (from the Prometheus 2.x version of the test).
    { config: { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' }, scheme: 'legacy' },
    {
      config: { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '0${3}' },
      scheme: 'legacy',
      expected: 'target_label: "0${3}" is not a valid label name or $-template for action replace',
    },
    {
      config: { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '-${3}' },
      scheme: 'legacy',
      expected: 'target_label: "-${3}" is not a valid label name or $-template for action replace',
    },
  ];
  cases.forEach((c, i) => {
    it(`case ${i}: ${c.expected ?? 'valid'} (${c.scheme})`, () => {
      const got = issues(c.config, c.scheme);
      if (c.expected) expect(got).toEqual([c.expected]);
      else expect(got).toEqual([]);
    });
  });
});

describe('TestTargetLabelLegacyValidity (ported from Prometheus)', () => {
  const cases: [string, boolean][] = [
    ['-label', false],
    ['label', true],
    ['label${1}', true],
    ['${1}label', true],
    ['${1}', true],
    ['${1}label', true],
    ['${', false],
    ['$', false],
    ['${}', false],
    ['foo${', false],
    ['$1', true],
    ['asd$2asd', true],
    ['-foo${1}bar-', false],
    ['bar.foo${1}bar', false],
    ['_${1}_', true],
    ['foo${bar}foo', true],
  ];
  for (const [str, valid] of cases) {
    it(`${JSON.stringify(str)} is ${valid ? 'valid' : 'invalid'}`, () => {
      expect(isValidLabelNameTemplate(str, 'legacy')).toBe(valid);
    });
  }

  it('does not backtrack exponentially on long invalid input', () => {
    const start = performance.now();
    expect(isValidLabelNameTemplate(`${'a$b'.repeat(5000)}-`, 'legacy')).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });
});

describe('BenchmarkRelabel configs (ported from Prometheus)', () => {
  const parseAll = (yamlText: string): RelabelConfig[] =>
    z.array(relabelConfigSchema).parse(parseYaml(yamlText) as unknown);

  it('example (from config/testdata/conf.good.yml)', () => {
    const cfgs = parseAll(`
            - source_labels: [job, __meta_dns_name]
              regex: "(.*)some-[regex]"
              target_label: job
              replacement: foo-\${1}
              # action defaults to 'replace'
            - source_labels: [abc]
              target_label: cde
            - replacement: static
              target_label: abc
            - regex:
              replacement: static
              target_label: abc`);
    expect(cfgs[3]!.regex).toBe(''); // `regex:` is YAML null: Go's zero value, the empty regex
    const out = relabel(
      L({ __meta_dns_name: 'example-some-x.com', abc: 'def', job: 'foo' }),
      compileRelabelConfigs(cfgs),
    );
    expect(out).toEqual(L({ __meta_dns_name: 'example-some-x.com', abc: 'static', cde: 'def', job: 'foo' }));
  });

  it('kubernetes', () => {
    const cfgs = parseAll(`
        - source_labels:
            - __meta_kubernetes_pod_container_port_name
          regex: .*-metrics
          action: keep
        - source_labels:
            - __meta_kubernetes_pod_label_name
          action: drop
          regex: ""
        - source_labels:
            - __meta_kubernetes_pod_phase
          regex: Succeeded|Failed
          action: drop
        - source_labels:
            - __meta_kubernetes_pod_annotation_prometheus_io_scrape
          regex: "false"
          action: drop
        - source_labels:
            - __meta_kubernetes_pod_annotation_prometheus_io_scheme
          target_label: __scheme__
          regex: (https?)
          replacement: $1
          action: replace
        - source_labels:
            - __meta_kubernetes_pod_annotation_prometheus_io_path
          target_label: __metrics_path__
          regex: (.+)
          replacement: $1
          action: replace
        - source_labels:
            - __address__
            - __meta_kubernetes_pod_annotation_prometheus_io_port
          target_label: __address__
          regex: (.+?)(\\:\\d+)?;(\\d+)
          replacement: $1:$3
          action: replace
        - regex: __meta_kubernetes_pod_annotation_prometheus_io_param_(.+)
          replacement: __param_$1
          action: labelmap
        - regex: __meta_kubernetes_pod_label_prometheus_io_label_(.+)
          action: labelmap
        - regex: __meta_kubernetes_pod_annotation_prometheus_io_label_(.+)
          action: labelmap
        - source_labels:
            - __meta_kubernetes_namespace
            - __meta_kubernetes_pod_label_name
          separator: /
          target_label: job
          replacement: $1
          action: replace
        - source_labels:
          - __meta_kubernetes_namespace
          target_label: namespace
          action: replace
        - source_labels:
            - __meta_kubernetes_pod_name
          target_label: pod
          action: replace
        - source_labels:
            - __meta_kubernetes_pod_container_name
          target_label: container
          action: replace
        - source_labels:
            - __meta_kubernetes_pod_name
            - __meta_kubernetes_pod_container_name
            - __meta_kubernetes_pod_container_port_name
          separator: ':'
          target_label: instance
          action: replace
        - target_label: cluster
          replacement: dev-us-central-0
        - source_labels:
            - __meta_kubernetes_namespace
          regex: hosted-grafana
          action: drop
        - source_labels:
            - __address__
          target_label: __tmp_hash
          modulus: 3
          action: hashmod
        - source_labels:
            - __tmp_hash
          regex: ^0$
          action: keep
        - regex: __tmp_hash
          action: labeldrop`);
    expect(cfgs).toHaveLength(20);
    const input = L({
      __address__: '10.132.183.40:80',
      __meta_kubernetes_namespace: 'loki-boltdb-shipper',
      __meta_kubernetes_pod_annotation_promtail_loki_boltdb_shipper_hash: '50523b9759094a144adcec2eae0aa4ad',
      __meta_kubernetes_pod_container_name: 'promtail',
      __meta_kubernetes_pod_container_port_name: 'http-metrics',
      __meta_kubernetes_pod_label_name: 'promtail-loki-boltdb-shipper',
      __meta_kubernetes_pod_name: 'promtail-loki-boltdb-shipper-jgtr7',
      __meta_kubernetes_pod_phase: 'Running',
      job: 'kubernetes-pods',
    });
    const expected = L({
      ...Object.fromEntries(input.map((l) => [l.name, l.value])),
      job: 'loki-boltdb-shipper/promtail-loki-boltdb-shipper',
      namespace: 'loki-boltdb-shipper',
      pod: 'promtail-loki-boltdb-shipper-jgtr7',
      container: 'promtail',
      instance: 'promtail-loki-boltdb-shipper-jgtr7:promtail:http-metrics',
      cluster: 'dev-us-central-0',
    });
    const withoutSharding = relabel(input, compileRelabelConfigs(cfgs.slice(0, 17)));
    expect(withoutSharding).toEqual(expected);
    const hash = relabel(input, compileRelabelConfigs(cfgs.slice(0, 18)))!.find((l) => l.name === '__tmp_hash')!.value;
    expect(['0', '1', '2']).toContain(hash);
    expect(relabel(input, compileRelabelConfigs(cfgs))).toEqual(hash === '0' ? expected : null);
  });

  it('static label pair', () => {
    const cfgs = parseAll(`
        - replacement: wwwwww
          target_label: wwwwww
        - replacement: yyyyyyyyyyyy
          target_label: xxxxxxxxx
        - replacement: xxxxxxxxx
          target_label: yyyyyyyyyyyy
        - source_labels: ["something"]
          target_label: with_source_labels
          replacement: value
        - replacement: dropped
          target_label: \${0}
        - replacement: \${0}
          target_label: dropped`);
    const base = { abcdefg01: 'hijklmn1', abcdefg02: 'hijklmn2', job: 'foo', dropped: 'x' };
    expect(relabel(L(base), compileRelabelConfigs(cfgs))).toEqual(
      L({
        abcdefg01: 'hijklmn1',
        abcdefg02: 'hijklmn2',
        job: 'foo',
        wwwwww: 'wwwwww',
        xxxxxxxxx: 'yyyyyyyyyyyy',
        yyyyyyyyyyyy: 'xxxxxxxxx',
        with_source_labels: 'value',
      }),
    );
  });
});

describe('TestConfig_UnmarshalThenMarshal inputs (ported from Prometheus)', () => {
  it.each([
    'source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port]\nseparator: ;\nregex: \\\\d+\ntarget_label: __meta_kubernetes_pod_container_port_number\nreplacement: $1\naction: replace\n',
    'source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port]\nseparator: ;\ntarget_label: __meta_kubernetes_pod_container_port_number\nreplacement: $1\naction: keepequal\n',
    'source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port]\nseparator: ;\nregex: (.*)\ntarget_label: __meta_kubernetes_pod_container_port_number\nreplacement: $1\naction: replace\n',
  ])('parses %#', (text) => {
    expect(issues(parseYaml(text))).toEqual([]);
  });
});

describe('replacement expansion (Go Regexp.Expand rules)', () => {
  const expandWith = (regex: string, replacement: string, value = 'foo'): string | undefined =>
    run({ a: value }, [{ source_labels: ['a'], regex, target_label: 't', replacement }])?.find((l) => l.name === 't')?.value;

  it('$1 and ${1}', () => {
    expect(expandWith('(f)(o+)', '$1')).toBe('f');
    expect(expandWith('(f)(o+)', '${2}${1}')).toBe('oof');
    expect(expandWith('(f)(o+)', '$2$1')).toBe('oof');
  });
  it('$1x names group "1x" (empty), ${1}x is group 1 then x', () => {
    expect(expandWith('(f)(o+)', '$1x')).toBeUndefined();
    expect(expandWith('(f)(o+)', '${1}x')).toBe('fx');
    expect(expandWith('(f)(o+)', '$1_$2')).toBe('oo'); // "$1_" is a name too
  });
  it('$0 is the whole match; leading zeros make a name', () => {
    expect(expandWith('f(o+)', '<$0>')).toBe('<foo>');
    expect(expandWith('f(o+)', '<$01>')).toBe('<>');
  });
  it('$$ is a literal $; malformed references keep the $', () => {
    expect(expandWith('f(o+)', '$$1')).toBe('$1');
    expect(expandWith('f(o+)', 'a$')).toBe('a$');
    expect(expandWith('f(o+)', '${1')).toBe('${1');
    expect(expandWith('f(o+)', '${}')).toBe('${}');
    expect(expandWith('f(o+)', '$-')).toBe('$-');
  });
  it('named groups: (?P<n>) and (?<n>), $n and ${n}', () => {
    expect(expandWith('(?P<first>f)(?<rest>o+)', '$rest-${first}')).toBe('oo-f');
    expect(expandWith('(?P<first>f)o+', '$first_x')).toBeUndefined(); // name "first_x"
    expect(expandWith('(?P<first>f)o+', '${first}_x')).toBe('f_x');
  });
  it('a group named "1x" is reachable as $1x (Go allows names starting with a digit)', () => {
    expect(expandWith('(?P<1x>f)(o+)', '$1x|$1')).toBe('f|f');
  });
  it('duplicate names resolve to the first group that matched', () => {
    expect(expandWith('(?P<n>x)?(?P<n>f)oo', '$n')).toBe('f');
  });
  it('a group beyond the last one expands to nothing', () => {
    expect(expandWith('f(o+)', '[$7]')).toBe('[]');
  });
});

describe('replace semantics', () => {
  it('missing source labels count as empty values', () => {
    expect(run({ a: 'x' }, [{ source_labels: ['a', 'missing', 'a'], target_label: 't' }])).toEqual(L({ a: 'x', t: 'x;;x' }));
  });
  it('a missing source label with the default replacement deletes the target', () => {
    expect(run({ t: 'old', u: '1' }, [{ source_labels: ['missing'], target_label: 't' }])).toEqual(L({ u: '1' }));
  });
  it('static value through the fast path (no source labels)', () => {
    expect(run({ a: '1' }, [{ target_label: 'env', replacement: 'prod' }])).toEqual(L({ a: '1', env: 'prod' }));
  });
  it('static value is not set when the (non-default) regex does not match the empty value', () => {
    expect(run({ a: '1' }, [{ regex: '.+', target_label: 'env', replacement: 'prod' }])).toEqual(L({ a: '1' }));
  });
  it('empty replacement deletes the target label', () => {
    expect(run({ a: 'x', b: 'y' }, [{ source_labels: ['a'], target_label: 'b', replacement: '' }])).toEqual(L({ a: 'x' }));
  });
  it('regexes are fully anchored: a substring match is no match', () => {
    expect(run({ a: 'foobar' }, [{ source_labels: ['a'], regex: 'oba', target_label: 't', replacement: 'hit' }])).toEqual(L({ a: 'foobar' }));
    expect(run({ a: 'foobar' }, [{ source_labels: ['a'], regex: 'foo', action: 'keep' }])).toBeNull();
    expect(run({ a: 'foobar' }, [{ source_labels: ['a'], regex: 'bar', action: 'drop' }])).toEqual(L({ a: 'foobar' }));
    expect(run({ b1: '1', ab: '2' }, [{ regex: 'b', action: 'labeldrop' }])).toEqual(L({ ab: '2', b1: '1' }));
  });
  it('a user regex that closes the implicit group is unanchored, as in Prometheus', () => {
    // Prometheus compiles ^(?s:a)|(b)$ here.
    expect(run({ a: 'a-anything' }, [{ source_labels: ['a'], regex: 'a)|(b', action: 'keep' }])).not.toBeNull();
  });
  it('action is case-insensitive', () => {
    expect(relabelConfigSchema.parse({ action: 'LabelDrop', regex: 'x' }).action).toBe('labeldrop');
  });
  it('YAML nulls become Go zero values', () => {
    const cfg = relabelConfigSchema.parse({ source_labels: ['a', 'b'], separator: null, target_label: 't' });
    expect(cfg.separator).toBe('');
    expect(run({ a: 'x', b: 'y' }, [{ source_labels: ['a', 'b'], separator: null, target_label: 't' }])).toEqual(L({ a: 'x', b: 'y', t: 'xy' }));
  });
  it('scalar YAML values are accepted for string fields', () => {
    expect(relabelConfigSchema.parse({ source_labels: ['a'], regex: 200, target_label: 't', replacement: true })).toMatchObject({
      regex: '200',
      replacement: 'true',
    });
  });
});

describe('labelmap, labeldrop, labelkeep', () => {
  it('labelmap: later labels (by name) win when two map to the same name', () => {
    expect(run({ a_x: '1', b_x: '2' }, [{ regex: '[ab]_(x)', action: 'labelmap' }])).toEqual(L({ a_x: '1', b_x: '2', x: '2' }));
  });
  it('labelmap overwrites existing labels and sees labels added by earlier rules', () => {
    expect(
      run({ __meta_x: 'new', x: 'old' }, [
        { target_label: '__meta_y', replacement: 'added' },
        { regex: '__meta_(.+)', action: 'labelmap' },
      ]),
    ).toEqual(L({ __meta_x: 'new', __meta_y: 'added', x: 'new', y: 'added' }));
  });
  it('labelkeep keeps __name__ only if told to', () => {
    expect(run({ __name__: 'up', job: 'j', instance: 'i' }, [{ regex: '__name__|job', action: 'labelkeep' }])).toEqual(
      L({ __name__: 'up', job: 'j' }),
    );
  });
});

describe('hashmod arithmetic (md5, last 8 bytes big-endian, mod)', () => {
  const hm = (value: string, modulus: number): string =>
    run({ a: value }, [{ source_labels: ['a'], target_label: 'h', action: 'hashmod', modulus }])!.find((l) => l.name === 'h')!.value;

  it('matches the Go test values', () => {
    expect(hm('baz', 1000)).toBe('976');
    expect(hm('foo\nbar', 1000)).toBe('734');
  });
  it('agrees across the small-modulus and BigInt paths (multiples of 1000 reduce to the Go values)', () => {
    for (const m of [8000, 2_000_000, 4_194_304_000, 1000 * 2 ** 40]) {
      expect(Number(BigInt(hm('baz', m)) % 1000n)).toBe(976);
      expect(Number(BigInt(hm('foo\nbar', m)) % 1000n)).toBe(734);
    }
  });
  it('modulus 1 always yields 0', () => {
    expect(hm('anything', 1)).toBe('0');
  });
});

describe('lowercase / uppercase follow Go (simple case mapping, rune by rune)', () => {
  const lu = (value: string) =>
    run({ a: value }, [
      { source_labels: ['a'], target_label: 'l', action: 'lowercase' },
      { source_labels: ['a'], target_label: 'u', action: 'uppercase' },
    ])!;
  it('non-ASCII', () => {
    const out = lu('İßᾳΑΣ');
    expect(out.find((l) => l.name === 'l')!.value).toBe('ißᾳασ'); // no final-sigma rule, İ → i
    expect(out.find((l) => l.name === 'u')!.value).toBe('İßᾼΑΣ'); // ß stays, ᾳ → ᾼ
  });
  it('empty value deletes the target', () => {
    expect(run({ l: 'x' }, [{ source_labels: ['missing'], target_label: 'l', action: 'lowercase' }])).toEqual([]);
  });
});

describe('relabel() contract', () => {
  it('never mutates its input and returns new objects', () => {
    const input = Object.freeze(L({ a: 'foo', b: 'bar' }).map((l) => Object.freeze(l)));
    const out = relabel(input, rules([{ source_labels: ['a'], target_label: 'b' }, { regex: 'a', action: 'labeldrop' }]))!;
    expect(out).toEqual(L({ b: 'foo' }));
    expect(input).toEqual(L({ a: 'foo', b: 'bar' }));
    const same = relabel(input, [])!;
    expect(same).toEqual(input);
    expect(same).not.toBe(input);
    expect(same[0]).not.toBe(input[0]);
  });
  it('accepts unsorted input, sorts output and drops empty values', () => {
    expect(relabel([{ name: 'z', value: '1' }, { name: 'e', value: '' }, { name: 'a', value: '2' }], [])).toEqual(L({ a: '2', z: '1' }));
  });
  it('is fast enough per series', () => {
    const r = rules([
      { source_labels: ['__name__'], regex: 'go_.*|process_.*', action: 'drop' },
      { regex: 'pod_template_hash|controller_revision_hash', action: 'labeldrop' },
      { source_labels: ['instance'], regex: '([^:]+):\\d+', target_label: 'host' },
    ]);
    const input = L({ __name__: 'http_requests_total', instance: 'web-1:8080', job: 'web', code: '200', pod_template_hash: 'abc' });
    const start = performance.now();
    for (let i = 0; i < 20_000; i++) relabel(input, r);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('validation errors carry paths and clear messages', () => {
  const cases: [string, unknown, string[]][] = [
    ['hashmod without modulus', { source_labels: ['a'], target_label: 't', action: 'hashmod' }, ['modulus: required for action hashmod']],
    ['hashmod with modulus 0', { source_labels: ['a'], target_label: 't', action: 'hashmod', modulus: 0 }, ['modulus: required for action hashmod']],
    ['hashmod without target', { source_labels: ['a'], action: 'hashmod', modulus: 2 }, ['target_label: required for action hashmod']],
    ['negative modulus', { modulus: -1, target_label: 't' }, ['modulus: must be a non-negative integer']],
    ['fractional modulus', { modulus: 1.5, target_label: 't' }, ['modulus: must be a non-negative integer']],
    ['replace without target', { source_labels: ['a'] }, ['target_label: required for action replace']],
    ['invalid replace target', { target_label: 'foo-bar' }, ['target_label: "foo-bar" is not a valid label name for action replace']],
    ['invalid hashmod target', { target_label: 'a$1', action: 'hashmod', modulus: 3 }, ['target_label: "a$1" is not a valid label name for action hashmod']],
    ['keepequal without target', { source_labels: ['a'], action: 'keepequal' }, ['target_label: required for action keepequal']],
    ['dropequal without target', { source_labels: ['a'], action: 'dropequal' }, ['target_label: required for action dropequal']],
    ['uppercase without target', { source_labels: ['a'], action: 'uppercase' }, ['target_label: required for action uppercase']],
    ['lowercase with replacement', { source_labels: ['a'], target_label: 't', action: 'lowercase', replacement: 'x' }, ['replacement: must not be set for action lowercase']],
    [
      'keepequal with regex (even the default spelled out)',
      { source_labels: ['a'], target_label: 't', action: 'keepequal', regex: '(.*)' },
      ['regex: must not be set for action keepequal (it takes only source_labels and target_label)'],
    ],
    [
      'dropequal with separator and replacement',
      { source_labels: ['a'], target_label: 't', action: 'dropequal', separator: ',', replacement: 'x' },
      ['replacement: must not be set for action dropequal', 'separator: must not be set for action dropequal (it takes only source_labels and target_label)'],
    ],
    [
      'labeldrop with other fields',
      { regex: 'a', action: 'labeldrop', source_labels: [], target_label: 't', modulus: 1, separator: ',', replacement: 'x' },
      [
        'source_labels: must not be set for action labeldrop (it takes only regex)',
        'target_label: must not be set for action labeldrop (it takes only regex)',
        'modulus: must not be set for action labeldrop (it takes only regex)',
        'separator: must not be set for action labeldrop (it takes only regex)',
        'replacement: must not be set for action labeldrop (it takes only regex)',
      ],
    ],
    ['labelkeep with target', { regex: 'a', action: 'labelkeep', target_label: 't' }, ['target_label: must not be set for action labelkeep (it takes only regex)']],
    ['labelmap with an invalid replacement', { regex: '(.*)', action: 'labelmap', replacement: 'x-$1' }, ['replacement: "x-$1" is not a valid label name or $-template for action labelmap']],
    ['invalid source label', { source_labels: ['ok', 'not-ok'], target_label: 't' }, ['source_labels.1: "not-ok" is not a valid label name']],
    ['unknown action', { action: 'rename' }, ['action: unknown relabel action "rename"']],
    ['empty action', { action: '' }, ['action: relabel action cannot be empty']],
    ['invalid regex', { regex: '(a', target_label: 't' }, ['regex: invalid regex: error parsing regexp: missing closing ): `^(?s:(a)$`']],
    ['look-ahead (unsupported by RE2)', { regex: '(?!a)b', action: 'keep' }, ['regex: invalid regex: error parsing regexp: invalid or unsupported Perl syntax: `(?!`']],
    ['back-reference (unsupported by RE2)', { regex: '(a)\\1', action: 'keep' }, ['regex: invalid regex: error parsing regexp: invalid escape sequence: `\\1`']],
    [
      'expanding a group Go and JavaScript report differently',
      { source_labels: ['a'], regex: '(?:(a)|b)+', target_label: 't' },
      [
        'regex: capture group 1 is inside a repetition it may not take part in on every iteration; Prometheus (Go) then keeps its value from an earlier iteration but this agent cannot, so the replacement would differ — move the group out of the repetition',
      ],
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(issues(input)).toEqual(expected);
    });
  }

  it('the same regex is fine where the group is not expanded', () => {
    expect(issues({ source_labels: ['a'], regex: '(?:(a)|b)+', action: 'keep' })).toEqual([]);
    expect(issues({ source_labels: ['a'], regex: '(?:(a)|b)+', target_label: 't', replacement: 'static' })).toEqual([]);
  });

  it('unknown keys are rejected', () => {
    const r = relabelConfigSchema.safeParse({ source_labels: ['a'], target_label: 't', regexp: 'x' });
    expect(r.success).toBe(false);
    expect(r.error!.issues).toEqual([expect.objectContaining({ code: 'unrecognized_keys', keys: ['regexp'], path: [] })]);
  });

  it('paths nest under the caller schema', () => {
    const scrape = z.object({ scrape_configs: z.array(z.object({ relabel_configs: z.array(relabelConfigSchema) })) });
    const r = scrape.safeParse({
      scrape_configs: [{ relabel_configs: [{ target_label: 'a' }, { target_label: 'b' }, { source_labels: ['x'], target_label: 't', action: 'hashmod' }] }],
    });
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'scrape_configs.0.relabel_configs.2.modulus: required for action hashmod',
    ]);
  });

  it('compileRelabelConfigs validates hand-built configs', () => {
    const good = relabelConfigSchema.parse({ target_label: 'a' });
    expect(() => compileRelabelConfigs([good, { ...good, action: 'hashmod' }])).toThrow(RelabelConfigError);
    try {
      compileRelabelConfigs([good, { ...good, action: 'hashmod' }]);
    } catch (err) {
      expect((err as RelabelConfigError).issues).toEqual([{ path: [1, 'modulus'], message: 'required for action hashmod' }]);
      expect((err as Error).message).toBe('invalid relabel config: [1].modulus: required for action hashmod');
    }
  });
});
