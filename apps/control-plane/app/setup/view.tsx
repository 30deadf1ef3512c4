'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useState } from 'react';
import { fieldErrorsOf } from '@/lib/api-errors';
import { signIn } from '@/lib/auth';
import { useTRPC } from '@/lib/trpc';
import { TextField } from '@/lib/ui/fields';
import { PublicFrame } from '@/lib/ui/public-frame';
import { ErrorMessage, ErrorState, Loading } from '@/lib/ui/states';

const FIELDS = ['name', 'email', 'password'] as const;

/** `/setup?token=…`: creates the first admin with the one-time link, then signs them in. */
export function SetupView() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const token = useSearchParams().get('token') ?? '';
  const status = useQuery(trpc.setup.status.queryOptions({ token: token || undefined }));
  const [form, setForm] = useState({ name: '', email: '', password: '', confirm: '' });
  const [mismatch, setMismatch] = useState(false);
  const complete = useMutation(
    trpc.setup.complete.mutationOptions({
      onSuccess: async () => {
        // The admin exists now; if signing in fails (rate limit…), the sign-in page takes over.
        const signedIn = await signIn(form.email.trim(), form.password).then(
          () => true,
          () => false,
        );
        queryClient.clear();
        router.replace(signedIn ? '/' : '/login');
      },
    }),
  );

  if (status.isPending) {
    return (
      <PublicFrame title="Create the first admin">
        <Loading />
      </PublicFrame>
    );
  }
  if (status.isError) {
    return (
      <PublicFrame title="Create the first admin">
        <ErrorState title="The control plane did not answer" error={status.error} onRetry={() => void status.refetch()} />
      </PublicFrame>
    );
  }
  if (!status.data.needed) {
    return (
      <PublicFrame title="Setup is complete">
        <p>An admin exists already, so this link is no longer needed.</p>
        <p>
          <Link className="button primary" href="/login">
            Sign in
          </Link>
        </p>
      </PublicFrame>
    );
  }
  if (!status.data.tokenValid) {
    return (
      <PublicFrame title="This setup link does not work">
        <div className="state error" role="alert">
          <p className="state-title">The setup link is invalid, used or expired.</p>
          <p>
            Restart the control plane (<code>npm start</code>): it prints a new link valid for 24 hours. Or restart it with{' '}
            <code>ADMIN_EMAIL</code> and <code>ADMIN_PASSWORD</code> set.
          </p>
        </div>
      </PublicFrame>
    );
  }

  const errors = fieldErrorsOf(complete.error);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  return (
    <PublicFrame title="Create the first admin">
      <p className="muted">This account can add the other operators afterwards.</p>
      <form
        className="stack"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (form.password !== form.confirm) {
            setMismatch(true);
            return;
          }
          setMismatch(false);
          complete.mutate({ token, name: form.name, email: form.email.trim(), password: form.password });
        }}
      >
        <TextField label="Name" name="name" autoComplete="name" autoFocus value={form.name} onChange={set('name')} error={errors.name} />
        <TextField label="E-mail" name="email" type="email" autoComplete="username" value={form.email} onChange={set('email')} error={errors.email} />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          hint="At least 12 characters, not a common or guessable one: several unrelated words work well."
          value={form.password}
          onChange={set('password')}
          error={errors.password}
        />
        <TextField
          label="Repeat the password"
          name="confirm"
          type="password"
          autoComplete="new-password"
          value={form.confirm}
          onChange={set('confirm')}
          error={mismatch ? 'the two passwords differ' : undefined}
        />
        {complete.error ? <ErrorMessage error={complete.error} shownFields={FIELDS} /> : null}
        <button type="submit" className="button primary" disabled={complete.isPending}>
          {complete.isPending ? 'Creating…' : 'Create admin and sign in'}
        </button>
      </form>
    </PublicFrame>
  );
}
