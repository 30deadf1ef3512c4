/**
 * Go `regexp` (RE2 syntax, `syntax.Perl` flags) → JavaScript `RegExp` translation.
 *
 * Prometheus compiles every relabel regex with Go's `regexp.Compile("^(?s:" + regex + ")$")`.
 * This module parses that exact wrapped string with a port of Go's `regexp/syntax` parser (same
 * accepted syntax, same error codes and messages) and emits an equivalent JavaScript pattern
 * compiled with the `v` and `s` flags. Everything Go spells differently is emitted explicitly:
 *
 * - `(?P<name>…)` / `(?<name>…)` become plain numbered groups; names are kept in a side table
 *   (so Go-only names such as `(?P<1x>…)` or duplicated names work), see {@link GoRegexp.groupNames};
 * - inline flags `(?i)`, `(?m)`, `(?s)`, `(?U)` and scoped `(?flags:…)`, which JavaScript (Node 20)
 *   lacks, are applied at translation time: case folding expands literals and classes into their
 *   Unicode simple-case-folding orbits, `(?m)` anchors become look-arounds on `\n` only (Go's line
 *   separator), `(?s)` picks `.` or `[^\n]`, `(?U)` swaps greedy and lazy quantifiers;
 * - `\A`, `\z`, `\Q…\E`, `\x{…}`, octal escapes, `\a`, `\v`, POSIX classes `[[:alpha:]]`, Go's
 *   ASCII-only `\d \s \w` (note Go's `\s` excludes `\v`), `\pL`, `\p{Greek}`, `\p{^Greek}`;
 * - a literal `{` that is not a valid repetition (`a{,3}`) and quantified empty-width assertions.
 *
 * Constructs Go rejects (look-arounds, back-references, possessive or nested quantifiers, `\C`,
 * repeat counts above 1000, …) are rejected with Go's own message, e.g.
 * "error parsing regexp: invalid or unsupported Perl syntax: `(?!`".
 */

/** Largest Unicode code point. */
export const MAX_RUNE = 0x10ffff;
/** Go's `maxRepeat`: the largest count in `x{n,m}`, also bounding the product of nested counts. */
const MAX_REPEAT = 1000;
/** Go's `maxHeight`: deeper nesting is rejected ("expression nests too deeply"). */
const MAX_DEPTH = 1000;

/** An inclusive range of code points. */
export type Range = readonly [number, number];

/**
 * A regex Go's `regexp.Compile` would reject. The message is Go's, e.g.
 * "error parsing regexp: missing closing ): `^(?s:(a)$`" (the expression shown is the anchored one
 * Prometheus compiles, exactly as Prometheus reports it).
 */
export class RegexpSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexpSyntaxError';
  }
}

/**
 * A regex Go accepts but that this runtime cannot evaluate with identical results (for example a
 * Unicode script unknown to this Node.js build's ICU data).
 */
export class RegexpUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexpUnsupportedError';
  }
}

/**
 * A Prometheus relabel regex compiled for JavaScript. Matching behaves like the Go regex
 * `^(?s:<pattern>)$` (leftmost-first, fully anchored unless the pattern itself breaks out of the
 * group, exactly as in Go).
 */
export interface GoRegexp {
  /** The pattern as written in the config (without Prometheus's anchors). */
  readonly pattern: string;
  /** The JavaScript source that implements it (flags `sv`). */
  readonly jsSource: string;
  /** The compiled expression (not global, so stateless and safe to share). */
  readonly regex: RegExp;
  /** Number of capturing groups (Go's `NumSubexp`). */
  readonly numGroups: number;
  /** Name of each group by index (index 0, the whole match, has none); like Go's `SubexpNames`. */
  readonly groupNames: readonly (string | undefined)[];
  /**
   * Groups whose reported value can differ between Go and JavaScript: a group inside a repetition
   * that may not take part in every iteration. Go keeps the value from the last iteration that set
   * it; JavaScript resets it at the start of each iteration. Expanding such a group is refused by
   * the relabel config validation.
   */
  readonly unstableGroups: ReadonlySet<number>;
  /**
   * @internal The parse tree of `^(?s:<pattern>)$` (Go's parser, flags applied), from which the
   * `regex` module decides whether the backtracking `regex` is safe and emits the RE2 pattern for
   * its linear-time engine.
   */
  readonly tree: Node;
}

// ---------------------------------------------------------------------------------------------
// Parse tree.

interface Flags {
  fold: boolean;
  multiLine: boolean;
  dotNL: boolean;
  nonGreedy: boolean;
}

export interface PropItem {
  /** JavaScript class contents for the positive set, e.g. `\p{gc=Lu}`. */
  body: string;
  /** Extra code points (case-folding closure) added to the set before any negation. */
  extra: Range[];
  negated: boolean;
}

export interface CharClass {
  ranges: Range[];
  props: PropItem[];
  negated: boolean;
}

export type AssertKind = 'beginText' | 'endText' | 'beginLine' | 'endLine' | 'wordBoundary' | 'noWordBoundary';

/** The parse tree of a Go regexp (flags already applied: folded literals, `.` kind, laziness). */
export type Node =
  | { t: 'empty' }
  | { t: 'lit'; cp: number; fold: boolean }
  | { t: 'class'; cls: CharClass }
  | { t: 'any'; nl: boolean }
  | { t: 'assert'; kind: AssertKind }
  | { t: 'cap'; index: number; sub: Node }
  | { t: 'concat'; subs: Node[] }
  | { t: 'alt'; subs: Node[] }
  | { t: 'repeat'; min: number; max: number; lazy: boolean; braces: boolean; sub: Node };

