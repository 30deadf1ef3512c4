'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useParams, useRouter } from 'next/navigation';
import { useState } from 'react';
import { errorCode, fieldErrorsOf } from '@/lib/api-errors';
import { formatTime, isoTime, roleAtLeast } from '@/lib/format';
import { useMe } from '@/lib/session';
import { useTRPC } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { ConfirmDialog, Dialog, FormActions } from '@/lib/ui/dialog';
import { TextField } from '@/lib/ui/fields';
import { EmptyState, ErrorMessage, ErrorState, Loading } from '@/lib/ui/states';
import { DeliverySection } from './delivery';
import { DiffView } from './diff';
import { PipelineEditor } from './editor';
import { RolloutSection } from './rollout';
import { formatSelector, publishAction, publishLabel, versionLabel, type Matcher, type Pipeline } from './types';

/** One pipeline: editor, versions with publish/rollback, and the diff between any two versions. */
export function PipelineView() {
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  const me = useMe();
  const canEdit = roleAtLeast(me.role, 'editor');
  const pipeline = useQuery(trpc.pipelines.get.queryOptions({ id }));
  const [publishing, setPublishing] = useState<number | null>(null);
  const [archiving, setArchiving] = useState(false);
  const [editorDirty, setEditorDirty] = useState(false);

  if (pipeline.isPending) return <Loading>Loading the pipeline…</Loading>;
  if (pipeline.isError) {
    if (errorCode(pipeline.error) === 'NOT_FOUND' || errorCode(pipeline.error) === 'BAD_REQUEST') {
      return (
        <EmptyState title="No such pipeline." action={<Link href="/pipelines">Back to the pipelines</Link>}>
          <p>It may have been archived, or the link is wrong.</p>
        </EmptyState>
      );
    }
    return <ErrorState title="Could not load the pipeline" error={pipeline.error} onRetry={() => void pipeline.refetch()} />;
  }
  const p = pipeline.data;
  const latest = p.versions[0];
  const published = p.versions.find((v) => v.published);

  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="/pipelines">Pipelines</Link> <span aria-hidden="true">/</span> <span aria-current="page">{p.name}</span>
      </nav>
      <div className="page-header">
        <div>
          <h1>{p.name}</h1>
          {p.description ? <p className="page-desc">{p.description}</p> : null}
          <p className="status-line" data-testid="pipeline-status">
            {published ? (
              <>
                <span className="badge ok">Published v{published.version}</span> by {published.publishedBy ?? 'unknown'} on{' '}
                <time dateTime={isoTime(published.publishedAt)}>{formatTime(published.publishedAt)}</time>
              </>
            ) : (
              <span className="badge">Not published</span>
            )}
            {latest && latest.version !== published?.version ? (
              <>
                {' · '}
                <span className="badge warn">{versionLabel(latest)} is not published</span>
              </>
            ) : null}
            {' · '}
            <Link href={`/audit?targetType=pipeline&search=${encodeURIComponent(p.name)}`}>History in the audit log</Link>
          </p>
        </div>
        {canEdit ? (
          <div className="page-actions">
            {latest && publishAction(p, latest.version) ? (
              <button type="button" className="button primary" onClick={() => setPublishing(latest.version)}>
                {publishLabel(p, latest.version)}…
              </button>
            ) : null}
            <button type="button" className="button" onClick={() => setArchiving(true)}>
              Archive…
            </button>
          </div>
        ) : null}
      </div>
      {!canEdit ? (
        <p className="notice" role="note">
          Read-only: you are a {me.role}. Editors and admins can change and publish pipelines.
        </p>
      ) : null}

      <div className="split">
        <RolloutSection pipelineId={p.id} />
        <DeliverySection pipelineId={p.id} />
      </div>

      <PipelineEditor key={p.id} pipeline={p} canEdit={canEdit} onDirtyChange={setEditorDirty} />

      <section aria-labelledby="versions-heading" className="section">
        <h2 id="versions-heading">Versions</h2>
        <VersionsTable pipeline={p} canEdit={canEdit} onPublish={setPublishing} />
      </section>

      <section aria-labelledby="diff-heading" className="section">
        <h2 id="diff-heading">Compare versions</h2>
        <DiffView pipeline={p} />
      </section>

      {publishing !== null ? <PublishDialog pipeline={p} version={publishing} editorDirty={editorDirty} onClose={() => setPublishing(null)} /> : null}
      {archiving ? <ArchiveDialog pipeline={p} onClose={() => setArchiving(false)} /> : null}
    </>
  );
}

