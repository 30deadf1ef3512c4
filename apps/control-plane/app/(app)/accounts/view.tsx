'use client';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useState } from 'react';
import { fieldErrorsOf } from '@/lib/api-errors';
import { formatTime, roleAtLeast } from '@/lib/format';
import { useDebounced } from '@/lib/hooks';
import { AWS_REGIONS } from '@/lib/regions';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { CopyButton } from '@/lib/ui/copy';
import { ConfirmDialog, Dialog, FormActions } from '@/lib/ui/dialog';
import { SearchField, TextField } from '@/lib/ui/fields';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';

type Account = ApiOutputs['accounts']['list'][number];

/** AWS accounts agents write into: role to assume and the ExternalId its trust policy requires. */
export function AccountsView() {
  const trpc = useTRPC();
  const me = useMe();
  const isAdmin = roleAtLeast(me.role, 'admin');
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), 250);
  const list = useQuery({ ...trpc.accounts.list.queryOptions(q ? { search: q } : undefined), placeholderData: keepPreviousData });
  const [editing, setEditing] = useState<Account | 'new' | null>(null);
  const [rotating, setRotating] = useState<Account | null>(null);
  const [deleting, setDeleting] = useState<Account | null>(null);

  const addButton = isAdmin ? (
    <button type="button" className="button primary" onClick={() => setEditing('new')}>
      Add AWS account
    </button>
  ) : null;

  let body;
  if (list.isPending) body = <Loading>Loading accounts…</Loading>;
  else if (list.isError) body = <ErrorState title="Could not load the AWS accounts" error={list.error} onRetry={() => void list.refetch()} />;
  else if (!list.data.length && !q) {
    body = (
      <EmptyState title="No AWS accounts registered yet." action={addButton}>
        <p>
          Register each account your agents write into with the IAM role they assume. Pipelines then say <code>aws_account: &lt;name&gt;</code> instead of
          repeating region, role and ExternalId. No access keys are stored, ever.
        </p>
        {!isAdmin ? <p>Ask an admin to add one.</p> : null}
      </EmptyState>
    );
  } else if (!list.data.length) {
    body = (
      <EmptyState
        title={`No account matches “${q}”.`}
        action={
          <button type="button" className="button" onClick={() => setSearch('')}>
            Clear the search
          </button>
        }
      />
    );
  } else {
    body = (
      <table className="table" aria-label="AWS accounts">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Account</th>
            <th scope="col">Default region</th>
            <th scope="col">Role agents assume</th>
            <th scope="col">ExternalId</th>
            {isAdmin ? (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {list.data.map((a) => (
            <tr key={a.id} data-testid={`account-${a.name}`}>
              <th scope="row" title={`Updated ${formatTime(a.updatedAt)}`}>
                {a.name}
              </th>
              <td>
                <code>{a.accountId}</code>
              </td>
              <td>
                <code>{a.defaultRegion}</code>
              </td>
              <td className="break">
                <code>{a.roleArn}</code>
              </td>
              <td>
                <div className="copy-row">
                  <code data-testid="external-id">{a.externalId}</code>
                  <CopyButton text={a.externalId} what={`ExternalId of ${a.name}`} />
                </div>
              </td>
              {isAdmin ? (
                <td className="actions-cell">
                  <div className="button-row">
                    <button type="button" className="button small" onClick={() => setEditing(a)} aria-label={`Edit ${a.name}`}>
                      Edit
                    </button>
                    <button type="button" className="button small" onClick={() => setRotating(a)} aria-label={`Rotate the ExternalId of ${a.name}`}>
                      Rotate
                    </button>
                    <button type="button" className="button small danger-outline" onClick={() => setDeleting(a)} aria-label={`Delete ${a.name}`}>
                      Delete
                    </button>
                  </div>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    );
  }

  return (
    <>
      <PageHeader
        title="AWS accounts"
        description={
          <>
            Accounts your agents write into. Agents assume the role with the ExternalId shown here; the <Link href="/policies">Policies</Link> page
            generates the role&apos;s trust and permissions policies.
          </>
        }
        actions={addButton}
      />
      <div className="toolbar">
        <SearchField label="Search accounts" value={search} onChange={setSearch} />
      </div>
      {body}
      {editing ? <AccountDialog account={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {rotating ? <RotateDialog account={rotating} onClose={() => setRotating(null)} /> : null}
      {deleting ? <DeleteDialog account={deleting} onClose={() => setDeleting(null)} /> : null}
    </>
  );
}

const FIELDS = ['accountId', 'name', 'defaultRegion', 'roleArn'] as const;

/** Add or edit an account; the API's field errors appear under each input. */
function AccountDialog({ account, onClose }: { account: Account | null; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const regionsId = useId();
  const [form, setForm] = useState({
    accountId: account?.accountId ?? '',
    name: account?.name ?? '',
    defaultRegion: account?.defaultRegion ?? '',
    roleArn: account?.roleArn ?? '',
  });
  const [created, setCreated] = useState<Account | null>(null);
  const done = async () => queryClient.invalidateQueries({ queryKey: trpc.accounts.list.pathKey() });
  const create = useMutation(
    trpc.accounts.create.mutationOptions({
      onSuccess: async (row) => {
        await done();
        announce(`Added AWS account ${row.name}`);
        setCreated(row);
      },
    }),
  );
  const update = useMutation(
    trpc.accounts.update.mutationOptions({
      onSuccess: async (row) => {
        await done();
        announce(`Saved AWS account ${row.name}`);
        onClose();
      },
    }),
  );
  const mutation = account ? update : create;
  const errors = fieldErrorsOf(mutation.error);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  if (created) {
    return (
      <Dialog open onClose={onClose} title={`${created.name} is registered`}>
        <div className="stack">
          <p>Put this ExternalId in the trust policy of {created.roleArn}, so that only this control plane&apos;s agents can assume it:</p>
          <div className="copy-row">
            <code className="big-code">{created.externalId}</code>
            <CopyButton text={created.externalId} what={`ExternalId of ${created.name}`} />
          </div>
          <p>
            Pipelines can now write with <code>aws_account: {created.name}</code>. The <Link href="/policies">Policies</Link> page generates the role&apos;s
            policies.
          </p>
          <div className="dialog-actions">
            <button type="button" className="button primary" onClick={onClose} autoFocus>
              Done
            </button>
          </div>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog open onClose={onClose} title={account ? `Edit ${account.name}` : 'Add AWS account'}>
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const input = { accountId: form.accountId.trim(), name: form.name.trim(), defaultRegion: form.defaultRegion.trim(), roleArn: form.roleArn.trim() };
          if (account) update.mutate({ id: account.id, account: input });
          else create.mutate(input);
        }}
      >
        <TextField
          label="Account ID"
          name="accountId"
          inputMode="numeric"
          autoComplete="off"
          placeholder="123456789012"
          autoFocus
          value={form.accountId}
          onChange={set('accountId')}
          error={errors.accountId}
          hint="The 12 digits."
        />
        <TextField
          label="Name"
          name="name"
          autoComplete="off"
          placeholder="prod"
          value={form.name}
          onChange={set('name')}
          error={errors.name}
          hint={
            <>
              Pipelines refer to it as <code>aws_account: {form.name.trim() || 'name'}</code>.
            </>
          }
        />
        <TextField
          label="Default region"
          name="defaultRegion"
          autoComplete="off"
          placeholder="us-east-1"
          list={regionsId}
          value={form.defaultRegion}
          onChange={set('defaultRegion')}
          error={errors.defaultRegion}
          hint="Used when a destination URL does not name its region."
        />
        <datalist id={regionsId}>
          {AWS_REGIONS.map((r) => (
            <option key={r.code} value={r.code}>
              {r.name}
            </option>
          ))}
        </datalist>
        <TextField
          label="Role ARN"
          name="roleArn"
          autoComplete="off"
          placeholder="arn:aws:iam::123456789012:role/fleet-agent-writer"
          value={form.roleArn}
          onChange={set('roleArn')}
          error={errors.roleArn}
          hint="The role agents assume to write; its trust policy must require this account's ExternalId."
        />
        {mutation.error ? <ErrorMessage error={mutation.error} shownFields={FIELDS} /> : null}
        <FormActions onCancel={onClose} pending={mutation.isPending} label={account ? 'Save account' : 'Add account'} pendingLabel="Saving…" />
      </form>
    </Dialog>
  );
}

function RotateDialog({ account, onClose }: { account: Account; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const rotate = useMutation(
    trpc.accounts.rotateExternalId.mutationOptions({
      onSuccess: async (row) => {
        await queryClient.invalidateQueries({ queryKey: trpc.accounts.list.pathKey() });
        announce(`New ExternalId for ${row.name}: update the role's trust policy`);
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={`Rotate the ExternalId of ${account.name}?`}
      confirmLabel="Rotate ExternalId"
      danger
      pending={rotate.isPending}
      error={rotate.error}
      onClose={onClose}
      onConfirm={() => rotate.mutate({ id: account.id })}
    >
      <p>
        Agents cannot assume <code>{account.roleArn}</code> until its trust policy requires the new ExternalId. Rotate when the old one may have leaked,
        then update the trust policy right away (the Policies page generates it).
      </p>
    </ConfirmDialog>
  );
}

function DeleteDialog({ account, onClose }: { account: Account; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const remove = useMutation(
    trpc.accounts.delete.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.accounts.list.pathKey() });
        announce(`Deleted AWS account ${account.name}`);
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={`Delete ${account.name}?`}
      confirmLabel="Delete account"
      danger
      pending={remove.isPending}
      error={remove.error}
      onClose={onClose}
      onConfirm={() => remove.mutate({ id: account.id })}
    >
      <p>
        Pipelines that say <code>aws_account: {account.name}</code> stop validating, and their next versions cannot be published until they name another
        account. The role in AWS is not touched.
      </p>
    </ConfirmDialog>
  );
}
