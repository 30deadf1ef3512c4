'use client';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '@/lib/trpc';
import { SelectField } from '@/lib/ui/fields';
import { ErrorState, Loading } from '@/lib/ui/states';
import { UnifiedDiff, diffCounts } from '@/lib/ui/unified-diff';
import type { Pipeline } from './types';

/** Pick any two versions (default: previous vs latest) and see a unified diff of selector + document. */
export function DiffView({ pipeline }: { pipeline: Pipeline }) {
  const trpc = useTRPC();
  const versions = pipeline.versions.map((v) => v.version);
  const [picked, setPicked] = useState<{ from: number | null; to: number | null }>({ from: null, to: null });
  const to = picked.to ?? versions[0] ?? 1;
  const from = picked.from ?? versions[1] ?? to;
  const diff = useQuery({ ...trpc.pipelines.diff.queryOptions({ id: pipeline.id, from, to }), enabled: versions.length > 1 });

  if (versions.length < 2) {
    return <p className="muted">Only one version so far. Save a draft to compare it with v{versions[0] ?? 1}.</p>;
  }
  const options = pipeline.versions.map((v) => (
    <option key={v.version} value={v.version}>
      v{v.version}
      {v.published ? ' (published)' : ''}
    </option>
  ));
  const { added, removed } = diffCounts(diff.data?.hunks ?? []);
  return (
    <div className="diff-view">
      <div className="toolbar">
        <SelectField label="From" value={from} onChange={(e) => setPicked({ from: Number(e.target.value), to })} className="inline">
          {options}
        </SelectField>
        <SelectField label="To" value={to} onChange={(e) => setPicked({ from, to: Number(e.target.value) })} className="inline">
          {options}
        </SelectField>
        <button type="button" className="button small" onClick={() => setPicked({ from: to, to: from })}>
          Swap
        </button>
        {diff.data && !diff.data.identical ? (
          <span className="muted" aria-live="polite">
            <span className="diff-add-count">+{added}</span> <span className="diff-del-count">−{removed}</span> lines
          </span>
        ) : null}
      </div>
      {diff.isPending ? (
        <Loading>Comparing…</Loading>
      ) : diff.isError ? (
        <ErrorState title="Could not compare these versions" error={diff.error} onRetry={() => void diff.refetch()} />
      ) : diff.data.identical || diff.data.hunks.length === 0 ? (
        <p className="muted" data-testid="diff-identical">
          v{from} and v{to} are identical.
        </p>
      ) : (
        <UnifiedDiff hunks={diff.data.hunks} from={`v${from}`} to={`v${to}`} label={`Changes from v${from} to v${to}`} testId="diff" />
      )}
    </div>
  );
}
