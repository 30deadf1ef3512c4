import { z } from 'zod';
import { compileRe2 } from '../regex/matcher.js';
import { parseTemplate, RegexpSyntaxError, RegexpUnsupportedError } from '../regex/re2.js';

/** Every relabel action Prometheus knows, lower-case (the YAML value is case-insensitive). */
export const RELABEL_ACTIONS = [
  'replace',
  'keep',
  'drop',
  'keepequal',
  'dropequal',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'lowercase',
  'uppercase',
] as const;

/** A relabel action (see {@link RELABEL_ACTIONS}). */
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

/**
 * How label names are validated, as Prometheus's `metric_name_validation_scheme`:
 * - `legacy`: `[a-zA-Z_][a-zA-Z0-9_]*`; a `replace` target or `labelmap` replacement containing `$`
 *   must match Prometheus's template pattern (`foo_${1}`, `$1`, … but not `0${1}` or `-$1`).
 * - `utf8` (Prometheus 3's default): any non-empty, well-formed UTF-8 string.
 */
export type NameValidationScheme = 'legacy' | 'utf8';

/**
 * One parsed entry of `relabel_configs` / `metric_relabel_configs` / `write_relabel_configs`.
 *
 * Field names are the YAML (snake_case) names so one model serves parsing, storage and display.
 * Every field is present, with Prometheus's defaults (`separator: ";"`, `regex: "(.*)"`,
 * `replacement: "$1"`, `action: "replace"`) or Go's zero values (`target_label: ""`,
 * `modulus: 0`, `source_labels: []`) meaning "not set". An explicit YAML `null` yields the Go zero
 * value, as in Prometheus (`regex: ~` is the empty regex, `separator: ~` the empty separator).
 */
export interface RelabelConfig {
  /** Labels whose values are joined with `separator` to form the input value. */
  source_labels: string[];
  /** Placed between source label values. */
  separator: string;
  /** RE2 regex (Go syntax), implicitly anchored at both ends. */
  regex: string;
  /** Modulus for `hashmod` (0 = unset; must be > 0 for hashmod). */
  modulus: number;
  /** Label written by replace/hashmod/lowercase/uppercase, compared by keepequal/dropequal. */
  target_label: string;
  /** Go `Regexp.Expand` template (`$1`, `${1}`, `$name`, `${name}`, `$$`). */
  replacement: string;
  /** What to do. */
  action: RelabelAction;
}

/** Prometheus's `DefaultRelabelConfig` (plus Go zero values for the other fields). */
export const DEFAULT_RELABEL_CONFIG: Readonly<RelabelConfig> = Object.freeze({
  source_labels: Object.freeze([]) as readonly string[] as string[],
  separator: ';',
  regex: '(.*)',
  modulus: 0,
  target_label: '',
  replacement: '$1',
  action: 'replace',
});

/** A validation problem in one relabel config; `path` is relative to that config. */
export interface RelabelIssue {
  path: (string | number)[];
  message: string;
}

/** Which fields were written explicitly (Prometheus distinguishes these from defaults). */
export interface ExplicitFields {
  /** `source_labels` given (even as `[]`); `labeldrop`/`labelkeep` reject it. */
  source_labels: boolean;
  /** `regex` given (even as `(.*)` or `~`); `keepequal`/`dropequal` reject it. */
  regex: boolean;
}

const LEGACY_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/**
 * Prometheus's `relabelTargetLegacy` (`^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`), rewritten
 * into an equivalent form without nested quantifiers (the original backtracks exponentially in
 * JavaScript on long invalid input).
 */
const LEGACY_TEMPLATE = /^(?:[a-zA-Z_]|\$(?:\{\w+\}|\w))(?:\w|\$(?:\{\w+\}|\w))*$/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Prometheus's `model.LabelName(name).IsValid()` under the given scheme.
 */
export function isValidLabelName(name: string, scheme: NameValidationScheme): boolean {
  if (scheme === 'legacy') return LEGACY_NAME.test(name);
  return name.length > 0 && !LONE_SURROGATE.test(name);
}

/**
 * Whether `value` is accepted where Prometheus allows a label name with `$` references (the
 * `replace` target_label when it contains `$`, the `labelmap` replacement).
 */
export function isValidLabelNameTemplate(value: string, scheme: NameValidationScheme): boolean {
  return scheme === 'legacy' ? LEGACY_TEMPLATE.test(value) : isValidLabelName(value, scheme);
}

