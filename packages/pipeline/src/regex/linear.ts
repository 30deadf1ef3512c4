/**
 * When may a Go regexp run on JavaScript's backtracking engine? This module answers with a
 * conservative, provable rule on the parse tree (see {@link isBacktrackSafe}).
 */
import { complement, MAX_RUNE, normalize, orbitOf, type Node, type Range } from './re2.js';

/** A set of code points: sorted, merged, inclusive ranges. */
type CharSet = readonly Range[];

const NONE: CharSet = [];
const ALL: CharSet = [[0, MAX_RUNE]];
const NOT_NEWLINE: CharSet = complement([[0x0a, 0x0a]]);

function union(a: CharSet, b: CharSet): CharSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...a, ...b]);
}

function intersects(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    if (alo <= bhi && blo <= ahi) return true;
    if (ahi < bhi) i++;
    else j++;
  }
  return false;
}

interface Info {
  /** Code points that can start a non-empty match of the node. */
  first: CharSet;
  /** Whether the node can match the empty string. */
  nullable: boolean;
}

/**
 * FIRST set and nullability of every node. Over-approximations are safe (they can only make the
 * rule reject more): a class containing a Unicode property counts as "any character", and an
 * assertion counts as the empty string (it can make a path fail, never add one).
 */
class Analysis {
  private readonly memo = new Map<Node, Info>();

  info(node: Node): Info {
    let info = this.memo.get(node);
    if (!info) {
      info = this.compute(node);
      this.memo.set(node, info);
    }
    return info;
  }

  private compute(node: Node): Info {
    switch (node.t) {
      case 'empty':
      case 'assert':
        return { first: NONE, nullable: true };
      case 'lit':
        return { first: normalize((node.fold ? orbitOf(node.cp) : [node.cp]).map((cp): Range => [cp, cp])), nullable: false };
      case 'class': {
        if (node.cls.props.length > 0) return { first: ALL, nullable: false };
        const ranges = normalize(node.cls.ranges);
        return { first: node.cls.negated ? complement(ranges) : ranges, nullable: false };
      }
      case 'any':
        return { first: node.nl ? ALL : NOT_NEWLINE, nullable: false };
      case 'cap':
        return this.info(node.sub);
      case 'concat': {
        let first = NONE;
        for (const s of node.subs) {
          const i = this.info(s);
          first = union(first, i.first);
          if (!i.nullable) return { first, nullable: false };
        }
        return { first, nullable: true };
      }
      case 'alt': {
        let first = NONE;
        let nullable = false;
        for (const s of node.subs) {
          const i = this.info(s);
          first = union(first, i.first);
          nullable ||= i.nullable;
        }
        return { first, nullable };
      }
      case 'repeat': {
        if (node.max === 0) return { first: NONE, nullable: true };
        const i = this.info(node.sub);
        return { first: i.first, nullable: node.min === 0 || i.nullable };
      }
    }
  }

  /**
   * The fixed prefix of a node: the character sets of the single-character items it must start
   * with, before any choice (repetition, alternation) or assertion.
   */
  private prefix(node: Node, out: CharSet[] = []): CharSet[] | undefined {
    switch (node.t) {
      case 'lit':
      case 'class':
      case 'any':
        out.push(this.info(node).first);
        return undefined; // continue with the next item
      case 'cap':
        return this.prefix(node.sub, out);
      case 'concat':
        for (const s of node.subs) if (this.prefix(s, out)) return out;
        return undefined;
      case 'repeat':
        if (node.min === 1 && node.max === 1) return this.prefix(node.sub, out);
        return out;
      default:
        return out;
    }
  }

  /**
   * Whether two alternatives are told apart by their fixed prefixes (`process_.*|promhttp_.*`
   * differ at the 4th character): the wrong one then fails within that many characters without
   * having made any choice, a constant cost per attempt.
   */
  private prefixesDiffer(a: Node, b: Node): boolean {
    const pa: CharSet[] = [];
    const pb: CharSet[] = [];
    this.prefix(a, pa);
    this.prefix(b, pb);
    for (let k = 0; k < pa.length && k < pb.length; k++) if (!intersects(pa[k]!, pb[k]!)) return true;
    return false;
  }

