import { RE2JS } from 're2js';
import { isBacktrackSafe } from './linear.js';
import { compileAnchoredRegexp, RegexpSyntaxError, RegexpUnsupportedError, type GoRegexp } from './re2.js';
import { toRe2Syntax } from './re2-syntax.js';

/** The submatches of one match: index 0 is the whole match, `undefined` for a group that did not take part. */
export type Re2Match = ArrayLike<string | undefined>;

/**
 * A Prometheus regex compiled for matching untrusted input in linear time. It behaves as Go's
 * `regexp.MustCompile("^(?s:" + pattern + ")$")` — fully anchored unless the pattern itself breaks
 * out of the group (`a)|(b`), exactly as in Prometheus (relabelling and label matchers alike).
 */
export interface Re2Regexp {
  /** The pattern as written (without Prometheus's anchors). */
  readonly pattern: string;
  /**
   * `native`: the translated JavaScript `RegExp`, used only where {@link isBacktrackSafe} proves it
   * linear; `re2js`: the linear-time RE2 engine (everything else).
   */
  readonly engine: 'native' | 're2js';
  /** Number of capturing groups (Go's `NumSubexp`). */
  readonly numGroups: number;
  /** Name of each group by index (index 0 has none); like Go's `SubexpNames`. */
  readonly groupNames: readonly (string | undefined)[];
  /** See {@link GoRegexp.unstableGroups} (groups whose value JavaScript reports differently from Go). */
  readonly unstableGroups: ReadonlySet<number>;
  /** Whether the expression matches `input` (Go's `MatchString`). */
  test(input: string): boolean;
  /** The leftmost-first match and its submatches, or null (Go's `FindStringSubmatch`). */
  exec(input: string): Re2Match | null;
  /**
   * Go's `ReplaceAllString` with a computed replacement: every successive non-overlapping match is
   * replaced by `replacement(match)`; an empty match right after a previous match is ignored.
   */
  replaceAll(input: string, replacement: (match: Re2Match) => string): string;
}

/** Options for {@link compileRe2}. */
export interface CompileRe2Options {
  /**
   * `auto` (default): native where provably linear, else re2js. `linear`: always re2js (for tests
   * and benchmarks comparing the engines).
   */
  engine?: 'auto' | 'linear';
}

/** Where a match starts and ends (UTF-16 offsets) and its submatches. */
interface Found {
  start: number;
  end: number;
  match: Re2Match;
}

/** Go's `ReplaceAllString` loop over an engine's "find the next match at or after `pos`". */
function replaceAllWith(src: string, findAt: (pos: number) => Found | null, replacement: (m: Re2Match) => string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    const f = findAt(searchPos);
    if (!f) break;
    out += src.slice(lastMatchEnd, f.start);
    if (f.end > lastMatchEnd || f.start === 0) out += replacement(f.match);
    lastMatchEnd = f.end;
    const width = searchPos < src.length ? (src.codePointAt(searchPos)! > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > f.end) searchPos += width;
    else if (searchPos + 1 > f.end) searchPos++;
    else searchPos = f.end;
  }
  return out + src.slice(lastMatchEnd);
}

/**
 * The translated JavaScript `RegExp`, for patterns {@link isBacktrackSafe} proves linear. A class
 * (not per-pattern closures) so that V8 sees one call target for every native regex.
 */
class NativeRegexp implements Re2Regexp {
  readonly engine = 'native';
  readonly pattern: string;
  readonly numGroups: number;
  readonly groupNames: readonly (string | undefined)[];
  readonly unstableGroups: ReadonlySet<number>;
  private readonly re: RegExp;
  private readonly source: string;
  private global: RegExp | undefined;

  constructor(go: GoRegexp) {
    this.pattern = go.pattern;
    this.numGroups = go.numGroups;
    this.groupNames = go.groupNames;
    this.unstableGroups = go.unstableGroups;
    this.re = go.regex;
    this.source = go.jsSource;
  }

  test(s: string): boolean {
    return this.re.test(s);
  }

