import { createHash } from 'node:crypto';
import { getLabel, sortLabels, type Label, type Labels } from '../labels.js';
import {
  DEFAULT_RELABEL_CONFIG,
  isValidLabelName,
  validateRelabelConfig,
  type NameValidationScheme,
  type RelabelAction,
  type RelabelConfig,
  type RelabelIssue,
} from './model.js';
import { compileRe2, type Re2Match, type Re2Regexp } from '../regex/matcher.js';
import { parseTemplate } from '../regex/re2.js';

/** Options for {@link compileRelabelConfigs}. */
export interface CompileRelabelOptions {
  /**
   * Label name validation, as used when the configs were parsed; default `legacy`. It also
   * decides at run time whether a `replace` target expanded from `$` references is a valid label
   * name (invalid targets are skipped, as in Prometheus).
   */
  nameValidationScheme?: NameValidationScheme;
}

/** A config rejected by {@link compileRelabelConfigs}; `issues` paths start with the config index. */
export class RelabelConfigError extends Error {
  constructor(readonly issues: readonly RelabelIssue[]) {
    super(
      `invalid relabel config: ${issues
        .map((i) => `[${i.path[0]}]${i.path.slice(1).map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}: ${i.message}`)
        .join('; ')}`,
    );
    this.name = 'RelabelConfigError';
  }
}

/** A compiled expansion template: literal text and group references resolved to indices. */
interface Template {
  /** Set when the template has no group references. */
  readonly constant: string | undefined;
  /** Literal strings, or candidate group indices (the first one that matched is used). */
  readonly parts: readonly (string | readonly number[])[];
}

/** What the rule's regex needs to offer at run time. */
type Matcher = Pick<Re2Regexp, 'test' | 'exec' | 'replaceAll'>;

/**
 * One relabel rule, ready to run: regex compiled once, templates parsed, modulus prepared.
 * Produced only by {@link compileRelabelConfigs}; the fields other than `config` are internal.
 */
export interface CompiledRelabel {
  /** The config this rule was compiled from (frozen copy). */
  readonly config: Readonly<RelabelConfig>;
  /** @internal */
  readonly action: RelabelAction;
  /** @internal */
  readonly sourceLabels: readonly string[];
  /** @internal */
  readonly separator: string;
  /** @internal The rule's regex ({@link compileRe2}: linear time on any input). */
  readonly matcher: Matcher;
  /** @internal */
  readonly targetLabel: string;
  /** @internal */
  readonly target: Template;
  /** @internal */
  readonly replacement: Template;
  /** @internal Prometheus's replace fast path applies (default regex, no `$` in target/replacement). */
  readonly replaceFastPath: boolean;
  /** @internal */
  readonly modulus: number;
  /** @internal */
  readonly modulusBig: bigint;
  /** @internal */
  readonly scheme: NameValidationScheme;
}

function compileTemplate(template: string, groupNames: readonly (string | undefined)[]): Template {
  const parts = parseTemplate(template).map((p): string | readonly number[] => {
    if (typeof p === 'string') return p;
    if ('num' in p) return p.num < groupNames.length ? [p.num] : [];
    const idx: number[] = [];
    groupNames.forEach((n, i) => {
      if (n === p.name) idx.push(i);
    });
    return idx;
  });
  const constant = parts.every((p) => typeof p === 'string') ? (parts as string[]).join('') : undefined;
  return { constant, parts };
}

/** Go's `Regexp.Expand` with a compiled template. */
function expand(t: Template, m: Re2Match): string {
  if (t.constant !== undefined) return t.constant;
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    for (const i of p) {
      const g = m[i];
      if (g !== undefined) {
        out += g;
        break;
      }
    }
  }
  return out;
}

/** The default regex `(.*)` under `(?s)` matches every string whole: skip the engine. */
const MATCH_ALL: Matcher = {
  test: () => true,
  exec: (s) => [s, s],
  replaceAll: (s, replacement) => replacement([s, s]),
};

/**
 * Validates and compiles relabel configs (typically the output of `relabelConfigSchema`) into
 * rules for {@link relabel}. Each regex is compiled once here; nothing is compiled per series.
 *
 * @throws RelabelConfigError when a config is invalid (same rules as the schema, except that a
 *   `regex` equal to the default counts as not set).
 */