interface Frame {
  alts: Node[][];
  cur: Node[];
  savedFlags: Flags;
  cap: number; // >0 capturing group index, 0 non-capturing, -1 root
}

// Go's error codes (regexp/syntax ErrorCode strings).
const ErrInvalidCharRange = 'invalid character class range';
const ErrInvalidEscape = 'invalid escape sequence';
const ErrInvalidNamedCapture = 'invalid named capture';
const ErrInvalidPerlOp = 'invalid or unsupported Perl syntax';
const ErrInvalidRepeatOp = 'invalid nested repetition operator';
const ErrInvalidRepeatSize = 'invalid repeat count';
const ErrInvalidUTF8 = 'invalid UTF-8';
const ErrMissingBracket = 'missing closing ]';
const ErrMissingParen = 'missing closing )';
const ErrMissingRepeatArgument = 'missing argument to repetition operator';
const ErrTrailingBackslash = 'trailing backslash at end of expression';
const ErrUnexpectedParen = 'unexpected )';
const ErrNestingDepth = 'expression nests too deeply';

function syntaxError(code: string, expr: string): RegexpSyntaxError {
  return new RegexpSyntaxError(`error parsing regexp: ${code}: \`${expr}\``);
}

// ---------------------------------------------------------------------------------------------
// Character sets.

const r = (lo: string | number, hi: string | number = lo): Range => [
  typeof lo === 'number' ? lo : lo.codePointAt(0)!,
  typeof hi === 'number' ? hi : hi.codePointAt(0)!,
];

/** Go's perl_groups.go: `\d \s \w` and their negations (ASCII only, `\s` without `\v`). */
const PERL_GROUPS: Record<string, { ranges: Range[]; negated: boolean }> = {};
/** Go's POSIX classes `[:alnum:]` … and `[:^alnum:]` …. */
const POSIX_GROUPS: Record<string, { ranges: Range[]; negated: boolean }> = {};
{
  const perl: Record<string, Range[]> = {
    d: [r('0', '9')],
    s: [r('\t', '\n'), r('\f', '\r'), r(' ')],
    w: [r('0', '9'), r('A', 'Z'), r('_'), r('a', 'z')],
  };
  for (const [k, ranges] of Object.entries(perl)) {
    PERL_GROUPS[`\\${k}`] = { ranges, negated: false };
    PERL_GROUPS[`\\${k.toUpperCase()}`] = { ranges, negated: true };
  }
  const posix: Record<string, Range[]> = {
    alnum: [r('0', '9'), r('A', 'Z'), r('a', 'z')],
    alpha: [r('A', 'Z'), r('a', 'z')],
    ascii: [r(0, 0x7f)],
    blank: [r('\t'), r(' ')],
    cntrl: [r(0, 0x1f), r(0x7f)],
    digit: [r('0', '9')],
    graph: [r('!', '~')],
    lower: [r('a', 'z')],
    print: [r(' ', '~')],
    punct: [r('!', '/'), r(':', '@'), r('[', '`'), r('{', '~')],
    space: [r('\t', '\r'), r(' ')],
    upper: [r('A', 'Z')],
    word: [r('0', '9'), r('A', 'Z'), r('a', 'z'), r('_')],
    xdigit: [r('0', '9'), r('A', 'F'), r('a', 'f')],
  };
  for (const [k, ranges] of Object.entries(posix)) {
    POSIX_GROUPS[`[:${k}:]`] = { ranges, negated: false };
    POSIX_GROUPS[`[:^${k}:]`] = { ranges, negated: true };
  }
}

