'use client';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useState } from 'react';
import { fieldErrorsOf, isMissingProcedure } from '@/lib/api-errors';
import { formatTime, isoTime, plural, roleAtLeast } from '@/lib/format';
import { useDebounced } from '@/lib/hooks';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { CodeEditor } from '@/lib/ui/code-editor';
import { CodeBlock } from '@/lib/ui/copy';
import { ConfirmDialog } from '@/lib/ui/dialog';
import { SelectField, TextField } from '@/lib/ui/fields';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';

type PolicyTemplate = ApiOutputs['policies']['templates'][number];
const INPUT_FIELDS = ['pipelineId', 'version', 'roleName', 'collectorRoleArn', 'irsa', 'irsa.oidcProvider', 'irsa.namespace', 'irsa.serviceAccount'];
interface PoliciesInput {
  pipelineId: string;
  version?: number;
  roleName?: string;
  collectorRoleArn?: string;
  irsa?: { oidcProvider: string; namespace: string; serviceAccount: string };
}

/** Shown instead of a generic error while the server has no `policies` procedures. */
function PoliciesUnavailable({ onRetry }: { onRetry(): void }) {
  return (
    <ErrorState title="Policy generation is not available on this control plane yet." onRetry={onRetry}>
      <p>
        Its API has no <code>policies</code> procedures: this build of the control plane predates them. Update and restart the control plane (
        <code>npm start</code> rebuilds it), then try again.
      </p>
    </ErrorState>
  );
}

/** IAM for agents: generated policies for a pipeline, and the templates they are rendered from. */
export function PoliciesView() {
  return (
    <>
      <PageHeader
        title="Policies"
        description="Least-privilege IAM for your agents: a permissions policy allowing exactly what a pipeline writes, the trust policy for where the agents run, and the aws CLI commands that create the role."
      />
      <PipelinePolicies />
      <Templates />
    </>
  );
}

