'use client';

/** One hunk of a unified diff (as `diff`'s structuredPatch returns it). */
export interface DiffHunk {
  oldStart: number;
  newStart: number;
  lines: string[];
}

/** `+3 −1` line counts of a diff. */
export function diffCounts(hunks: readonly DiffHunk[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const h of hunks) {
    for (const l of h.lines) {
      if (l.startsWith('+')) added++;
      else if (l.startsWith('-')) removed++;
    }
  }
  return { added, removed };
}

/**
 * A unified diff: hunk headers naming both sides ("@@ v1 line 3, v2 line 3 @@"), added and
 * removed lines coloured. Scrollable and focusable, named by `label`.
 */
export function UnifiedDiff({ hunks, from, to, label, testId }: { hunks: readonly DiffHunk[]; from: string; to: string; label: string; testId?: string }) {
  return (
    <pre className="diff" tabIndex={0} aria-label={label} data-testid={testId}>
      {hunks.map((h, i) => (
        <span key={i} className="hunk">
          <span className="diff-line hunk-head">
            @@ {from} line {h.oldStart}, {to} line {h.newStart} @@
          </span>
          {h.lines.map((l, j) => (
            <span key={j} className={`diff-line ${l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : 'ctx'}`}>
              {l}
            </span>
          ))}
        </span>
      ))}
    </pre>
  );
}