/** The quantifier text of a repeat with bounds `min`..`max` (`max` -1: unbounded), the same in RE2 and JavaScript syntax. */
export function quantifier(min: number, max: number): string {
  if (max === -1) return min === 0 ? '*' : min === 1 ? '+' : `{${min},}`;
  if (min === 0 && max === 1) return '?';
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

/** Sorts and merges ranges (Go's cleanClass). */
export function normalize(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

/** The complement of normalized ranges within [0, MAX_RUNE]. */
export function complement(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (next <= lo - 1) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Unicode simple case folding (Go's unicode.SimpleFold orbits).

interface FoldData {
  /** Code point → its orbit (all code points with the same simple case folding), size ≥ 2. */
  orbit: Map<number, readonly number[]>;
  /** Sorted code points that have an orbit. */
  cased: number[];
}

let foldData: FoldData | undefined;

/**
 * Builds the case-folding orbits once, lazily (only regexes using `(?i)` need them, ~25 ms).
 * Candidates are connected through single-code-point `toLowerCase`/`toUpperCase` mappings plus
 * the three simple foldings no case mapping connects; each candidate set is then split by
 * JavaScript's own `iu` equivalence, which is defined by Unicode simple case folding — the same
 * relation Go's `unicode.SimpleFold` iterates.
 */
function getFoldData(): FoldData {
  if (foldData) return foldData;
  const adj = new Map<number, number[]>();
  const link = (a: number, b: number): void => {
    let la = adj.get(a);
    if (!la) adj.set(a, (la = []));
    la.push(b);
    let lb = adj.get(b);
    if (!lb) adj.set(b, (lb = []));
    lb.push(a);
  };
  for (let cp = 0; cp <= 0x1ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const s = String.fromCodePoint(cp);
    for (const t of [s.toLowerCase(), s.toUpperCase()]) {
      if (t === s) continue;
      const c = t.codePointAt(0)!;
      if (String.fromCodePoint(c) === t) link(cp, c);
    }
  }
  // Simple case foldings between characters that have no single-character case mapping.
  for (const [a, b] of [
    [0x0390, 0x1fd3],
    [0x03b0, 0x1fe3],
    [0xfb05, 0xfb06],
  ] as const) {
    link(a, b);
  }
  const orbit = new Map<number, readonly number[]>();
  const seen = new Set<number>();
  for (const start of adj.keys()) {
    if (seen.has(start)) continue;
    const component: number[] = [];
    const queue = [start];
    seen.add(start);
    while (queue.length > 0) {
      const c = queue.pop()!;
      component.push(c);
      for (const n of adj.get(c) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          queue.push(n);
        }
      }
    }
    component.sort((a, b) => a - b);
    const assigned = new Set<number>();
    for (const m of component) {
      if (assigned.has(m)) continue;
      const re = new RegExp(`^\\u{${m.toString(16)}}$`, 'iu');
      const cls = component.filter((x) => re.test(String.fromCodePoint(x)));
      for (const x of cls) assigned.add(x);
      if (cls.length >= 2) for (const x of cls) orbit.set(x, cls);
    }
  }
  foldData = { orbit, cased: [...orbit.keys()].sort((a, b) => a - b) };
  return foldData;
}

/** The case-folding orbit of `cp` (just `[cp]` when it has no other case forms). */
export function orbitOf(cp: number): readonly number[] {
  if (cp < 0x41 || cp > 0x1e943) return [cp];
  return getFoldData().orbit.get(cp) ?? [cp];
}

/** Ranges plus every code point fold-equivalent to a member (Go's appendFoldedRange). */
function foldRanges(ranges: readonly Range[]): Range[] {
  const { orbit, cased } = getFoldData();
  const out: Range[] = [...ranges];
  for (const [lo, hi] of ranges) {
    if (hi < 0x41 || lo > 0x1e943) continue;
    let a = 0;
    let b = cased.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (cased[mid]! < lo) a = mid + 1;
      else b = mid;
    }
    for (let k = a; k < cased.length && cased[k]! <= hi; k++) {
      for (const m of orbit.get(cased[k]!)!) out.push([m, m]);
    }
  }
  return normalize(out);
}

const propExtrasCache = new Map<string, Range[]>();

/** Code points fold-equivalent to members of a Unicode property class (Go's Fold* tables). */
function propFoldExtras(body: string): Range[] {
  let extras = propExtrasCache.get(body);
  if (extras) return extras;
  const { orbit, cased } = getFoldData();
  const re = new RegExp(`[${body}]`, 'v');
  const out: Range[] = [];
  for (const cp of cased) {
    if (re.test(String.fromCodePoint(cp))) for (const m of orbit.get(cp)!) out.push([m, m]);
  }
  extras = normalize(out);
  propExtrasCache.set(body, extras);
  return extras;
}

// ---------------------------------------------------------------------------------------------
// Unicode class names (\pL, \p{Greek}, \p{^Greek}).

/** Go's unicode.Categories keys (LC and Cn only in recent Go; accepted here). */
const GO_CATEGORIES = [
  'C', 'Cc', 'Cf', 'Cn', 'Co', 'Cs', 'L', 'LC', 'Ll', 'Lm', 'Lo', 'Lt', 'Lu', 'M', 'Mc', 'Me', 'Mn',
  'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Pe', 'Pf', 'Pi', 'Po', 'Ps', 'S', 'Sc', 'Sk', 'Sm', 'So',
  'Z', 'Zl', 'Zp', 'Zs',
];

/** Go's unicode.CategoryAliases (Go 1.25+, long Unicode names). */
const GO_CATEGORY_ALIASES: Record<string, string> = {
  Cased_Letter: 'LC', Close_Punctuation: 'Pe', Combining_Mark: 'M', Connector_Punctuation: 'Pc',
  Control: 'Cc', Currency_Symbol: 'Sc', Dash_Punctuation: 'Pd', Decimal_Number: 'Nd',
  Enclosing_Mark: 'Me', Final_Punctuation: 'Pf', Format: 'Cf', Initial_Punctuation: 'Pi',
  Letter: 'L', Letter_Number: 'Nl', Line_Separator: 'Zl', Lowercase_Letter: 'Ll', Mark: 'M',
  Math_Symbol: 'Sm', Modifier_Letter: 'Lm', Modifier_Symbol: 'Sk', Nonspacing_Mark: 'Mn',
  Number: 'N', Open_Punctuation: 'Ps', Other: 'C', Other_Letter: 'Lo', Other_Number: 'No',
  Other_Punctuation: 'Po', Other_Symbol: 'So', Paragraph_Separator: 'Zp', Private_Use: 'Co',
  Punctuation: 'P', Separator: 'Z', Space_Separator: 'Zs', Spacing_Mark: 'Mc', Surrogate: 'Cs',
  Symbol: 'S', Titlecase_Letter: 'Lt', Unassigned: 'Cn', Uppercase_Letter: 'Lu', cntrl: 'Cc',
  digit: 'Nd', punct: 'P',
};

/** Go's unicode.Scripts keys (Unicode 15). */
const GO_SCRIPTS = `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian
Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret
Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian
Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo
Hatran Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian
Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi
Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic
Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive
Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari
New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic
Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya
Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic
Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo
Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut
Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi
Zanabazar_Square`.split(/\s+/);

/** Go's canonicalName: first letter upper-case, the rest lower-case, no `_`, `-` or spaces. */
function canonicalName(name: string): string {
  const stripped = name.replace(/[_\- ]/g, '');
  return stripped.slice(0, 1).toUpperCase() + stripped.slice(1).toLowerCase();
}

const UNICODE_TABLES = new Map<string, { ranges?: Range[]; body?: string; negated: boolean; script?: string }>();
{
  const cat = (c: string): string =>
    c === 'C' ? '\\p{gc=Cc}\\p{gc=Cf}\\p{gc=Co}\\p{gc=Cs}' : `\\p{gc=${c}}`; // Go's C excludes Cn
  for (const c of GO_CATEGORIES) UNICODE_TABLES.set(canonicalName(c), { body: cat(c), negated: false });
  for (const s of GO_SCRIPTS) {
    if (!UNICODE_TABLES.has(canonicalName(s))) {
      UNICODE_TABLES.set(canonicalName(s), { body: `\\p{sc=${s}}`, negated: false, script: s });
    }
  }
  for (const [alias, c] of Object.entries(GO_CATEGORY_ALIASES)) {
    if (!UNICODE_TABLES.has(canonicalName(alias))) {
      UNICODE_TABLES.set(canonicalName(alias), { body: cat(c), negated: false });
    }
  }
  UNICODE_TABLES.set('Any', { ranges: [[0, MAX_RUNE]], negated: false });
  UNICODE_TABLES.set('Assigned', { body: '\\p{gc=Cn}', negated: true });
  UNICODE_TABLES.set('Ascii', { ranges: [[0, 0x7f]], negated: false });
}

const supportedScripts = new Map<string, boolean>();

/** "Node.js 20.1.0, Unicode 15.1" under Node; a browser has no `process` (this module is browser-safe). */
function runtimeName(): string {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  return versions?.node ? `Node.js ${versions.node}, Unicode ${versions.unicode ?? '?'}` : 'this browser';
}

function checkScriptSupported(script: string, seq: string): void {
  let ok = supportedScripts.get(script);
  if (ok === undefined) {
    try {
      new RegExp(`\\p{sc=${script}}`, 'v');
      ok = true;
    } catch {
      ok = false;
    }
    supportedScripts.set(script, ok);
  }
  if (!ok) {
    throw new RegexpUnsupportedError(
      `Unicode class \`${seq}\`: script ${script} is not known to this JavaScript runtime (${runtimeName()})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Parser (a port of Go's regexp/syntax parse with the Perl flags Prometheus uses).

function isOctal(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '7';
}

function unhex(c: string | undefined): number {
  if (c === undefined) return -1;
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (c >= 'a' && c <= 'f') return c.charCodeAt(0) - 87;
  if (c >= 'A' && c <= 'F') return c.charCodeAt(0) - 55;
  return -1;
}

function isAlnum(c: string): boolean {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

function cpLen(cp: number): number {
  return cp > 0xffff ? 2 : 1;
}

/** Go's repeatIsValid: nested `{n,m}` counts may not multiply beyond `n` copies. */
function repeatIsValid(node: Node, n: number): boolean {
  if (node.t === 'repeat' && node.braces) {
    let m = node.max;
    if (m === 0) return true;
    if (m < 0) m = node.min;
    if (m > n) return false;
    if (m > 0) n = Math.trunc(n / m);
  }
  switch (node.t) {
    case 'cap':
    case 'repeat':
      return repeatIsValid(node.sub, n);
    case 'concat':
    case 'alt':
      return node.subs.every((s) => repeatIsValid(s, n));
    default:
      return true;
  }
}

class Parser {
  private flags: Flags = { fold: false, multiLine: false, dotNL: false, nonGreedy: false };
  private readonly frames: Frame[] = [];
  private lastRepeatStart = -1;
  numCap = 0;
  readonly names: (string | undefined)[] = [undefined];

  constructor(private readonly s: string) {}

  private get top(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  private push(node: Node): void {
    this.top.cur.push(node);
  }

  private literal(cp: number): void {
    this.push({ t: 'lit', cp, fold: this.flags.fold });
  }

  private openGroup(cap: number): void {
    if (this.frames.length > MAX_DEPTH) throw syntaxError(ErrNestingDepth, this.s);
    this.frames.push({ alts: [], cur: [], savedFlags: { ...this.flags }, cap });
  }

  private static finish(frame: Frame): Node {
    const alts = [...frame.alts, frame.cur].map((items): Node =>
      items.length === 0 ? { t: 'empty' } : items.length === 1 ? items[0]! : { t: 'concat', subs: items },
    );
    return alts.length === 1 ? alts[0]! : { t: 'alt', subs: alts };
  }

  parse(): Node {
    const s = this.s;
    const bad = /[\uD800-\uDFFF]/u.exec(s);
    if (bad) throw syntaxError(ErrInvalidUTF8, s.slice(bad.index));
    this.frames.push({ alts: [], cur: [], savedFlags: { ...this.flags }, cap: -1 });
    let i = 0;
    while (i < s.length) {
      let repeatStart = -1;
      const c = s[i]!;
      switch (c) {
        case '(':
          if (s[i + 1] === '?') {
            i = this.parsePerlFlags(i);
          } else {
            this.openGroup(++this.numCap);
            this.names.push(undefined);
            i++;
          }
          break;
        case '|': {
          const f = this.top;
          f.alts.push(f.cur);
          f.cur = [];
          i++;
          break;
        }
        case ')': {
          if (this.frames.length < 2) throw syntaxError(ErrUnexpectedParen, s);
          const f = this.frames.pop()!;
          const node = Parser.finish(f);
          this.flags = f.savedFlags;
          this.push(f.cap > 0 ? { t: 'cap', index: f.cap, sub: node } : node);
          i++;
          break;
        }
        case '^':
          this.push({ t: 'assert', kind: this.flags.multiLine ? 'beginLine' : 'beginText' });
          i++;
          break;
        case '$':
          this.push({ t: 'assert', kind: this.flags.multiLine ? 'endLine' : 'endText' });
          i++;
          break;
        case '.':
          this.push({ t: 'any', nl: this.flags.dotNL });
          i++;
          break;
        case '[':
          i = this.parseClass(i);
          break;
        case '*':
        case '+':
        case '?': {
          const [min, max] = c === '*' ? [0, -1] : c === '+' ? [1, -1] : [0, 1];
          repeatStart = i;
          i = this.repeat(min, max, false, i, i + 1);
          break;
        }
        case '{': {
          const rep = this.parseRepeat(i);
          if (!rep) {
            this.literal(0x7b);
            i++;
            break;
          }
          const { min, max, end } = rep;
          if (min < 0 || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
            throw syntaxError(ErrInvalidRepeatSize, s.slice(i, end));
          }
          repeatStart = i;
          i = this.repeat(min, max, true, i, end);
          break;
        }
        case '\\':
          i = this.parseBackslash(i);
          break;
        default: {
          const cp = s.codePointAt(i)!;
          this.literal(cp);
          i += cpLen(cp);
        }
      }
      this.lastRepeatStart = repeatStart;
    }
    if (this.frames.length !== 1) throw syntaxError(ErrMissingParen, s);
    return Parser.finish(this.frames[0]!);
  }

  /** Applies a repetition operator to the last item (Go's parser.repeat). Returns the new index. */
  private repeat(min: number, max: number, braces: boolean, opStart: number, after: number): number {
    let lazy = this.flags.nonGreedy;
    if (this.s[after] === '?') {
      after++;
      lazy = !lazy;
    }
    if (this.lastRepeatStart >= 0) {
      throw syntaxError(ErrInvalidRepeatOp, this.s.slice(this.lastRepeatStart, after));
    }
    const cur = this.top.cur;
    const sub = cur.pop();
    if (!sub) throw syntaxError(ErrMissingRepeatArgument, this.s.slice(opStart, after));
    const node: Node = { t: 'repeat', min, max, lazy, braces, sub };
    cur.push(node);
    if (braces && (min >= 2 || max >= 2) && !repeatIsValid(node, MAX_REPEAT)) {
      throw syntaxError(ErrInvalidRepeatSize, this.s.slice(opStart, after));
    }
    return after;
  }

  /** Go's parseInt: decimal without leading zeros; values ≥ 1e8 become -1. */
  private parseInt(i: number): { n: number; end: number } | undefined {
    const s = this.s;
    if (!(s[i]! >= '0' && s[i]! <= '9')) return undefined;
    if (s[i] === '0' && s[i + 1]! >= '0' && s[i + 1]! <= '9') return undefined;
    let j = i;
    while (j < s.length && s[j]! >= '0' && s[j]! <= '9') j++;
    let n = 0;
    for (let k = i; k < j; k++) {
      if (n >= 1e8) {
        n = -1;
        break;
      }
      n = n * 10 + s.charCodeAt(k) - 48;
    }
    return { n, end: j };
  }

  /** Go's parseRepeat: `{n}`, `{n,}`, `{n,m}`; undefined when `{` is a literal. */
  private parseRepeat(i: number): { min: number; max: number; end: number } | undefined {
    const s = this.s;
    const a = this.parseInt(i + 1);
    if (!a) return undefined;
    let min = a.n;
    let max: number;
    let j = a.end;
    if (j >= s.length) return undefined;
    if (s[j] !== ',') {
      max = min;
    } else {
      j++;
      if (j >= s.length) return undefined;
      if (s[j] === '}') {
        max = -1;
      } else {
        const b = this.parseInt(j);
        if (!b) return undefined;
        max = b.n;
        j = b.end;
        if (max < 0) min = -1;
      }
    }
    if (s[j] !== '}') return undefined;
    return { min, max, end: j + 1 };
  }

  /** Go's parsePerlFlags: named captures, `(?flags)` and `(?flags:`. Returns the new index. */
  private parsePerlFlags(i: number): number {
    const s = this.s;
    const startsWithP = s.length - i > 4 && s[i + 2] === 'P' && s[i + 3] === '<';
    const startsWithName = s.length - i > 3 && s[i + 2] === '<';
    if (startsWithP || startsWithName) {
      const exprStart = i + (startsWithP ? 4 : 3);
      const end = s.indexOf('>', i);
      if (end < 0) throw syntaxError(ErrInvalidNamedCapture, s.slice(i));
      const capture = s.slice(i, end + 1);
      const name = s.slice(exprStart, end);
      if (!/^[A-Za-z0-9_]+$/.test(name)) throw syntaxError(ErrInvalidNamedCapture, capture);
      this.openGroup(++this.numCap);
      this.names.push(name);
      return end + 1;
    }
    const flags = { ...this.flags };
    let sign = 1;
    let sawFlag = false;
    let j = i + 2;
    while (j < s.length) {
      const cp = s.codePointAt(j)!;
      const c = String.fromCodePoint(cp);
      j += cpLen(cp);
      switch (c) {
        case 'i':
          flags.fold = sign > 0;
          sawFlag = true;
          continue;
        case 'm':
          flags.multiLine = sign > 0;
          sawFlag = true;
          continue;
        case 's':
          flags.dotNL = sign > 0;
          sawFlag = true;
          continue;
        case 'U':
          flags.nonGreedy = sign > 0;
          sawFlag = true;
          continue;
        case '-':
          if (sign < 0) break;
          sign = -1;
          sawFlag = false;
          continue;
        case ':':
        case ')':
          if (sign < 0 && !sawFlag) break;
          if (c === ':') this.openGroup(0);
          this.flags = flags;
          return j;
      }
      break;
    }
    throw syntaxError(ErrInvalidPerlOp, s.slice(i, j));
  }

  /** A backslash outside a class. Returns the new index. */
  private parseBackslash(i: number): number {
    const s = this.s;
    switch (s[i + 1]) {
      case 'A':
        this.push({ t: 'assert', kind: 'beginText' });
        return i + 2;
      case 'b':
        this.push({ t: 'assert', kind: 'wordBoundary' });
        return i + 2;
      case 'B':
        this.push({ t: 'assert', kind: 'noWordBoundary' });
        return i + 2;
      case 'C':
        throw syntaxError(ErrInvalidEscape, '\\C');
      case 'Q': {
        const end = s.indexOf('\\E', i + 2);
        const lit = end < 0 ? s.slice(i + 2) : s.slice(i + 2, end);
        for (const ch of lit) this.literal(ch.codePointAt(0)!);
        return end < 0 ? s.length : end + 2;
      }
      case 'z':
        this.push({ t: 'assert', kind: 'endText' });
        return i + 2;
      case 'p':
      case 'P': {
        const cls: CharClass = { ranges: [], props: [], negated: false };
        const end = this.parseUnicodeClass(i, cls);
        this.push({ t: 'class', cls });
        return end;
      }
    }
    const group = PERL_GROUPS[s.slice(i, i + 2)];
    if (group) {
      const cls: CharClass = { ranges: [], props: [], negated: false };
      this.addGroup(cls, group);
      this.push({ t: 'class', cls });
      return i + 2;
    }
    const { cp, end } = this.parseEscape(i);
    this.literal(cp);
    return end;
  }

  /** Go's appendGroup: fold (if `(?i)`) then negate. */
  private addGroup(cls: CharClass, group: { ranges: Range[]; negated: boolean }): void {
    let ranges = this.flags.fold ? foldRanges(group.ranges) : normalize(group.ranges);
    if (group.negated) ranges = complement(ranges);
    cls.ranges.push(...ranges);
  }

  /** Go's parseUnicodeClass at `\p` / `\P`; appends to `cls`. Returns the new index. */
  private parseUnicodeClass(i: number, cls: CharClass): number {
    const s = this.s;
    let negated = s[i + 1] === 'P';
    let seq: string;
    let name: string;
    let end: number;
    if (s[i + 2] !== '{') {
      const cp = s.codePointAt(i + 2);
      end = cp === undefined ? i + 2 : i + 2 + cpLen(cp);
      seq = s.slice(i, end);
      name = seq.slice(2);
    } else {
      const close = s.indexOf('}', i);
      if (close < 0) throw syntaxError(ErrInvalidCharRange, s.slice(i));
      seq = s.slice(i, close + 1);
      name = s.slice(i + 3, close);
      end = close + 1;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    const table = name === '' ? undefined : UNICODE_TABLES.get(canonicalName(name));
    if (!table) throw syntaxError(ErrInvalidCharRange, seq);
    if (table.script) checkScriptSupported(table.script, seq);
    if (table.negated) negated = !negated;
    if (table.ranges) {
      let ranges = this.flags.fold ? foldRanges(table.ranges) : table.ranges;
      if (negated) ranges = complement(normalize(ranges));
      cls.ranges.push(...ranges);
    } else {
      const body = table.body!;
      cls.props.push({ body, extra: this.flags.fold ? propFoldExtras(body) : [], negated });
    }
    return end;
  }

  /** Go's parseEscape at a backslash: a single escaped code point. */
  private parseEscape(i: number): { cp: number; end: number } {
    const s = this.s;
    let t = i + 1;
    if (t >= s.length) throw syntaxError(ErrTrailingBackslash, '');
    const c0 = s.codePointAt(t)!;
    const c = String.fromCodePoint(c0);
    t += cpLen(c0);
    fail: {
      if (c0 < 0x80 && !isAlnum(c)) return { cp: c0, end: t };
      if (c >= '0' && c <= '7') {
        // A single non-zero digit would be a back-reference: not supported.
        if (c !== '0' && !isOctal(s[t])) break fail;
        let v = c0 - 48;
        for (let k = 1; k < 3 && isOctal(s[t]); k++) {
          v = v * 8 + s.charCodeAt(t) - 48;
          t++;
        }
        return { cp: v, end: t };
      }
      switch (c) {
        case 'x': {
          if (t >= s.length) break fail;
          const c1 = s[t]!;
          t++;
          if (c1 === '{') {
            let nhex = 0;
            let v = 0;
            for (;;) {
              if (t >= s.length) break fail;
              const ch = s[t]!;
              t++;
              if (ch === '}') break;
              const d = unhex(ch);
              if (d < 0) break fail;
              v = v * 16 + d;
              if (v > MAX_RUNE) break fail;
              nhex++;
            }
            if (nhex === 0) break fail;
            return { cp: v, end: t };
          }
          const x = unhex(c1);
          const y = unhex(s[t]);
          if (t < s.length) t++;
          if (x < 0 || y < 0) break fail;
          return { cp: x * 16 + y, end: t };
        }
        case 'a':
          return { cp: 7, end: t };
        case 'f':
          return { cp: 12, end: t };
        case 'n':
          return { cp: 10, end: t };
        case 'r':
          return { cp: 13, end: t };
        case 't':
          return { cp: 9, end: t };
        case 'v':
          return { cp: 11, end: t };
      }
    }
    throw syntaxError(ErrInvalidEscape, s.slice(i, t));
  }

  /** Go's parseClassChar. */
  private parseClassChar(j: number, classStart: number): { cp: number; end: number } {
    const s = this.s;
    if (j >= s.length) throw syntaxError(ErrMissingBracket, s.slice(classStart));
    if (s[j] === '\\') return this.parseEscape(j);
    const cp = s.codePointAt(j)!;
    return { cp, end: j + cpLen(cp) };
  }

  /** Go's parseClass at `[`. Returns the new index. */
  private parseClass(i: number): number {
    const s = this.s;
    const cls: CharClass = { ranges: [], props: [], negated: false };
    let j = i + 1;
    if (s[j] === '^') {
      cls.negated = true;
      j++;
    }
    let first = true;
    while (j >= s.length || s[j] !== ']' || first) {
      first = false;
      if (s.length - j > 2 && s[j] === '[' && s[j + 1] === ':') {
        const k = s.indexOf(':]', j + 2);
        if (k >= 0) {
          const name = s.slice(j, k + 2);
          const group = POSIX_GROUPS[name];
          if (!group) throw syntaxError(ErrInvalidCharRange, name);
          this.addGroup(cls, group);
          j = k + 2;
          continue;
        }
      }
      if (s[j] === '\\' && (s[j + 1] === 'p' || s[j + 1] === 'P')) {
        j = this.parseUnicodeClass(j, cls);
        continue;
      }
      const group = s[j] === '\\' ? PERL_GROUPS[s.slice(j, j + 2)] : undefined;
      if (group) {
        this.addGroup(cls, group);
        j += 2;
        continue;
      }
      const rangeStart = j;
      const lo = this.parseClassChar(j, i);
      j = lo.end;
      let hi = lo.cp;
      if (s.length - j >= 2 && s[j] === '-' && s[j + 1] !== ']') {
        const h = this.parseClassChar(j + 1, i);
        j = h.end;
        hi = h.cp;
        if (hi < lo.cp) throw syntaxError(ErrInvalidCharRange, s.slice(rangeStart, j));
      }
      const range: Range = [lo.cp, hi];
      cls.ranges.push(...(this.flags.fold ? foldRanges([range]) : [range]));
    }
    this.push({ t: 'class', cls });
    return j + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// JavaScript emission (flags `sv`).

function escCp(cp: number): string {
  const c = String.fromCodePoint(cp);
  return /^[A-Za-z0-9_]$/.test(c) ? c : `\\u{${cp.toString(16)}}`;
}

function emitRanges(ranges: readonly Range[]): string {
  let out = '';
  for (const [lo, hi] of normalize(ranges)) out += lo === hi ? escCp(lo) : `${escCp(lo)}-${escCp(hi)}`;
  return out;
}

function emitClass(cls: CharClass): string {
  let body = emitRanges(cls.ranges);
  for (const p of cls.props) {
    const inner = p.body + emitRanges(p.extra);
    body += p.negated ? `[^${inner}]` : inner;
  }
  return `[${cls.negated ? '^' : ''}${body}]`;
}

const ASSERT_JS: Record<AssertKind, string> = {
  beginText: '^',
  endText: '$',
  beginLine: '(?<![^\\n])',
  endLine: '(?![^\\n])',
  wordBoundary: '\\b',
  noWordBoundary: '\\B',
};

function emit(node: Node): string {
  switch (node.t) {
    case 'empty':
      return '';
    case 'lit': {
      if (!node.fold) return escCp(node.cp);
      const orbit = orbitOf(node.cp);
      return orbit.length === 1 ? escCp(node.cp) : `[${orbit.map(escCp).join('')}]`;
    }
    case 'class':
      return emitClass(node.cls);
    case 'any':
      return node.nl ? '.' : '[^\\n]';
    case 'assert':
      return ASSERT_JS[node.kind];
    case 'cap':
      return `(${emit(node.sub)})`;
    case 'concat':
      return node.subs.map((s) => (s.t === 'alt' ? `(?:${emit(s)})` : emit(s))).join('');
    case 'alt':
      return node.subs.map(emit).join('|');
    case 'repeat': {
      const sub = node.sub;
      const atom =
        sub.t === 'lit' || sub.t === 'class' || sub.t === 'any' || sub.t === 'cap' ? emit(sub) : `(?:${emit(sub)})`;
      const { min, max } = node;
      const q = quantifier(min, max);
      return atom + q + (node.lazy ? '?' : '');
    }
  }
}

/**
 * Marks capture groups whose value may differ between Go (keeps the last value set by any
 * iteration) and JavaScript (resets groups at each iteration): groups inside a repetition that can
 * run more than once, reached from it through an alternation or an optional repetition.
 */
function findUnstableGroups(node: Node, inLoop: boolean, danger: boolean, out: Set<number>): void {
  switch (node.t) {
    case 'cap':
      if (danger) out.add(node.index);
      findUnstableGroups(node.sub, inLoop, danger, out);
      return;
    case 'concat':
      for (const s of node.subs) findUnstableGroups(s, inLoop, danger, out);
      return;
    case 'alt':
      for (const s of node.subs) findUnstableGroups(s, inLoop, danger || inLoop, out);
      return;
    case 'repeat': {
      const d = danger || (inLoop && node.min === 0);
      const multi = node.max === -1 || node.max > 1;
      findUnstableGroups(node.sub, inLoop || multi, d, out);
      return;
    }
    default:
      return;
  }
}

const cache = new Map<string, GoRegexp | RegexpSyntaxError | RegexpUnsupportedError>();
const CACHE_LIMIT = 1000;

/**
 * Compiles a Prometheus relabel regex the way Prometheus does (`^(?s:<pattern>)$` with Go's
 * `regexp`), translated to JavaScript. Results are cached per pattern.
 *
 * The returned `regex` is a backtracking JavaScript expression: matching it against untrusted
 * input can take exponential time. Match with `compileRe2` (the `regex` module), which uses it only
 * where that cannot happen; this translation is its parser and its fast path.
 *
 * @throws RegexpSyntaxError when Go would reject the regex (message is Go's).
 * @throws RegexpUnsupportedError when Go accepts it but this runtime cannot evaluate it exactly.
 */
export function compileAnchoredRegexp(pattern: string): GoRegexp {
  const hit = cache.get(pattern);
  if (hit instanceof Error) throw hit;
  if (hit) return hit;
  let result: GoRegexp | RegexpSyntaxError | RegexpUnsupportedError;
  try {
    result = translate(pattern);
  } catch (err) {
    if (!(err instanceof RegexpSyntaxError || err instanceof RegexpUnsupportedError)) throw err;
    result = err;
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(pattern, result);
  if (result instanceof Error) throw result;
  return result;
}

function translate(pattern: string): GoRegexp {
  const parser = new Parser(`^(?s:${pattern})$`);
  const tree = parser.parse();
  const jsSource = emit(tree);
  let regex: RegExp;
  try {
    regex = new RegExp(jsSource, 'sv');
  } catch (err) {
    throw new RegexpUnsupportedError(
      `cannot be translated to a JavaScript regular expression (${(err as Error).message})`,
    );
  }
  const unstableGroups = new Set<number>();
  findUnstableGroups(tree, false, false, unstableGroups);
  return {
    pattern,
    jsSource,
    regex,
    numGroups: parser.numCap,
    groupNames: parser.names,
    unstableGroups,
    tree,
  };
}

// ---------------------------------------------------------------------------------------------
// Go's Regexp.Expand templates.

/** One piece of an expansion template: literal text, or a group reference. */
export type TemplatePart = string | { readonly num: number } | { readonly name: string };

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/**
 * Parses a replacement template with Go's `Regexp.Expand` rules: `$$` is `$`; `$name` takes the
 * longest run of letters, digits and `_` (so `$1x` names group "1x"); `${name}` is explicit; a
 * purely numeric name without leading zero (below 1e8) is a group number; a malformed reference
 * (`$`, `${`, `${}`, `$-`) is kept as a literal `$`.
 */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = '';
  let i = 0;
  for (;;) {
    const d = template.indexOf('$', i);
    if (d < 0) break;
    lit += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      lit += '$';
      i++;
      continue;
    }
    const ref = extractRef(template, i);
    if (!ref) {
      lit += '$';
      continue;
    }
    if (lit) parts.push(lit);
    lit = '';
    parts.push(ref.num >= 0 ? { num: ref.num } : { name: ref.name });
    i = ref.end;
  }
  lit += template.slice(i);
  if (lit) parts.push(lit);
  return parts;
}

/** Go's `extract`: a leading `name` or `{name}` after a `$`. */
function extractRef(t: string, i: number): { name: string; num: number; end: number } | undefined {
  if (i >= t.length) return undefined;
  const brace = t[i] === '{';
  if (brace) i++;
  let j = i;
  while (j < t.length) {
    const cp = t.codePointAt(j)!;
    if (!NAME_CHAR.test(String.fromCodePoint(cp))) break;
    j += cpLen(cp);
  }
  if (j === i) return undefined;
  const name = t.slice(i, j);
  if (brace) {
    if (t[j] !== '}') return undefined;
    j++;
  }
  let num = 0;
  for (const c of name) {
    if (c < '0' || c > '9' || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + c.charCodeAt(0) - 48;
  }
  if (name[0] === '0' && name.length > 1) num = -1;
  return { name, num, end: j };
}