export function compileRelabelConfigs(
  configs: readonly RelabelConfig[],
  options: CompileRelabelOptions = {},
): CompiledRelabel[] {
  const scheme = options.nameValidationScheme ?? 'legacy';
  const issues: RelabelIssue[] = [];
  configs.forEach((cfg, i) => {
    const explicit = {
      source_labels: cfg.source_labels.length > 0,
      regex: cfg.regex !== DEFAULT_RELABEL_CONFIG.regex,
    };
    for (const issue of validateRelabelConfig(cfg, explicit, scheme)) {
      issues.push({ path: [i, ...issue.path], message: issue.message });
    }
  });
  if (issues.length > 0) throw new RelabelConfigError(issues);

  return configs.map((cfg): CompiledRelabel => {
    const config = Object.freeze({ ...cfg, source_labels: Object.freeze([...cfg.source_labels]) as string[] });
    const re = compileRe2(cfg.regex);
    const isDefaultRegex = cfg.regex === DEFAULT_RELABEL_CONFIG.regex;
    return {
      config,
      action: cfg.action,
      sourceLabels: config.source_labels,
      separator: cfg.separator,
      matcher: isDefaultRegex ? MATCH_ALL : re,
      targetLabel: cfg.target_label,
      target: compileTemplate(cfg.target_label, re.groupNames),
      replacement: compileTemplate(cfg.replacement, re.groupNames),
      replaceFastPath: isDefaultRegex && !cfg.target_label.includes('$') && !cfg.replacement.includes('$'),
      modulus: cfg.modulus,
      modulusBig: BigInt(cfg.modulus),
      scheme,
    };
  });
}

/**
 * A port of Prometheus's `labels.Builder`: the original labels plus pending additions (in
 * insertion order) and deletions. Iteration order (originals by name, then additions) decides
 * which source wins when `labelmap` maps two labels onto one name, so it is kept identical.
 */
class LabelBuilder {
  private readonly base: Labels;
  private readonly add: Label[] = [];
  private readonly del: string[] = [];

  constructor(base: Labels) {
    let sorted = true;
    for (let i = 1; i < base.length && sorted; i++) sorted = !(base[i]!.name < base[i - 1]!.name);
    this.base = sorted ? base : sortLabels(base);
  }

  get(name: string): string {
    for (const a of this.add) if (a.name === name) return a.value;
    if (this.del.includes(name)) return '';
    return getLabel(this.base, name);
  }

  set(name: string, value: string): void {
    if (value === '') {
      this.delete(name);
      return;
    }
    for (const a of this.add) {
      if (a.name === name) {
        a.value = value;
        return;
      }
    }
    this.add.push({ name, value });
  }

  delete(name: string): void {
    const i = this.add.findIndex((a) => a.name === name);
    if (i >= 0) this.add.splice(i, 1);
    this.del.push(name);
  }

  /** Calls `f` on every current label, as of the call (changes made by `f` are not visited). */
  range(f: (l: Label) => void): void {
    const add = this.add.map((a) => ({ name: a.name, value: a.value }));
    const del = [...this.del];
    for (const l of this.base) {
      if (!del.includes(l.name) && !add.some((a) => a.name === l.name)) f(l);
    }
    for (const a of add) f(a);
  }

  /** The resulting label set: new array, sorted by name, without empty values. */
  labels(): Label[] {
    const out: Label[] = [];
    for (const l of this.base) {
      if (l.value !== '' && !this.del.includes(l.name) && !this.add.some((a) => a.name === l.name)) {
        out.push({ name: l.name, value: l.value });
      }
    }
    if (this.add.length === 0) return out;
    for (const a of this.add) out.push({ name: a.name, value: a.value });
    return sortLabels(out);
  }
}

const ASCII = /^[\u0000-\u007f]*$/; // eslint-disable-line no-control-regex -- ASCII fast path

function isOneCodePoint(s: string): boolean {
  return s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff);
}