const TARGET_REQUIRED: ReadonlySet<RelabelAction> = new Set([
  'replace',
  'hashmod',
  'lowercase',
  'uppercase',
  'keepequal',
  'dropequal',
]);
const NO_REPLACEMENT: ReadonlySet<RelabelAction> = new Set(['lowercase', 'uppercase', 'keepequal', 'dropequal']);

/**
 * Validates a relabel config exactly as Prometheus's `relabel.Config.Validate` (and the YAML
 * unmarshalling of its fields) does, but reports every problem instead of the first. Also rejects
 * regexes this runtime cannot evaluate identically (see the `re2` module). Returns [] when valid.
 */
export function validateRelabelConfig(
  cfg: RelabelConfig,
  explicit: ExplicitFields,
  scheme: NameValidationScheme,
): RelabelIssue[] {
  const issues: RelabelIssue[] = [];
  const add = (path: (string | number)[], message: string): void => {
    issues.push({ path, message });
  };
  const a = cfg.action;

  cfg.source_labels.forEach((name, i) => {
    if (!isValidLabelName(name, scheme)) add(['source_labels', i], `${JSON.stringify(name)} is not a valid label name`);
  });

  if (!Number.isSafeInteger(cfg.modulus) || cfg.modulus < 0) {
    add(['modulus'], 'must be a non-negative integer');
  }

  let regexOk = true;
  let unstable: ReadonlySet<number> = new Set();
  let groupNames: readonly (string | undefined)[] = [];
  try {
    const re = compileRe2(cfg.regex);
    unstable = re.unstableGroups;
    groupNames = re.groupNames;
  } catch (err) {
    regexOk = false;
    if (err instanceof RegexpSyntaxError) add(['regex'], `invalid regex: ${err.message}`);
    else if (err instanceof RegexpUnsupportedError) add(['regex'], `regex not supported: ${err.message}`);
    else throw err;
  }

  if (!(RELABEL_ACTIONS as readonly string[]).includes(a)) {
    add(['action'], `unknown relabel action ${JSON.stringify(a)}`);
    return issues;
  }

  if (a === 'hashmod' && cfg.modulus === 0) add(['modulus'], 'required for action hashmod');

  const target = cfg.target_label;
  if (TARGET_REQUIRED.has(a) && target === '') {
    add(['target_label'], `required for action ${a}`);
  } else if (a === 'replace') {
    if (target.includes('$')) {
      if (!isValidLabelNameTemplate(target, scheme)) {
        add(['target_label'], `${JSON.stringify(target)} is not a valid label name or $-template for action replace`);
      }
    } else if (!isValidLabelName(target, scheme)) {
      add(['target_label'], `${JSON.stringify(target)} is not a valid label name for action replace`);
    }
  } else if (TARGET_REQUIRED.has(a) && !isValidLabelName(target, scheme)) {
    add(['target_label'], `${JSON.stringify(target)} is not a valid label name for action ${a}`);
  }

  if (NO_REPLACEMENT.has(a) && cfg.replacement !== DEFAULT_RELABEL_CONFIG.replacement) {
    add(['replacement'], `must not be set for action ${a}`);
  }
  if (a === 'labelmap' && !isValidLabelNameTemplate(cfg.replacement, scheme)) {
    add(['replacement'], `${JSON.stringify(cfg.replacement)} is not a valid label name or $-template for action labelmap`);
  }

  if (a === 'keepequal' || a === 'dropequal') {
    const only = `must not be set for action ${a} (it takes only source_labels and target_label)`;
    if (explicit.regex) add(['regex'], only);
    if (cfg.modulus !== 0) add(['modulus'], only);
    if (cfg.separator !== DEFAULT_RELABEL_CONFIG.separator) add(['separator'], only);
    // replacement is already reported above.
  }
  if (a === 'labeldrop' || a === 'labelkeep') {
    const only = `must not be set for action ${a} (it takes only regex)`;
    if (explicit.source_labels) add(['source_labels'], only);
    if (target !== '') add(['target_label'], only);
    if (cfg.modulus !== 0) add(['modulus'], only);
    if (cfg.separator !== DEFAULT_RELABEL_CONFIG.separator) add(['separator'], only);
    if (cfg.replacement !== DEFAULT_RELABEL_CONFIG.replacement) add(['replacement'], only);
  }

  // Expanding a group whose value Go and JavaScript report differently would not be exact.
  if (regexOk && unstable.size > 0 && (a === 'replace' || a === 'labelmap')) {
    const templates = a === 'replace' ? [cfg.target_label, cfg.replacement] : [cfg.replacement];
    const used = new Set<number>();
    for (const part of templates.flatMap(parseTemplate)) {
      if (typeof part === 'string') continue;
      if ('num' in part) used.add(part.num);
      else groupNames.forEach((n, i) => n === part.name && used.add(i));
    }
    for (const g of [...used].sort((x, y) => x - y)) {
      if (unstable.has(g)) {
        add(
          ['regex'],
          `capture group ${g} is inside a repetition it may not take part in on every iteration; ` +
            'Prometheus (Go) then keeps its value from an earlier iteration but this agent cannot, ' +
            'so the replacement would differ — move the group out of the repetition',
        );
      }
    }
  }
  return issues;
}

