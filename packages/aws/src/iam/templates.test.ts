import { describe, expect, it } from 'vitest';
import { checkIamPolicy } from './check.js';
import { parseJsonStrict, scanPlaceholders } from './json.js';
import { BUILTIN_TEMPLATES, exampleValues, PLACEHOLDERS, renderTemplate, TEMPLATE_KEYS, TemplateError, validateTemplate, type TemplateKey } from './templates.js';

const AMP = BUILTIN_TEMPLATES['permissions.amp'].text;

/** Thrown TemplateError of a render, for assertions. */
function renderError(text: string, values: Record<string, string | string[]>): TemplateError {
  try {
    renderTemplate(text, values);
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error('expected renderTemplate to throw');
}

describe('built-in templates', () => {
  it('each validates without errors or warnings, and declares only known placeholders that it uses', () => {
    for (const key of TEMPLATE_KEYS) {
      const t = BUILTIN_TEMPLATES[key];
      expect(t.key).toBe(key);
      expect(t.kind).toBe(key.split('.')[0]);
      expect(t.name.length).toBeGreaterThan(5);
      expect(t.description.length).toBeGreaterThan(20);
      expect(validateTemplate(key, t.text), key).toEqual({ ok: true, errors: [], warnings: [] });
      const used = new Set(scanPlaceholders(t.text).map((o) => o.name));
      for (const name of used) expect(t.placeholders, `${key} uses {{${name}}}`).toContain(name);
      for (const name of [...t.required, ...t.scoping]) expect(used.has(name), `${key} requires {{${name}}}`).toBe(true);
      for (const name of t.placeholders) expect(PLACEHOLDERS[name].name).toBe(name);
    }
  });

  it('grant only write actions: no reads, lists or wildcards', () => {
    const actions = TEMPLATE_KEYS.filter((k) => k.startsWith('permissions.')).flatMap((k) => {
      const doc = renderTemplate(BUILTIN_TEMPLATES[k].text, exampleValues()) as { Statement: Array<{ Action: string | string[] }> };
      return doc.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    });
    expect(actions.sort()).toEqual([
      'aps:RemoteWrite',
      'cloudwatch:PutMetricData',
      'firehose:PutRecord',
      'firehose:PutRecordBatch',
      'kinesis:PutRecord',
      'kinesis:PutRecords',
      'logs:CreateLogGroup',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:PutObject',
      'sts:AssumeRole',
    ]);
  });
});

describe('renderTemplate', () => {
  it('substitutes values inside strings and keys, and parses', () => {
    const doc = renderTemplate(AMP, { partition: 'aws', region: 'eu-west-1', account_id: '123456789012', workspace_id: 'ws-1' });
    expect(doc).toEqual({ Version: '2012-10-17', Statement: [{ Sid: 'AmpRemoteWrite', Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: 'arn:aws:aps:eu-west-1:123456789012:workspace/ws-1' }] });
    expect(renderTemplate('{"{{a}}:sub": "x-{{a}}-{{b}}"}', { a: 'k', b: 'v' })).toEqual({ 'k:sub': 'x-k-v' });
  });

  it('escapes values so they cannot leave their JSON string', () => {
    const evil = 'a", "Effect": "Deny'; // would add a key if inserted raw
    const doc = renderTemplate('{"Sid": "{{x}}", "Effect": "Allow"}', { x: evil }) as Record<string, string>;
    expect(Object.keys(doc)).toEqual(['Sid', 'Effect']);
    expect(doc.Sid).toBe(evil);
    expect(doc.Effect).toBe('Allow');
    for (const v of ['it\'s "quoted"', 'back\\slash', 'line\nbreak\ttab', '\u2028\u0000', '}}{{x}}']) {
      expect((renderTemplate('{"v": "<{{x}}>"}', { x: v }) as { v: string }).v).toBe(`<${v}>`);
    }
  });

  it('renders a list placeholder that fills a whole string as a string (one value) or an array', () => {
    const text = '{"AWS": "{{collector_role_arn}}"}';
    expect(renderTemplate(text, { collector_role_arn: ['arn:a'] })).toEqual({ AWS: 'arn:a' });
    expect(renderTemplate(text, { collector_role_arn: ['arn:a', 'arn:"b'] })).toEqual({ AWS: ['arn:a', 'arn:"b'] });
    expect(renderError('{"AWS": "x{{collector_role_arn}}"}', { collector_role_arn: ['a', 'b'] }).problems[0]).toMatchObject({ code: 'list_placeholder_in_text', placeholder: 'collector_role_arn' });
    expect(renderError(text, { collector_role_arn: [] }).message).toContain('the list is empty');
  });

  it('names what is wrong: missing values, placeholders outside strings, malformed placeholders, invalid JSON', () => {
    const missing = renderError(AMP, { partition: 'aws', region: 'us-east-1', account_id: '123456789012' });
    expect(missing.problems).toEqual([expect.objectContaining({ code: 'missing_value', placeholder: 'workspace_id', line: 8 })]);
    expect(missing.message).toContain('no value for {{workspace_id}} (line 8, column');

    const outside = renderError('{"Statement": {{statements}}}', { statements: '[]' });
    expect(outside.problems[0]).toMatchObject({ code: 'placeholder_outside_string', line: 1, column: 15 });
    expect(outside.message).toContain('outside a JSON string; put it inside quotes ("{{statements}}")');

    expect(renderError('{"a": "{{ Region }}"}', {}).message).toContain('malformed placeholder {{ Region }} at line 1, column 8: names are lowercase letters, digits and _ with no spaces, e.g. {{region}}');
    expect(renderError('{"a": "{{region"}', {}).message).toContain('unclosed placeholder {{region');
    expect(renderError('{"a": "x",}', {}).problems[0]).toMatchObject({ code: 'invalid_json', line: 1, column: 11 });
  });
});

describe('parseJsonStrict', () => {
  it('parses like JSON.parse', () => {
    const text = '{"a": [1, -2.5e3, true, false, null, "x\\u0041\\n"], "b": {}}';
    expect(parseJsonStrict(text)).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it('reports duplicate keys with their path and position, and syntax errors with line and column', () => {
    const dup = parseJsonStrict('{\n  "Statement": [{"Condition": {"StringEquals": {}, "StringEquals": {}}}]\n}');
    expect(dup).toMatchObject({ ok: false, error: { line: 2, column: 52, path: 'Statement[0].Condition' } });
    expect(!dup.ok && dup.error.message).toContain('duplicate key "StringEquals" (JSON would keep only the last one)');
    const cases: Array<[string, string]> = [
      ['{"a": 1,}', 'trailing comma before "}"'],
      ['[1, 2,]', 'trailing comma before "]"'],
      ["{'a': 1}", 'expected a "quoted" key'],
      ['{"a": \'x\'}', 'JSON strings use double quotes'],
      ['{"a": 1', 'an object is not closed'],
      ['{"a" 1}', 'expected ":" after the key "a"'],
      ['{"a": "x\ny"}', 'control character'],
      ['{"a": "\\x"}', 'invalid escape sequence'],
      ['{} {}', 'after the end of the document'],
      ['', 'unexpected end of text'],
    ];
    for (const [text, message] of cases) {
      const result = parseJsonStrict(text);
      expect(result.ok, text).toBe(false);
      expect(!result.ok && result.error.message, text).toContain(message);
    }
  });
});

describe('validateTemplate', () => {
  const edit = (key: TemplateKey, from: string, to: string) => {
    const text = BUILTIN_TEMPLATES[key].text;
    expect(text, `${key} contains ${from}`).toContain(from);
    return validateTemplate(key, text.replace(from, to));
  };
  const messages = (v: { errors: Array<{ message: string }> }) => v.errors.map((e) => e.message);

  it('accepts a valid edit, with warnings for grants broader than needed', () => {
    const kpl = edit('permissions.kinesis', '"kinesis:PutRecords"', '"kinesis:PutRecords",\n        "kinesis:ListShards",\n        "kinesis:DescribeStreamSummary"');
    expect(kpl).toEqual({ ok: true, errors: [], warnings: [] });
    const broad = edit('permissions.amp', '"aps:RemoteWrite"', '"aps:*"');
    expect(broad.ok).toBe(true);
    expect(broad.warnings).toEqual([expect.objectContaining({ code: 'broad_grant', path: 'Statement[0].Action', message: expect.stringContaining('"aps:*" is a wildcard') })]);
    const unscoped = edit('permissions.amp', 'workspace/{{workspace_id}}', 'workspace/*');
    expect(unscoped.ok).toBe(true);
    expect(unscoped.warnings[0]).toMatchObject({ code: 'unscoped', placeholder: 'workspace_id' });
    const star = edit('permissions.s3', '"arn:{{partition}}:s3:::{{bucket}}/{{key_prefix}}*"', '"*"');
    expect(star.warnings.map((w) => w.code)).toEqual(['unscoped', 'broad_grant']);
  });

  it('rejects unknown placeholders and placeholders of other templates, naming them and the available ones', () => {
    const unknown = edit('permissions.amp', '{{workspace_id}}', '{{workspace}}');
    expect(unknown.ok).toBe(false);
    expect(unknown.errors[0]).toMatchObject({ code: 'unknown_placeholder', placeholder: 'workspace', line: 8 });
    expect(unknown.errors[0]!.message).toMatch(/^unknown placeholder \{\{workspace\}\} \(line 8, column \d+\) is not one the generator fills in; permissions.amp can use \{\{partition\}\}, \{\{dns_suffix\}\}, \{\{account_id\}\}, \{\{region\}\}, \{\{workspace_id\}\}$/);
    const other = edit('permissions.amp', '{{workspace_id}}', '{{bucket}}');
    expect(other.errors[0]).toMatchObject({ code: 'unavailable_placeholder', placeholder: 'bucket' });
    expect(other.errors[0]!.message).toContain('placeholder {{bucket}} (line 8, column');
    expect(other.errors[0]!.message).toContain('is not available in permissions.amp');
  });

  it('rejects invalid JSON with its position, and duplicate keys with their path', () => {
    const trailing = edit('permissions.amp', '"aps:RemoteWrite",', '"aps:RemoteWrite",,');
    expect(trailing.errors).toEqual([expect.objectContaining({ code: 'invalid_json', line: 7 })]);
    expect(messages(trailing)[0]).toMatch(/^not valid JSON: expected a "quoted" key at line 7, column \d+$/);
    const dup = edit('trust.cross_account', '"Action": "sts:AssumeRole",', '"Action": "sts:AssumeRole",\n      "Action": "sts:TagSession",');
    expect(dup.errors[0]).toMatchObject({ code: 'invalid_json', path: 'Statement[0]' });
    expect(messages(dup)[0]).toContain('duplicate key "Action"');
  });

  it('rejects placeholders outside strings, malformed ones and list placeholders inside text', () => {
    const outside = edit('permissions.amp', '"Resource": "arn:{{partition}}', '"Resource": {{resource}}, "X": "arn:{{partition}}');
    expect(outside.errors.map((e) => e.code)).toEqual(['placeholder_outside_string', 'unknown_placeholder']);
    const alsoBroken = validateTemplate('permissions.amp', '{"Version": "2012-10-17", "Statement": {{statement}},}');
    expect(alsoBroken.errors.map((e) => [e.code, e.column])).toEqual([
      ['placeholder_outside_string', 40],
      ['unknown_placeholder', 40],
      ['invalid_json', 54],
    ]);
    const malformed = edit('permissions.amp', '{{region}}', '{{Region}}');
    expect(malformed.errors[0]).toMatchObject({ code: 'malformed_placeholder' });
    expect(messages(malformed)[0]).toContain('e.g. {{region}}');
    const inText = edit('trust.cross_account', '"AWS": "{{collector_role_arn}}"', '"AWS": "{{collector_role_arn}}x"');
    expect(inText.errors[0]).toMatchObject({ code: 'list_placeholder_in_text', placeholder: 'collector_role_arn' });
  });

  it('rejects removing a required placeholder (the ExternalId of a cross-account trust)', () => {
    const noExternalId = edit('trust.cross_account', '"{{external_id}}"', '"fixed-id"');
    expect(noExternalId.ok).toBe(false);
    expect(noExternalId.errors).toEqual([expect.objectContaining({ code: 'missing_required_placeholder', placeholder: 'external_id' })]);
    expect(messages(noExternalId)[0]).toBe('trust.cross_account must use {{external_id}} (ExternalId the control plane generated for the account; agents pass it to sts:AssumeRole)');
  });

  it('rejects structural IAM problems with their JSON path', () => {
    const version = edit('permissions.amp', '"2012-10-17"', '"2008-10-17"');
    expect(version.errors).toEqual([expect.objectContaining({ code: 'iam_structure', path: 'Version', message: 'Version: must be "2012-10-17", got string "2008-10-17"' })]);
    const principal = edit('permissions.s3', '"Effect": "Allow",', '"Effect": "Allow", "Principal": {"AWS": "{{account_id}}"},');
    expect(principal.errors[0]).toMatchObject({ path: 'Statement[0].Principal' });
    const operator = edit('trust.irsa', '"StringEquals"', '"StringEqual"');
    expect(messages(operator)).toEqual(['Statement[0].Condition.StringEqual: unknown condition operator "StringEqual"; did you mean StringEquals?']);
    const resource = edit('permissions.firehose', '"arn:{{partition}}:firehose:', '"{{partition}}:firehose:');
    expect(messages(resource)[0]).toMatch(/^Statement\[0\]\.Resource: not an ARN: "aws:firehose:us-east-1:123456789012:deliverystream\/fleet-logs"/);
    const trustResource = edit('trust.ec2', '"Action": "sts:AssumeRole"', '"Action": "sts:AssumeRole", "Resource": "*"');
    expect(messages(trustResource)).toEqual(['Statement[0].Resource: a trust policy has no Resource: the resource is the role itself']);
  });

  it('rejects unknown template keys, empty and oversized texts', () => {
    expect(messages(validateTemplate('permissions.sqs', '{}'))[0]).toContain('unknown template "permissions.sqs" (known: permissions.amp,');
    expect(messages(validateTemplate('trust.ec2', '  '))).toEqual(['the template is empty']);
    expect(validateTemplate('trust.ec2', `${' '.repeat(40_000)}{}`).errors[0]!.code).toBe('too_long');
  });

  it('example values render every template into a document that passes the structural check', () => {
    for (const key of TEMPLATE_KEYS) {
      const doc = renderTemplate(BUILTIN_TEMPLATES[key].text, exampleValues());
      expect(checkIamPolicy(doc, { kind: BUILTIN_TEMPLATES[key].kind }), key).toEqual([]);
    }
  });
});