  /**
   * Whether every choice inside `node` is decided by the next character, given that `follow` holds
   * the characters that may come right after `node` (end of input needs no character).
   */
  deterministic(node: Node, follow: CharSet): boolean {
    switch (node.t) {
      case 'empty':
      case 'assert':
      case 'lit':
      case 'class':
      case 'any':
        return true;
      case 'cap':
        return this.deterministic(node.sub, follow);
      case 'concat': {
        let after = follow;
        for (let k = node.subs.length - 1; k >= 0; k--) {
          const s = node.subs[k]!;
          if (!this.deterministic(s, after)) return false;
          const i = this.info(s);
          after = i.nullable ? union(i.first, after) : i.first;
        }
        return true;
      }
      case 'alt': {
        // FIRST+ of the branches must be pairwise disjoint (or their fixed prefixes must differ),
        // and at most one branch may match empty.
        let seen = NONE;
        let sawNullable = false;
        const plus: CharSet[] = [];
        for (const s of node.subs) {
          const i = this.info(s);
          if (i.nullable) {
            if (sawNullable) return false;
            sawNullable = true;
          }
          const firstPlus = i.nullable ? union(i.first, follow) : i.first;
          if (intersects(seen, firstPlus)) {
            for (let k = 0; k < plus.length; k++) {
              if (intersects(plus[k]!, firstPlus) && !this.prefixesDiffer(node.subs[k]!, s)) return false;
            }
          }
          plus.push(firstPlus);
          seen = union(seen, firstPlus);
          if (!this.deterministic(s, follow)) return false;
        }
        return true;
      }
      case 'repeat': {
        if (node.max === 0) return true;
        if (node.min === 1 && node.max === 1) return this.deterministic(node.sub, follow);
        const i = this.info(node.sub);
        // A body that can match empty makes iterations ambiguous (and exercises V8's empty check).
        if (i.nullable) return false;
        // Another iteration or leave: the next character must tell.
        if (node.min !== node.max && intersects(i.first, follow)) return false;
        return this.deterministic(node.sub, node.max === 1 ? follow : union(i.first, follow));
      }
    }
  }
}

/**
 * Whether a backtracking engine (V8's irregexp, the JavaScript `RegExp`) matches this parse tree
 * in linear time, so the native expression may be used on untrusted input.
 *
 * The rule is that the expression is deterministic with one character of look-ahead (LL(1)):
 * - the branches of every alternation start with disjoint characters — counting, for a branch that
 *   can match empty, the characters that may follow the alternation — and at most one branch can
 *   match empty; two branches may share first characters only when their fixed prefixes (the
 *   single-character items before any choice) differ at some position, as in
 *   `process_.*|promhttp_.*`: the wrong branch then fails within that prefix, having made no
 *   choice that could be retried;
 * - every repetition with a choice (`*`, `+`, `?`, `{n,m}` with n ≠ m) has a body that cannot match
 *   empty and whose first characters are disjoint from the characters that may follow the
 *   repetition (so "one more iteration" and "stop" are never both possible);
 * - recursively, with the follow characters of each part computed through concatenations.
 *
 * Then at every choice point at most one alternative gets past the next character, so the engine
 * never re-reads input along a second path: matching costs O(input × pattern). Character sets are
 * over-approximated (Unicode properties count as "any character"; assertions as empty), which can
 * only reject more patterns. Typical Prometheus regexes pass: `(.*)`, `node_.*`,
 * `([^:]+)(?::\d+)?`, `__meta_kubernetes_pod_label_(.+)`, `up|scrape_.*`. Everything ambiguous is
 * rejected, exponential (`(a+)+`, `(a|aa)+`, `(.*a){12}`, `([a-z0-9-]+\.?)+:(\d+)`) and polynomial
 * (`.*.*=.*`, `(.+):(\d+)`) alike, and then runs on the linear-time engine instead.
 */
export function isBacktrackSafe(tree: Node): boolean {
  return new Analysis().deterministic(tree, NONE);
}