function PipelinePolicies() {
  const trpc = useTRPC();
  const formId = useId();
  const pipelines = useQuery(trpc.pipelines.list.queryOptions());
  const [picked, setPicked] = useState<string | null>(null);
  const pipelineId = picked ?? pipelines.data?.[0]?.id ?? '';
  const pipeline = useQuery({ ...trpc.pipelines.get.queryOptions({ id: pipelineId }), enabled: Boolean(pipelineId) });
  const [version, setVersion] = useState<{ pipelineId: string; version: number } | null>(null);
  const [form, setForm] = useState({ roleName: '', collectorRoleArn: '', oidcProvider: '', namespace: '', serviceAccount: '' });
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  const versions = pipeline.data?.versions ?? [];
  const defaultVersion = (versions.find((v) => v.published) ?? versions[0])?.version;
  const chosenVersion = version?.pipelineId === pipelineId ? version.version : defaultVersion;
  const irsaParts = [form.oidcProvider.trim(), form.namespace.trim(), form.serviceAccount.trim()];
  const irsaComplete = irsaParts.every(Boolean);
  const irsaPartial = !irsaComplete && irsaParts.some(Boolean);
  const input: PoliciesInput = {
    pipelineId,
    ...(chosenVersion ? { version: chosenVersion } : {}),
    ...(form.roleName.trim() ? { roleName: form.roleName.trim() } : {}),
    ...(form.collectorRoleArn.trim() ? { collectorRoleArn: form.collectorRoleArn.trim() } : {}),
    ...(irsaComplete ? { irsa: { oidcProvider: irsaParts[0]!, namespace: irsaParts[1]!, serviceAccount: irsaParts[2]! } } : {}),
  };
  const settledJson = useDebounced(JSON.stringify(input), 400);
  const settled = JSON.parse(settledJson) as PoliciesInput;
  const generated = useQuery({
    ...trpc.policies.forPipeline.queryOptions(settled),
    enabled: Boolean(settled.pipelineId),
    placeholderData: keepPreviousData,
  });
  const errors = fieldErrorsOf(generated.error);

  if (pipelines.isPending) return <Loading>Loading pipelines…</Loading>;
  if (pipelines.isError) return <ErrorState title="Could not load the pipelines" error={pipelines.error} onRetry={() => void pipelines.refetch()} />;
  if (!pipelines.data.length) {
    return (
      <section className="section" aria-labelledby={`${formId}-h`}>
        <h2 id={`${formId}-h`}>Policies for a pipeline</h2>
        <EmptyState title="No pipelines yet." action={<Link href="/pipelines">Go to Pipelines</Link>}>
          <p>Policies are generated from what a pipeline writes to. Create a pipeline with a destination first.</p>
        </EmptyState>
      </section>
    );
  }

  const data = generated.data;
  return (
    <section className="section" aria-labelledby={`${formId}-h`}>
      <h2 id={`${formId}-h`}>Policies for a pipeline</h2>
      <form className="card policy-form" aria-label="Policy inputs" onSubmit={(e) => e.preventDefault()}>
        <div className="form-grid">
          <SelectField label="Pipeline" value={pipelineId} onChange={(e) => setPicked(e.target.value)} error={errors.pipelineId}>
            {pipelines.data.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </SelectField>
          <SelectField
            label="Version"
            value={chosenVersion ?? ''}
            disabled={!versions.length}
            onChange={(e) => setVersion({ pipelineId, version: Number(e.target.value) })}
            error={errors.version}
            hint="Default: the published version, else the latest."
          >
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version}
                {v.published ? ' (published)' : ''}
              </option>
            ))}
          </SelectField>
          <TextField label="Role name" placeholder="fleet-agent" value={form.roleName} onChange={set('roleName')} error={errors.roleName} hint="The IAM role the agents run as (default fleet-agent)." />
          <TextField
            label="Collector role ARN (optional)"
            placeholder="arn:aws:iam::111122223333:role/fleet-agent"
            value={form.collectorRoleArn}
            onChange={set('collectorRoleArn')}
            error={errors.collectorRoleArn}
            hint="The agents' role if it exists already; else it is the role name in the first registered account."
          />
        </div>
        <fieldset className="fieldset">
          <legend>EKS with IRSA (optional)</legend>
          <div className="form-grid three">
            <TextField
              label="OIDC provider or issuer URL"
              placeholder="oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
              value={form.oidcProvider}
              onChange={set('oidcProvider')}
              error={errors['irsa.oidcProvider'] ?? errors.irsa}
            />
            <TextField label="Namespace" placeholder="monitoring" value={form.namespace} onChange={set('namespace')} error={errors['irsa.namespace']} />
            <TextField
              label="Service account"
              placeholder="fleet-agent"
              value={form.serviceAccount}
              onChange={set('serviceAccount')}
              error={errors['irsa.serviceAccount']}
            />
          </div>
          {irsaPartial ? <p className="hint">Fill in all three to get the IRSA trust policy.</p> : null}
        </fieldset>
      </form>

      {generated.isPending ? (
        <Loading>Generating policies…</Loading>
      ) : generated.isError && isMissingProcedure(generated.error) ? (
        <PoliciesUnavailable onRetry={() => void generated.refetch()} />
      ) : generated.isError && !data ? (
        <ErrorState title="Could not generate the policies" error={generated.error} onRetry={() => void generated.refetch()} />
      ) : data ? (
        <div className="policy-output" aria-busy={generated.isFetching}>
          {generated.isError ? <ErrorMessage error={generated.error} shownFields={INPUT_FIELDS} /> : null}
          {data.problems.length ? (
            <div className="notice warn" role="note">
              <p className="state-title">Check before you apply these:</p>
              <ul>
                {data.problems.map((p, i) => (
                  <li key={i}>{p}</li>
                ))}
              </ul>
            </div>
          ) : null}

          <h3>The agents&apos; role</h3>
          <p className="hint">
            {data.collectorRoleArn ? (
              <>
                <code>{data.collectorRoleArn}</code>:{' '}
              </>
            ) : null}
            the role the agents run as (instance profile, IRSA or Pod Identity), for v{data.version} of {data.pipeline}.
          </p>
          {data.permissions ? (
            <CodeBlock
              title="Permissions policy"
              meta={plural(data.permissions.statements, 'statement')}
              text={data.permissions.json}
              what="permissions policy"
              testId="permissions-policy"
            />
          ) : (
            <div className="state empty small-state">
              <p className="state-title">No permissions policy</p>
              <p>This version writes to no AWS destination the control plane can generate permissions for (see above).</p>
            </div>
          )}
          <h4>Trust policy, by where the agents run</h4>
          <div className="code-grid">
            {data.trust.ec2 ? <CodeBlock title="EC2 instance profile" text={data.trust.ec2} what="EC2 trust policy" testId="trust-ec2" /> : null}
            {data.trust.podIdentity ? (
              <CodeBlock title="EKS Pod Identity" text={data.trust.podIdentity} what="Pod Identity trust policy" testId="trust-pod-identity" />
            ) : null}
            {data.trust.irsa ? (
              <CodeBlock title="EKS IRSA" text={data.trust.irsa} what="IRSA trust policy" testId="trust-irsa" />
            ) : (
              <div className="state empty small-state">
                <p className="state-title">EKS IRSA</p>
                <p>Fill in the OIDC provider, namespace and service account above to get this trust policy.</p>
              </div>
            )}
          </div>

          {data.trust.crossAccount.length ? (
            <>
              <h3>Writer roles in the destination accounts</h3>
              <p className="hint">
                The roles the agents assume in the registered AWS accounts this pipeline writes into; their trust policies require the account&apos;s ExternalId.
              </p>
              {data.trust.crossAccount.map((c) => (
                <div key={c.roleArn} className="writer-role" data-testid={`writer-${c.account}`}>
                  <h4>
                    {c.account} <span className="muted small">({c.accountId})</span>: <code>{c.roleArn}</code>
                  </h4>
                  <div className="code-grid">
                    {c.permissionsJson ? (
                      <CodeBlock title="Permissions policy" text={c.permissionsJson} what={`permissions policy of ${c.account}`} testId="writer-permissions" />
                    ) : null}
                    {c.json ? <CodeBlock title="Trust policy" text={c.json} what={`trust policy of ${c.account}`} testId="writer-trust" /> : null}
                  </div>
                </div>
              ))}
            </>
          ) : null}

          <h3>Create the roles with the aws CLI</h3>
          {data.cli ? (
            <CodeBlock title="aws CLI commands" text={data.cli} what="CLI commands" testId="cli" />
          ) : (
            <p className="muted">No commands: fix the problems above first.</p>
          )}
        </div>
      ) : null}
    </section>
  );
}

