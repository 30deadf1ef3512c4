'use client';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, fieldErrorsOf } from '@/lib/api-errors';
import { formatTime, isoTime, roleAtLeast, type Role } from '@/lib/format';
import { useDebounced } from '@/lib/hooks';
import { useMe } from '@/lib/session';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { ConfirmDialog, Dialog, FormActions } from '@/lib/ui/dialog';
import { SearchField, SelectField, TextField } from '@/lib/ui/fields';
import { EmptyState, ErrorMessage, ErrorState, Loading, PageHeader } from '@/lib/ui/states';

type User = ApiOutputs['users']['list'][number];
const ROLES: Array<{ role: Role; text: string }> = [
  { role: 'viewer', text: 'Viewer: sees everything, changes nothing' },
  { role: 'editor', text: 'Editor: also edits and publishes pipelines and policy templates' },
  { role: 'admin', text: 'Admin: also manages AWS accounts and users' },
];

/** What the password fields say about the policy (the server explains a refusal at the field). */
const PASSWORD_HINT = 'At least 12 characters, not a common or guessable one: several unrelated words work well.';

/** Operators (admins only): create, change role, disable/enable, unlock, set a password. */
export function UsersView() {
  const me = useMe();
  if (!roleAtLeast(me.role, 'admin')) {
    return (
      <>
        <PageHeader title="Users" />
        <EmptyState title="Only admins manage users.">
          <p>You are a {me.role}. Ask an admin if you need another role or a new password.</p>
        </EmptyState>
      </>
    );
  }
  return <UsersAdmin />;
}

function UsersAdmin() {
  const trpc = useTRPC();
  const me = useMe();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), 250);
  const list = useQuery({ ...trpc.users.list.queryOptions(q ? { search: q } : undefined), placeholderData: keepPreviousData });
  const [creating, setCreating] = useState(false);
  const [passwordFor, setPasswordFor] = useState<User | null>(null);
  const [disabling, setDisabling] = useState<User | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.pathKey() });
  const setRole = useMutation(
    trpc.users.setRole.mutationOptions({
      onSuccess: async (u) => {
        await refresh();
        announce(`${u.email} is now ${u.role}`);
      },
      onError: (err) => announce(errorText(err), 'error'),
    }),
  );
  const enable = useMutation(
    trpc.users.setDisabled.mutationOptions({
      onSuccess: async (u) => {
        await refresh();
        announce(`Enabled ${u.email}`);
      },
      onError: (err) => announce(errorText(err), 'error'),
    }),
  );
  const unlock = useMutation(
    trpc.users.unlock.mutationOptions({
      onSuccess: async (u) => {
        await refresh();
        announce(`Unlocked ${u.email}: they can sign in again`);
      },
      onError: (err) => announce(errorText(err), 'error'),
    }),
  );

  const addButton = (
    <button type="button" className="button primary" onClick={() => setCreating(true)}>
      Add user
    </button>
  );
  let body;
  if (list.isPending) body = <Loading>Loading users…</Loading>;
  else if (list.isError) body = <ErrorState title="Could not load the users" error={list.error} onRetry={() => void list.refetch()} />;
  else if (!list.data.length) {
    body = (
      <EmptyState
        title={`No user matches “${q}”.`}
        action={
          <button type="button" className="button" onClick={() => setSearch('')}>
            Clear the search
          </button>
        }
      />
    );
  } else {
    body = (
      <table className="table" aria-label="Users">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">E-mail</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col">Added</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.data.map((u) => (
            <tr key={u.id} data-testid={`user-${u.email}`}>
              <th scope="row">
                {u.name}
                {u.id === me.id ? <span className="muted small"> (you)</span> : null}
              </th>
              <td>{u.email}</td>
              <td>
                <select
                  aria-label={`Role of ${u.email}`}
                  value={u.role}
                  disabled={setRole.isPending}
                  onChange={(e) => setRole.mutate({ id: u.id, role: e.target.value as Role })}
                >
                  {ROLES.map((r) => (
                    <option key={r.role} value={r.role}>
                      {r.role}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                {u.disabled ? <span className="badge bad">Disabled</span> : <span className="badge ok">Active</span>}
                {u.lockedUntil ? (
                  <span className="badge warn" title="Locked after repeated failed sign-ins">
                    Locked until <time dateTime={isoTime(u.lockedUntil)}>{formatTime(u.lockedUntil)}</time>
                  </span>
                ) : null}
              </td>
              <td>
                <time dateTime={isoTime(u.createdAt)}>{formatTime(u.createdAt)}</time>
              </td>
              <td className="actions-cell">
                <div className="button-row">
                  {u.lockedUntil ? (
                    <button type="button" className="button small" disabled={unlock.isPending} onClick={() => unlock.mutate({ id: u.id })} aria-label={`Unlock ${u.email}`}>
                      Unlock
                    </button>
                  ) : null}
                  <button type="button" className="button small" onClick={() => setPasswordFor(u)} aria-label={`Set the password of ${u.email}`}>
                    Set password
                  </button>
                  {u.disabled ? (
                    <button type="button" className="button small" disabled={enable.isPending} onClick={() => enable.mutate({ id: u.id, disabled: false })} aria-label={`Enable ${u.email}`}>
                      Enable
                    </button>
                  ) : u.id !== me.id ? (
                    <button type="button" className="button small danger-outline" onClick={() => setDisabling(u)} aria-label={`Disable ${u.email}`}>
                      Disable
                    </button>
                  ) : null}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }

  return (
    <>
      <PageHeader title="Users" description="Operators of this control plane and what they may do." actions={addButton} />
      <div className="toolbar">
        <SearchField label="Search users" value={search} onChange={setSearch} />
      </div>
      <details className="roles-help">
        <summary>What each role may do</summary>
        <ul>
          {ROLES.map((r) => (
            <li key={r.role}>{r.text}.</li>
          ))}
        </ul>
      </details>
      {body}
      {creating ? <CreateUserDialog onClose={() => setCreating(false)} /> : null}
      {passwordFor ? <PasswordDialog user={passwordFor} onClose={() => setPasswordFor(null)} /> : null}
      {disabling ? <DisableDialog user={disabling} onClose={() => setDisabling(null)} /> : null}
    </>
  );
}

const FIELDS = ['email', 'name', 'role', 'password'] as const;

function CreateUserDialog({ onClose }: { onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const [form, setForm] = useState({ email: '', name: '', role: 'viewer' as Role, password: '' });
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: async (u) => {
        await queryClient.invalidateQueries({ queryKey: trpc.users.list.pathKey() });
        announce(`Added ${u.email} as ${u.role}`);
        onClose();
      },
    }),
  );
  const errors = fieldErrorsOf(create.error);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  return (
    <Dialog open onClose={onClose} title="Add user" description="Give them the password through a safe channel; an admin can set a new one any time.">
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ ...form, email: form.email.trim(), name: form.name.trim() });
        }}
      >
        <TextField label="E-mail" name="email" type="email" autoComplete="off" autoFocus value={form.email} onChange={set('email')} error={errors.email} />
        <TextField label="Name" name="name" autoComplete="off" value={form.name} onChange={set('name')} error={errors.name} />
        <SelectField label="Role" name="role" value={form.role} onChange={set('role')} error={errors.role}>
          {ROLES.map((r) => (
            <option key={r.role} value={r.role}>
              {r.text}
            </option>
          ))}
        </SelectField>
        <TextField
          label="Initial password"
          name="password"
          type="password"
          autoComplete="new-password"
          value={form.password}
          onChange={set('password')}
          error={errors.password}
          hint={PASSWORD_HINT}
        />
        {create.error ? <ErrorMessage error={create.error} shownFields={FIELDS} /> : null}
        <FormActions onCancel={onClose} pending={create.isPending} label="Add user" pendingLabel="Adding…" />
      </form>
    </Dialog>
  );
}