const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

/**
 * The raw YAML shape: unknown keys are rejected; `null` is allowed wherever Go's YAML decoder
 * accepts it; numbers and booleans are accepted for string fields as Go's decoder does (a YAML
 * parser that turns `1.0` into 1 loses the original spelling — quote such values).
 */
const rawRelabelConfigSchema = z
  .object({
    source_labels: z.array(scalarString).nullish(),
    separator: scalarString.nullish(),
    regex: scalarString.nullish(),
    // YAML text (the agent reads scalars as Go does) or a JSON number.
    modulus: z.preprocess(
      (v) => (typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v),
      z
        .number()
        .int('must be a non-negative integer')
        .nonnegative('must be a non-negative integer')
        .max(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER}`)
        .nullish(),
    ),
    target_label: scalarString.nullish(),
    replacement: scalarString.nullish(),
    action: z.string().nullish(),
  })
  .strict();

/** Options for {@link createRelabelConfigSchema}. */
export interface RelabelSchemaOptions {
  /** Label name validation; default `legacy` (see {@link NameValidationScheme}). */
  nameValidationScheme?: NameValidationScheme;
}

/**
 * Builds the zod schema for one relabel config under the given name validation scheme. Parsing
 * applies Prometheus's defaults and validation; every issue carries a path relative to the config
 * (e.g. `['modulus']` with message "required for action hashmod", `['source_labels', 1]`), so a
 * caller can report `scrape_configs[0].relabel_configs[2].modulus: required for action hashmod`.
 * Unknown keys produce zod's `unrecognized_keys` issue at the config's own path.
 */
export function createRelabelConfigSchema(options: RelabelSchemaOptions = {}) {
  const scheme = options.nameValidationScheme ?? 'legacy';
  return rawRelabelConfigSchema.transform((raw, ctx): RelabelConfig => {
    const d = DEFAULT_RELABEL_CONFIG;
    if (raw.action === null) {
      ctx.issues.push({ code: 'custom', path: ['action'], message: 'must not be empty', input: raw.action });
      return z.NEVER;
    }
    if (raw.action === '') {
      ctx.issues.push({ code: 'custom', path: ['action'], message: 'relabel action cannot be empty', input: raw.action });
      return z.NEVER;
    }
    const action = raw.action === undefined ? d.action : raw.action.toLowerCase();
    const cfg: RelabelConfig = {
      source_labels: raw.source_labels ?? [],
      separator: raw.separator === undefined ? d.separator : (raw.separator ?? ''),
      regex: raw.regex === undefined ? d.regex : (raw.regex ?? ''),
      modulus: raw.modulus ?? 0,
      target_label: raw.target_label ?? '',
      replacement: raw.replacement === undefined ? d.replacement : (raw.replacement ?? ''),
      action: action as RelabelAction,
    };
    const explicit: ExplicitFields = {
      source_labels: raw.source_labels !== undefined && raw.source_labels !== null,
      regex: raw.regex !== undefined,
    };
    const issues = validateRelabelConfig(cfg, explicit, scheme);
    if (issues.length === 0) return cfg;
    for (const issue of issues) {
      ctx.issues.push({ code: 'custom', path: issue.path, message: issue.message, input: raw });
    }
    return z.NEVER;
  });
}

/**
 * Schema for one entry of `relabel_configs` / `metric_relabel_configs` (legacy label names, as
 * Prometheus with `metric_name_validation_scheme: legacy`). Output: {@link RelabelConfig}.
 */
export const relabelConfigSchema = createRelabelConfigSchema();

/** What {@link relabelConfigSchema} accepts (the YAML-decoded object). */
export type RelabelConfigInput = z.input<typeof relabelConfigSchema>;