/** Go's `strings.ToLower`: Unicode simple lower-case mapping, rune by rune (no context rules). */
export function goToLower(s: string): string {
  if (ASCII.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    if (ch === '\u0130') {
      out += 'i'; // İ: simple mapping (full mapping is "i̇")
      continue;
    }
    const l = ch.toLowerCase();
    out += isOneCodePoint(l) ? l : ch;
  }
  return out;
}

/** Simple upper-case mappings of characters whose full mapping has several characters. */
function simpleUpperOfSpecial(cp: number): number {
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) return cp + 8;
  if (cp === 0x1fb3) return 0x1fbc;
  if (cp === 0x1fc3) return 0x1fcc;
  if (cp === 0x1ff3) return 0x1ffc;
  return cp; // ß, ŉ, ǰ, ΐ, ﬀ … have no simple upper-case mapping.
}

/** Go's `strings.ToUpper`: Unicode simple upper-case mapping, rune by rune (ß stays ß). */
export function goToUpper(s: string): string {
  if (ASCII.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += isOneCodePoint(u) ? u : String.fromCodePoint(simpleUpperOfSpecial(ch.codePointAt(0)!));
  }
  return out;
}

/** Prometheus's hashmod: md5 of the value, last 8 bytes as big-endian uint64, modulo `mod`. */
function hashmod(value: string, mod: number, modBig: bigint): string {
  const h = createHash('md5').update(value, 'utf8').digest();
  if (mod <= 0x200000) {
    // Exact in doubles: every intermediate stays below 2^43.
    const hi = h.readUInt32BE(8);
    const lo = h.readUInt32BE(12);
    return String((((hi % mod) * (0x100000000 % mod)) + (lo % mod)) % mod);
  }
  return (h.readBigUInt64BE(8) % modBig).toString();
}

function applyRule(rule: CompiledRelabel, lb: LabelBuilder): boolean {
  const src = rule.sourceLabels;
  let val = '';
  for (let i = 0; i < src.length; i++) val += (i > 0 ? rule.separator : '') + lb.get(src[i]!);

  switch (rule.action) {
    case 'drop':
      if (rule.matcher.test(val)) return false;
      break;
    case 'keep':
      if (!rule.matcher.test(val)) return false;
      break;
    case 'dropequal':
      if (lb.get(rule.targetLabel) === val) return false;
      break;
    case 'keepequal':
      if (lb.get(rule.targetLabel) !== val) return false;
      break;
    case 'replace': {
      if (val === '' && rule.replaceFastPath) {
        lb.set(rule.targetLabel, rule.config.replacement);
        break;
      }
      const m = rule.matcher.exec(val);
      if (!m) break; // no match, no replacement
      const target = expand(rule.target, m);
      if (!isValidLabelName(target, rule.scheme)) break;
      const res = expand(rule.replacement, m);
      if (res === '') lb.delete(target);
      else lb.set(target, res);
      break;
    }
    case 'lowercase':
      lb.set(rule.targetLabel, goToLower(val));
      break;
    case 'uppercase':
      lb.set(rule.targetLabel, goToUpper(val));
      break;
    case 'hashmod':
      lb.set(rule.targetLabel, hashmod(val, rule.modulus, rule.modulusBig));
      break;
    case 'labelmap':
      lb.range((l) => {
        if (rule.matcher.test(l.name)) lb.set(rule.matcher.replaceAll(l.name, (m) => expand(rule.replacement, m)), l.value);
      });
      break;
    case 'labeldrop':
      lb.range((l) => {
        if (rule.matcher.test(l.name)) lb.delete(l.name);
      });
      break;
    case 'labelkeep':
      lb.range((l) => {
        if (!rule.matcher.test(l.name)) lb.delete(l.name);
      });
      break;
  }
  return true;
}

/**
 * Applies relabel rules in order, exactly as Prometheus's `relabel.Process`.
 *
 * Returns the resulting label set — a new array of new label objects, sorted by name, with
 * empty-valued labels removed — or `null` when a rule drops the series/target. `labels` is never
 * mutated (it need not be sorted). No regex is compiled here.
 */
export function relabel(labels: Labels, rules: readonly CompiledRelabel[]): Label[] | null {
  const lb = new LabelBuilder(labels);
  for (const rule of rules) {
    if (!applyRule(rule, lb)) return null;
  }
  return lb.labels();
}