function PasswordDialog({ user, onClose }: { user: User; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const [password, setPassword] = useState('');
  const set = useMutation(
    trpc.users.setPassword.mutationOptions({
      onSuccess: async () => {
        // A new password also lifts a sign-in lock.
        await queryClient.invalidateQueries({ queryKey: trpc.users.list.pathKey() });
        announce(`Set a new password for ${user.email}`);
        onClose();
      },
    }),
  );
  const errors = fieldErrorsOf(set.error);
  return (
    <Dialog open onClose={onClose} title={`Set the password of ${user.email}`} description="Their sessions end and a sign-in lock is lifted; they sign in again with the new password.">
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          set.mutate({ id: user.id, password });
        }}
      >
        <TextField
          label="New password"
          name="password"
          type="password"
          autoComplete="new-password"
          autoFocus
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.password}
          hint={PASSWORD_HINT}
        />
        {set.error ? <ErrorMessage error={set.error} shownFields={['password']} /> : null}
        <FormActions onCancel={onClose} pending={set.isPending} label="Set password" pendingLabel="Saving…" />
      </form>
    </Dialog>
  );
}

function DisableDialog({ user, onClose }: { user: User; onClose(): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const disable = useMutation(
    trpc.users.setDisabled.mutationOptions({
      onSuccess: async (u) => {
        await queryClient.invalidateQueries({ queryKey: trpc.users.list.pathKey() });
        announce(`Disabled ${u.email}`);
        onClose();
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={`Disable ${user.email}?`}
      confirmLabel="Disable user"
      danger
      pending={disable.isPending}
      error={disable.error}
      onClose={onClose}
      onConfirm={() => disable.mutate({ id: user.id, disabled: true })}
    >
      <p>They are signed out everywhere and cannot sign in until an admin enables them again. Their history stays in the audit log.</p>
    </ConfirmDialog>
  );
}
