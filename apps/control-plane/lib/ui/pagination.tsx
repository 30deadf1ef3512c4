'use client';

/** Client-side pages of a list: `usePage(items, page, size)` + this control. */
export function paginate<T>(items: readonly T[], page: number, size: number): { rows: T[]; pages: number; page: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, page), pages);
  return { rows: items.slice((current - 1) * size, current * size), pages, page: current };
}

export function Pagination({ page, pages, total, onPage, label }: { page: number; pages: number; total: number; onPage(page: number): void; label: string }) {
  if (pages <= 1) return null;
  return (
    <nav className="pagination" aria-label={`${label} pages`}>
      <button type="button" className="button small" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        ← Previous
      </button>
      <span aria-live="polite">
        Page {page} of {pages} <span className="muted">({total} in all)</span>
      </span>
      <button type="button" className="button small" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next →
      </button>
    </nav>
  );
}
