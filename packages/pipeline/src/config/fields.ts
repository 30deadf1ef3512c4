import { z } from 'zod';

/**
 * Field schemas that read values the way Prometheus's Go decoder types them. YAML arrives with
 * every scalar as its text (`parseGoYaml`); JSON documents (from the control plane) carry native
 * numbers and booleans. Each field accepts both.
 */

const YAML11_BOOLEANS: Record<string, boolean> = {
  true: true, True: true, TRUE: true, yes: true, Yes: true, YES: true, on: true, On: true, ON: true, y: true, Y: true,
  false: false, False: false, FALSE: false, no: false, No: false, NO: false, off: false, Off: false, OFF: false, n: false, N: false,
};

const toText = (v: unknown): unknown => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v);

/** A string field with its own checks (`text(z.string().regex(…))`): scalars of any spelling are their text. */
export function text<T extends z.ZodType>(schema: T) {
  return z.preprocess(toText, schema);
}

/** A string field: a YAML scalar of any spelling is its text (`username: 11111` → "11111"). */
export const str = text(z.string());

/** A non-empty string field. */
export const nonEmpty = z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string().min(1, 'must not be empty'));

/** A boolean field: YAML 1.1 spellings (`true`, `yes`, `on`, `y` and their negatives). */
export const bool = z.preprocess((v) => (typeof v === 'string' && v in YAML11_BOOLEANS ? YAML11_BOOLEANS[v] : v), z.boolean());

const INT = /^[-+]?(0|[1-9][0-9_]*)$/;
const toInt = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  if (INT.test(v)) return Number(v.replace(/_/g, ''));
  if (/^0x[0-9a-fA-F]+$/.test(v)) return Number.parseInt(v.slice(2), 16);
  return v;
};

/** A whole number ≥ 0. */
export const nonNegativeInt = z.preprocess(toInt, z.number().int('must be a whole number').min(0, 'must not be negative').max(Number.MAX_SAFE_INTEGER));
/** A whole number ≥ 1. */
export const positiveInt = z.preprocess(toInt, z.number().int('must be a whole number').min(1, 'must be at least 1').max(Number.MAX_SAFE_INTEGER));
/** A TCP port, 0–65535. */
export const port = z.preprocess(toInt, z.number().int('must be a whole number').min(0).max(65535, 'must be a port number (0–65535)'));

const BYTE_UNITS: Record<string, number> = { '': 1, B: 1, KB: 2 ** 10, KiB: 2 ** 10, MB: 2 ** 20, MiB: 2 ** 20, GB: 2 ** 30, GiB: 2 ** 30, TB: 2 ** 40, TiB: 2 ** 40, PB: 2 ** 50, PiB: 2 ** 50 };

/** A size as Prometheus's `units.Base2Bytes` (`body_size_limit: 10MB` = 10 MiB; a number needs a unit, except 0 = none). */
export const bytes = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.string().transform((text, ctx) => {
    const m = /^(\d+)\s*([KMGTP]i?B|B)?$/.exec(text.trim());
    // Prometheus (units.ParseBase2Bytes) wants a unit on anything but 0.
    if (!m || (m[2] === undefined && m[1] !== '0')) {
      ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(text)} needs a unit (units: unknown unit in ${text}; e.g. 10MB, 512KiB, 0)` });
      return z.NEVER;
    }
    return Number(m[1]) * BYTE_UNITS[m[2] ?? '']!;
  }),
);

/**
 * A mapping with Go's null rules: a key whose value is null is as if it were absent (Go sets the
 * zero value, which for these fields is the default), so `global:` or `relabel_configs:` written
 * without a value are empty. Unknown keys are errors.
 */
export function obj<T extends z.ZodRawShape>(shape: T) {
  return z.preprocess((v) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null));
  }, z.object(shape).strict());
}

/** A list field that a null leaves empty. */
export function list<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (v === null ? undefined : v), z.array(item));
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A legacy Prometheus label name. */
export const labelName = z.string().regex(LABEL_NAME, 'not a valid label name (expected [a-zA-Z_][a-zA-Z0-9_]*)');
/** `labels:` / `external_labels:` (values are strings whatever their YAML spelling; null = ""). */
export const labelMap = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : x])) : v),
  z.record(labelName, str),
);

/** `X is a Prometheus feature fleet-agent does not support yet` (or a Grafana Agent one), for any value but null. */
export function notYet(what: string, of: 'Prometheus' | 'Grafana Agent' = 'Prometheus') {
  return z.unknown().superRefine((v, ctx) => {
    if (v !== null) ctx.addIssue({ code: 'custom', message: `${what} is a${of === 'Prometheus' ? '' : ''} ${of} feature fleet-agent does not support yet` });
  });
}
