import { z } from 'zod';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a Prometheus duration (`15s`, `1m30s`, `2h`, `500ms`, `0s`; units y w d h m s ms,
 * largest first, integers only) into milliseconds. Returns undefined when malformed.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const units = ['y', 'w', 'd', 'h', 'm', 's', 'ms'] as const;
  let total = 0;
  units.forEach((u, i) => {
    const n = m[i + 1];
    if (n !== undefined) total += Number(n) * UNIT_MS[u]!;
  });
  return total;
}

/** Formats milliseconds as a Prometheus duration (`1m30s`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [u, size] of [
    ['y', UNIT_MS.y!],
    ['w', UNIT_MS.w!],
    ['d', UNIT_MS.d!],
    ['h', UNIT_MS.h!],
    ['m', UNIT_MS.m!],
    ['s', UNIT_MS.s!],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}

/** zod schema: a Prometheus duration string → milliseconds. */
export const durationSchema = z.string().transform((text, ctx) => {
  const ms = parseDuration(text.trim());
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a valid duration string ${JSON.stringify(text)} (expected e.g. 15s, 1m30s, 500ms)` });
    return z.NEVER;
  }
  return ms;
});