function VersionsTable({ pipeline, canEdit, onPublish }: { pipeline: Pipeline; canEdit: boolean; onPublish(version: number): void }) {
  return (
    <table className="table" aria-label="Versions">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Status</th>
          <th scope="col">Author</th>
          <th scope="col">Created</th>
          <th scope="col">Note</th>
          {canEdit ? (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {pipeline.versions.map((v) => (
          <tr key={v.version} data-testid={`version-row-${v.version}`}>
            <th scope="row">{versionLabel(v)}</th>
            <td>
              {v.published ? (
                <span className="badge ok">Published</span>
              ) : v.publishedAt ? (
                <span className="badge">Was published</span>
              ) : (
                <span className="badge">Draft</span>
              )}
              <div className="muted small">{formatSelector(v.selector as Matcher[])}</div>
            </td>
            <td>{v.author ?? '—'}</td>
            <td>
              <time dateTime={isoTime(v.createdAt)}>{formatTime(v.createdAt)}</time>
            </td>
            <td className="note-cell">
              {v.note ? <div>{v.note}</div> : null}
              {v.publishNote ? (
                <div className="muted small">
                  Published by {v.publishedBy ?? 'unknown'} {formatTime(v.publishedAt)}: “{v.publishNote}”
                </div>
              ) : null}
              {!v.note && !v.publishNote ? <span className="muted">—</span> : null}
            </td>
            {canEdit ? (
              <td className="actions-cell">
                {publishAction(pipeline, v.version) ? (
                  <button type="button" className="button small" onClick={() => onPublish(v.version)}>
                    {publishLabel(pipeline, v.version)}
                  </button>
                ) : null}
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Publish (or roll back to) a version, with a required note. Says so when the editor holds
 * unsaved changes (they are not what gets published) and when the selector changes.
 */
function PublishDialog({ pipeline, version, editorDirty, onClose }: { pipeline: Pipeline; version: number; editorDirty: boolean; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const [note, setNote] = useState('');
  const [missingNote, setMissingNote] = useState(false);
  const label = publishLabel(pipeline, version);
  const target = pipeline.versions.find((v) => v.version === version);
  const current = pipeline.versions.find((v) => v.published);
  const preview = useQuery(trpc.pipelines.preview.queryOptions({ selector: (target?.selector ?? []) as Matcher[] }));
  const targetSelector = (target?.selector ?? []) as Matcher[];
  const currentSelector = (current?.selector ?? []) as Matcher[];
  const selectorChanges = current !== undefined && formatSelector(currentSelector) !== formatSelector(targetSelector);
  const publish = useMutation(
    trpc.pipelines.publish.mutationOptions({
      onSuccess: async (res) => {
        // Everything on the page follows the publication: header, versions, rollout, delivery.
        await Promise.all([queryClient.invalidateQueries({ queryKey: trpc.pipelines.pathKey() }), queryClient.invalidateQueries({ queryKey: trpc.fleet.pathKey() })]);
        const what = res.rollback ? `Rolled back ${pipeline.name} to v${res.version}` : `Published v${res.version} of ${pipeline.name}`;
        announce(res.selectorChanged ? `${what}; it now applies to ${formatSelector(res.selector as Matcher[])} instead of ${formatSelector((res.previousSelector ?? []) as Matcher[])}` : what);
        onClose();
      },
    }),
  );
  const errors = fieldErrorsOf(publish.error);
  return (
    <Dialog
      open
      onClose={onClose}
      title={label}
      description={
        <p>
          {current ? `v${current.version} is published now. ` : 'Nothing is published yet. '}
          {(target?.selector as Matcher[] | undefined)?.length ? `Agents matching ${formatSelector(target!.selector as Matcher[])}` : 'All agents'}
          {preview.data ? ` (${preview.data.matched} of ${preview.data.total} now)` : ''} get v{version} on their next config pull.
        </p>
      }
    >
      {editorDirty || selectorChanges ? (
        <div className="dialog-notices">
          {editorDirty ? (
            <p className="notice" role="note" data-testid="publish-unsaved">
              The editor has unsaved changes: they are not part of v{version}. This publishes v{version} as stored. To publish your changes, close this, save a draft and publish that.
            </p>
          ) : null}
          {selectorChanges ? (
            <p className="notice warn" role="note" data-testid="publish-selector-change">
              This changes which agents run the pipeline: from {formatSelector(currentSelector)} to {formatSelector(targetSelector)}. Agents that no longer match stop running it (their
              unsent samples for it are dropped).
            </p>
          ) : null}
        </div>
      ) : null}
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (!note.trim()) {
            setMissingNote(true);
            return;
          }
          setMissingNote(false);
          publish.mutate({ id: pipeline.id, version, note: note.trim() });
        }}
      >
        <TextField
          label="Why? (required)"
          name="note"
          autoFocus
          value={note}
          onChange={(e) => setNote(e.target.value)}
          hint="Shown in the version history and the audit log."
          error={missingNote ? 'say why you publish: the note is required' : errors.note}
          maxLength={2000}
        />
        {publish.error ? <ErrorMessage error={publish.error} shownFields={['note']} /> : null}
        <FormActions onCancel={onClose} pending={publish.isPending} label={label} pendingLabel="Publishing…" />
      </form>
    </Dialog>
  );
}

function ArchiveDialog({ pipeline, onClose }: { pipeline: Pipeline; onClose(): void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const archive = useMutation(
    trpc.pipelines.archive.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.pipelines.list.pathKey() });
        announce(`Archived ${pipeline.name}`);
        router.push('/pipelines');
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={`Archive ${pipeline.name}?`}
      confirmLabel="Archive pipeline"
      danger
      pending={archive.isPending}
      error={archive.error}
      onClose={onClose}
      onConfirm={() => archive.mutate({ id: pipeline.id })}
    >
      <p>It stops applying to agents right away. Its versions stay in the audit log; the name becomes free for a new pipeline.</p>
    </ConfirmDialog>
  );
}