function Templates() {
  const me = useMe();
  const headingId = useId();
  const canEdit = roleAtLeast(me.role, 'editor');
  const trpc = useTRPC();
  const templates = useQuery(trpc.policies.templates.queryOptions());
  const [selected, setSelected] = useState<string | null>(null);
  const current = templates.data?.find((t) => t.key === selected) ?? null;

  let body;
  if (templates.isPending) body = <Loading>Loading templates…</Loading>;
  else if (templates.isError && isMissingProcedure(templates.error)) body = <PoliciesUnavailable onRetry={() => void templates.refetch()} />;
  else if (templates.isError) body = <ErrorState title="Could not load the templates" error={templates.error} onRetry={() => void templates.refetch()} />;
  else if (!templates.data.length) body = <EmptyState title="No templates." />;
  else {
    body = (
      <>
        <table className="table" aria-label="Policy templates">
          <thead>
            <tr>
              <th scope="col">Template</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {templates.data.map((t) => (
              <tr key={t.key} className={t.key === selected ? 'selected' : undefined}>
                <th scope="row">
                  {t.name} <code className="muted small">{t.key}</code>
                  <div className="muted small">{t.description}</div>
                </th>
                <td>{t.kind}</td>
                <td>{t.version === 0 ? <span className="badge">Built-in</span> : <span className="badge warn">Edited (v{t.version})</span>}</td>
                <td className="actions-cell">
                  <button
                    type="button"
                    className="button small"
                    aria-pressed={t.key === selected}
                    aria-label={`${canEdit ? 'Edit' : 'View'} template ${t.name}`}
                    onClick={() => setSelected(t.key === selected ? null : t.key)}
                  >
                    {t.key === selected ? 'Close' : canEdit ? 'Edit' : 'View'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {current ? <TemplateEditor key={`${current.key}:${current.version}`} template={current} canEdit={canEdit} /> : null}
      </>
    );
  }
  return (
    <section className="section" aria-labelledby={headingId}>
      <h2 id={headingId}>Templates</h2>
      <p className="hint">
        The generated policies are rendered from these templates. Edit them to add your organisation&apos;s conditions (e.g. <code>aws:SourceVpc</code>);
        placeholders such as <code>{'{{account_id}}'}</code> are filled in per pipeline.
      </p>
      {body}
    </section>
  );
}

function TemplateEditor({ template, canEdit }: { template: PolicyTemplate; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const id = useId();
  const [body, setBody] = useState(template.body);
  const [note, setNote] = useState('');
  const [resetting, setResetting] = useState(false);
  const [warnings, setWarnings] = useState<string[]>([]);
  const history = useQuery(trpc.policies.templateVersions.queryOptions({ key: template.key }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() });
  const save = useMutation(
    trpc.policies.updateTemplate.mutationOptions({
      onSuccess: async (res) => {
        setWarnings(res.warnings);
        announce(`Saved v${res.version} of template ${template.name}`);
        await refresh();
      },
    }),
  );
  const reset = useMutation(
    trpc.policies.resetTemplate.mutationOptions({
      onSuccess: async () => {
        setResetting(false);
        announce(`Reset ${template.name} to the built-in template`);
        await refresh();
      },
    }),
  );
  const fieldErrors = fieldErrorsOf(save.error);
  const bodyErrors = fieldErrors.body ? fieldErrors.body.split('; ') : [];
  const noteError = fieldErrors.note;
  const dirty = body !== template.body;
  const edited = template.version > 0;
  // Messages name their place as "(line 5, column 15)": mark those lines.
  const problemLines = new Map<number, string>();
  for (const e of bodyErrors) {
    const m = /line (\d+), column \d+/.exec(e);
    if (m) problemLines.set(Number(m[1]), e);
  }

  return (
    <section className="card template-editor" aria-labelledby={`${id}-h`}>
      <div className="card-head">
        <h3 id={`${id}-h`}>
          {template.name} <span className="muted small">({template.kind}, {edited ? `edited, v${template.version}` : 'built-in'})</span>
        </h3>
      </div>
      <div className="template-layout">
        <div>
          <label htmlFor={id} className="field-label">
            Template body (JSON with placeholders)
          </label>
          <CodeEditor
            id={id}
            value={body}
            onChange={setBody}
            readOnly={!canEdit}
            rows={18}
            problems={problemLines}
            invalid={bodyErrors.length > 0}
            describedBy={bodyErrors.length ? `${id}-errors` : undefined}
          />
          {bodyErrors.length ? (
            <div id={`${id}-errors`} role="alert">
              <ul className="issues" aria-label="Template problems">
                {bodyErrors.map((e, i) => (
                  <li key={i}>{e}</li>
                ))}
              </ul>
            </div>
          ) : null}
          {canEdit ? (
            <form
              className="save-bar"
              noValidate
              onSubmit={(e) => {
                e.preventDefault();
                save.mutate({ key: template.key, body, note: note.trim() });
              }}
            >
              <TextField label="Note" className="grow" placeholder="Why this change (optional)" value={note} onChange={(e) => setNote(e.target.value)} error={noteError} />
              <button type="submit" className="button primary" disabled={save.isPending || !dirty}>
                {save.isPending ? 'Saving…' : 'Save template'}
              </button>
              {edited ? (
                <button type="button" className="button" onClick={() => setResetting(true)}>
                  Reset to built-in…
                </button>
              ) : null}
            </form>
          ) : (
            <p className="hint">Read-only: editors and admins can change templates.</p>
          )}
          {save.error && !bodyErrors.length ? <ErrorMessage error={save.error} shownFields={['body', 'note']} /> : null}
          {warnings.length && !save.error ? (
            <div className="notice warn" role="note">
              <p className="state-title">Saved, with warnings:</p>
              <ul>
                {warnings.map((w, i) => (
                  <li key={i}>{w}</li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
        <aside aria-label="Placeholders">
          <h4>Placeholders</h4>
          {template.placeholders.length ? (
            <dl className="placeholders">
              {template.placeholders.map((p) => (
                <div key={p.name}>
                  <dt>
                    <code>{`{{${p.name}}}`}</code>
                  </dt>
                  <dd>{p.description}</dd>
                </div>
              ))}
            </dl>
          ) : (
            <p className="muted">None.</p>
          )}
        </aside>
      </div>
      <h4>History</h4>
      {history.isPending ? (
        <Loading />
      ) : history.isError ? (
        <ErrorMessage error={history.error} />
      ) : !history.data.length ? (
        <p className="muted">Never edited: this is the built-in template.</p>
      ) : (
        <table className="table compact" aria-label={`History of ${template.name}`}>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Author</th>
              <th scope="col">Saved</th>
              <th scope="col">Note</th>
              {canEdit ? (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {history.data.map((v) => (
              <tr key={v.version}>
                <th scope="row">v{v.version}</th>
                <td>{v.author ?? '—'}</td>
                <td>
                  <time dateTime={isoTime(v.createdAt)}>{formatTime(v.createdAt)}</time>
                </td>
                <td>{v.note || <span className="muted">—</span>}</td>
                {canEdit ? (
                  <td className="actions-cell">
                    <button type="button" className="button small" onClick={() => setBody(v.body)} aria-label={`Load v${v.version} of ${template.name} into the editor`}>
                      Load into editor
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {resetting ? (
        <ConfirmDialog
          open
          title={`Reset ${template.name} to the built-in template?`}
          confirmLabel="Reset template"
          danger
          pending={reset.isPending}
          error={reset.error}
          onClose={() => setResetting(false)}
          onConfirm={() => reset.mutate({ key: template.key })}
        >
          <p>Generated policies use the built-in template again. Your edited versions stay in the history.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
