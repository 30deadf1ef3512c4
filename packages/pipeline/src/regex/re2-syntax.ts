/**
 * Parse tree → RE2 syntax for the linear-time engine (`re2js`).
 *
 * The tree comes from the Go parser port in `re2.ts`, which has already applied the flags and
 * resolved every class; this module writes it back in a minimal RE2 dialect (code point literals,
 * explicit ranges, `\A \z \b \B`, `(?m:^)`, `(?s:.)`, groups, repetitions). re2js therefore never
 * interprets `(?i)`, `\pL` or `[[:alpha:]]` itself, so both engines see the very same character
 * sets and only the matching strategy differs.
 */
import { complement, MAX_RUNE, normalize, orbitOf, quantifier, type AssertKind, type CharClass, type Node, type Range } from './re2.js';

const propCache = new Map<string, Range[]>();

/**
 * The code points of a JavaScript class body such as `\p{sc=Greek}` (as the translator emits
 * for Unicode classes), by testing every code point once (~50 ms, cached per body).
 */
function propRanges(body: string): Range[] {
  let ranges = propCache.get(body);
  if (ranges) return ranges;
  const re = new RegExp(`^[${body}]$`, 'v');
  const out: Range[] = [];
  let start = -1;
  for (let cp = 0; cp <= MAX_RUNE + 1; cp++) {
    const inside = cp <= MAX_RUNE && re.test(String.fromCodePoint(cp));
    if (inside && start < 0) start = cp;
    else if (!inside && start >= 0) {
      out.push([start, cp - 1]);
      start = -1;
    }
  }
  ranges = normalize(out);
  propCache.set(body, ranges);
  return ranges;
}

/** The members of a translated class as ranges (the same set the JavaScript class denotes). */
function classRanges(cls: CharClass): Range[] {
  let set: Range[] = [...cls.ranges];
  for (const p of cls.props) {
    const members = normalize([...propRanges(p.body), ...p.extra]);
    set.push(...(p.negated ? complement(members) : members));
  }
  set = normalize(set);
  return cls.negated ? complement(set) : set;
}

const hex = (cp: number): string => `\\x{${cp.toString(16)}}`;

function lit(cp: number): string {
  return cp < 0x80 && /[A-Za-z0-9_]/.test(String.fromCharCode(cp)) ? String.fromCharCode(cp) : hex(cp);
}

function emitRanges(ranges: readonly Range[]): string {
  if (ranges.length === 0) return `[^\\x{0}-${hex(MAX_RUNE)}]`; // matches nothing
  if (ranges.length === 1 && ranges[0]![0] === ranges[0]![1]) return lit(ranges[0]![0]);
  return `[${ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('')}]`;
}

const ASSERT_RE2: Record<AssertKind, string> = {
  beginText: '\\A',
  endText: '\\z',
  beginLine: '(?m:^)',
  endLine: '(?m:$)',
  wordBoundary: '\\b',
  noWordBoundary: '\\B',
};

function emit(node: Node): string {
  switch (node.t) {
    case 'empty':
      return '(?:)';
    case 'lit':
      return node.fold ? emitRanges(normalize(orbitOf(node.cp).map((cp): Range => [cp, cp]))) : lit(node.cp);
    case 'class':
      return emitRanges(classRanges(node.cls));
    case 'any':
      return node.nl ? '(?s:.)' : '[^\\n]';
    case 'assert':
      return ASSERT_RE2[node.kind];
    case 'cap':
      return `(${emit(node.sub)})`;
    case 'concat':
      return node.subs.map((s) => (s.t === 'alt' ? `(?:${emit(s)})` : emit(s))).join('');
    case 'alt':
      return node.subs.map(emit).join('|');
    case 'repeat': {
      const { min, max } = node;
      const q = quantifier(min, max);
      return `(?:${emit(node.sub)})${q}${node.lazy ? '?' : ''}`;
    }
  }
}

/** The RE2 pattern (no flags needed) that matches exactly as the tree's JavaScript translation. */
export function toRe2Syntax(tree: Node): string {
  return emit(tree);
}
