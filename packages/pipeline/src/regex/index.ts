/**
 * Prometheus regexes (RE2 syntax, Go semantics) for untrusted input: {@link compileRe2} matches in
 * linear time (native JavaScript only where provably linear, re2js otherwise). Browser-safe.
 */
export { compileRe2, type CompileRe2Options, type Re2Match, type Re2Regexp } from './matcher.js';
export { isBacktrackSafe } from './linear.js';
export { compileAnchoredRegexp, RegexpSyntaxError, RegexpUnsupportedError, type GoRegexp } from './re2.js';