  exec(s: string): Re2Match | null {
    return this.re.exec(s);
  }

  replaceAll(s: string, replacement: (match: Re2Match) => string): string {
    const global = (this.global ??= new RegExp(this.source, 'gsv'));
    return replaceAllWith(
      s,
      (pos) => {
        global.lastIndex = pos;
        const m = global.exec(s);
        return m ? { start: m.index, end: m.index + m[0].length, match: m } : null;
      },
      replacement,
    );
  }
}

/** re2js (linear time), running the RE2 rendering of the translator's tree. */
class LinearRegexp implements Re2Regexp {
  readonly engine = 're2js';
  readonly pattern: string;
  readonly numGroups: number;
  readonly groupNames: readonly (string | undefined)[];
  readonly unstableGroups: ReadonlySet<number>;
  private readonly re: RE2JS;

  constructor(go: GoRegexp) {
    this.pattern = go.pattern;
    this.numGroups = go.numGroups;
    this.groupNames = go.groupNames;
    this.unstableGroups = go.unstableGroups;
    try {
      this.re = RE2JS.compile(toRe2Syntax(go.tree));
    } catch (err) {
      throw new RegexpUnsupportedError(`the linear-time engine rejected it (${(err as Error).message})`);
    }
  }

  test(s: string): boolean {
    return this.re.test(s);
  }

  exec(s: string): Re2Match | null {
    return this.re.exec(s) as Re2Match | null;
  }

  replaceAll(s: string, replacement: (match: Re2Match) => string): string {
    const matcher = this.re.matcher(s);
    const n = this.numGroups;
    return replaceAllWith(
      s,
      (pos) => {
        if (!matcher.find(pos)) return null;
        const match: (string | undefined)[] = [];
        for (let g = 0; g <= n; g++) match.push(matcher.group(g) ?? undefined);
        return { start: matcher.start(), end: matcher.end(), match };
      },
      replacement,
    );
  }
}

const cache = new Map<string, Re2Regexp | Error>();
const CACHE_LIMIT = 1000;

/**
 * Compiles a Prometheus regex (RE2 syntax, Go's `regexp` semantics, anchored as Prometheus anchors
 * it) for matching untrusted input in time linear in its length. This is the one compile function
 * for every user-supplied regex: relabel rules (control plane and agent) and pipeline selectors.
 *
 * Go's parser (the `re2` translator) validates the pattern and resolves flags, classes and case
 * folding; then the engine is chosen per pattern:
 * - the translated JavaScript `RegExp` (fast, ~50 ns for a label) only when {@link isBacktrackSafe}
 *   proves that backtracking cannot re-read the input — the expression is deterministic with one
 *   character of look-ahead — and no capture group is unstable (so submatches are Go's too);
 * - otherwise re2js (a port of Go's RE2 engine: ~1–3 µs for a label, linear in its length), fed
 *   with an RE2 rendering of the same tree so both engines accept the same characters.
 *
 * Results (and errors) are cached per pattern. Browser-safe: no Node.js imports.
 *
 * @throws RegexpSyntaxError when Go would reject the regex (message is Go's, as Prometheus prints it).
 * @throws RegexpUnsupportedError when Go accepts it but this runtime cannot evaluate it exactly.
 */
export function compileRe2(pattern: string, options: CompileRe2Options = {}): Re2Regexp {
  const engine = options.engine ?? 'auto';
  const key = `${engine}\u0000${pattern}`;
  const hit = cache.get(key);
  if (hit instanceof Error) throw hit;
  if (hit) return hit;
  let result: Re2Regexp | Error;
  try {
    const go = compileAnchoredRegexp(pattern);
    result =
      engine === 'auto' && go.unstableGroups.size === 0 && isBacktrackSafe(go.tree) ? new NativeRegexp(go) : new LinearRegexp(go);
  } catch (err) {
    if (!(err instanceof RegexpSyntaxError || err instanceof RegexpUnsupportedError)) throw err;
    result = err;
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, result);
  if (result instanceof Error) throw result;
  return result;
}
