'use client';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { fieldErrorsOf } from '@/lib/api-errors';
import { formatTime, isoTime, roleAtLeast } from '@/lib/format';
import { useDebounced } from '@/lib/hooks';
import { useMe } from '@/lib/session';
import { useTRPC } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { Dialog, FormActions } from '@/lib/ui/dialog';
import { SearchField, SelectField, TextAreaField, TextField } from '@/lib/ui/fields';
import { paginate, Pagination } from '@/lib/ui/pagination';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';

const PAGE_SIZE = 20;

/** Pipelines: search, pages, and a way to start a new one. */
export function PipelinesView() {
  const trpc = useTRPC();
  const me = useMe();
  const canEdit = roleAtLeast(me.role, 'editor');
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const q = useDebounced(search.trim(), 250);
  const list = useQuery({ ...trpc.pipelines.list.queryOptions(q ? { search: q } : undefined), placeholderData: keepPreviousData });

  const newButton = canEdit ? (
    <button type="button" className="button primary" onClick={() => setCreating(true)}>
      New pipeline
    </button>
  ) : null;

  let body;
  if (list.isPending) body = <Loading>Loading pipelines…</Loading>;
  else if (list.isError) body = <ErrorState title="Could not load the pipelines" error={list.error} onRetry={() => void list.refetch()} />;
  else if (list.data.length === 0 && !q) {
    body = (
      <EmptyState title="No pipelines yet." action={newButton}>
        <p>A pipeline says what agents scrape and where they write (e.g. Amazon Managed Service for Prometheus), and which agents it applies to.</p>
        {!canEdit ? <p>Ask an editor or admin to create one.</p> : null}
      </EmptyState>
    );
  } else if (list.data.length === 0) {
    body = (
      <EmptyState
        title={`No pipeline name contains “${q}”.`}
        action={
          <button type="button" className="button" onClick={() => setSearch('')}>
            Clear the search
          </button>
        }
      />
    );
  } else {
    const { rows, pages, page: current } = paginate(list.data, page, PAGE_SIZE);
    body = (
      <>
        <table className="table" aria-label="Pipelines">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Published</th>
              <th scope="col">Latest</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link href={`/pipelines/${p.id}`} className="strong-link">
                    {p.name}
                  </Link>
                  {p.description ? <div className="muted small">{p.description}</div> : null}
                </td>
                <td>{p.publishedVersion ? <span className="badge ok">v{p.publishedVersion}</span> : <span className="badge">not published</span>}</td>
                <td>
                  {p.latestVersion ? `v${p.latestVersion}` : '—'}
                  {p.latestVersion && p.publishedVersion !== p.latestVersion ? <span className="badge warn">draft</span> : null}
                </td>
                <td>
                  <time dateTime={isoTime(p.updatedAt)}>{formatTime(p.updatedAt)}</time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <Pagination label="Pipelines" page={current} pages={pages} total={list.data.length} onPage={setPage} />
      </>
    );
  }

  return (
    <>
      <PageHeader
        title="Pipelines"
        description="Versioned scrape and remote-write configs, applied to agents by label selector. Publishing a version rolls it out."
        actions={newButton}
      />
      <div className="toolbar">
        <SearchField
          label="Search pipelines"
          value={search}
          onChange={(v) => {
            setSearch(v);
            setPage(1);
          }}
        />
      </div>
      {body}
      {canEdit ? <NewPipelineDialog open={creating} onClose={() => setCreating(false)} /> : null}
    </>
  );
}

const FIELDS = ['name', 'description', 'url', 'account'] as const;

/** Name, description and (optionally) an Amazon Managed Prometheus destination to start from. */
function NewPipelineDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const accounts = useQuery({ ...trpc.accounts.list.queryOptions(), enabled: open });
  const [form, setForm] = useState({ name: '', description: '', url: '', account: '' });
  const create = useMutation(
    trpc.pipelines.create.mutationOptions({
      onSuccess: async (res) => {
        await queryClient.invalidateQueries({ queryKey: trpc.pipelines.list.pathKey() });
        announce(`Created pipeline ${res.pipeline.name}`);
        router.push(`/pipelines/${res.pipeline.id}`);
      },
    }),
  );
  const errors = fieldErrorsOf(create.error);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  return (
    <Dialog open={open} onClose={onClose} title="New pipeline" description="You can edit everything in the YAML editor next; nothing reaches agents until you publish.">
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const destination = form.url.trim() ? [{ url: form.url.trim(), ...(form.account ? { aws_account: form.account } : {}) }] : [];
          create.mutate({
            name: form.name.trim(),
            description: form.description.trim(),
            selector: [],
            note: 'created',
            document: {
              global: { scrape_interval: '30s' },
              scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }],
              remote_write: destination,
            },
          });
        }}
      >
        <TextField label="Name" name="name" autoFocus value={form.name} onChange={set('name')} error={errors.name} hint="Letters, digits, spaces, _ . - (e.g. node-metrics-prod)." />
        <TextAreaField label="Description (optional)" name="description" rows={2} value={form.description} onChange={set('description')} error={errors.description} />
        <fieldset className="fieldset">
          <legend>Destination (optional)</legend>
          <TextField
            label="Amazon Managed Prometheus remote-write URL"
            name="url"
            type="url"
            placeholder="https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-…/api/v1/remote_write"
            value={form.url}
            onChange={set('url')}
          />
          <SelectField label="AWS account that signs the writes" name="account" value={form.account} onChange={set('account')} hint="Agents assume its role with its ExternalId.">
            <option value="">None (the agent&apos;s own credentials)</option>
            {(accounts.data ?? []).map((a) => (
              <option key={a.id} value={a.name}>
                {a.name} ({a.accountId})
              </option>
            ))}
          </SelectField>
        </fieldset>
        {create.error ? <ErrorMessage error={create.error} shownFields={FIELDS} /> : null}
        <FormActions onCancel={onClose} pending={create.isPending} label="Create and edit" pendingLabel="Creating…" />
      </form>
    </Dialog>
  );
}
