'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter, useSearchParams } from 'next/navigation';
import { useEffect, useState } from 'react';
import { signIn } from '@/lib/auth';
import { safeNext } from '@/lib/format';
import { useTRPC } from '@/lib/trpc';
import { TextField } from '@/lib/ui/fields';
import { PublicFrame } from '@/lib/ui/public-frame';
import { ErrorMessage, ErrorState, Loading } from '@/lib/ui/states';

/** Sign-in; on first run (no operator yet) it explains how to create the admin instead. */
export function LoginView() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const next = safeNext(useSearchParams().get('next'), typeof window === 'undefined' ? undefined : window.location.origin);
  const setup = useQuery(trpc.setup.status.queryOptions({}));
  const me = useQuery({ ...trpc.users.me.queryOptions(), retry: false });
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);

  // Already signed in (e.g. a bookmarked /login): go on.
  useEffect(() => {
    if (me.data) router.replace(next);
  }, [me.data, next, router]);

  if (setup.isPending) {
    return (
      <PublicFrame title="Sign in">
        <Loading />
      </PublicFrame>
    );
  }
  if (setup.isError) {
    return (
      <PublicFrame title="Sign in">
        <ErrorState title="The control plane did not answer" error={setup.error} onRetry={() => void setup.refetch()} />
      </PublicFrame>
    );
  }
  if (setup.data.needed) {
    return (
      <PublicFrame title="Create the first admin">
        <div className="state">
          <p className="state-title">No operator exists yet.</p>
          <p>
            Open the one-time setup link that <code>npm start</code> printed when the control plane started (
            <code>First run: create the admin account at …/setup?token=…</code>).
          </p>
          <p>
            Or restart the control plane with <code>ADMIN_EMAIL</code> and <code>ADMIN_PASSWORD</code> (at least 12 characters, not a common or guessable password) set,
            then sign in here with them.
          </p>
        </div>
      </PublicFrame>
    );
  }

  return (
    <PublicFrame title="Sign in">
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          setPending(true);
          setError(null);
          signIn(email.trim(), password).then(
            () => {
              queryClient.clear();
              router.replace(next);
            },
            (err: unknown) => {
              setPending(false);
              setError(err);
            },
          );
        }}
      >
        <TextField label="E-mail" type="email" name="email" autoComplete="username" required autoFocus value={email} onChange={(e) => setEmail(e.target.value)} />
        <TextField
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error ? <ErrorMessage error={error} /> : null}
        <button type="submit" className="button primary" disabled={pending}>
          {pending ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">Forgot your password? An admin can set a new one under Users.</p>
      </form>
    </PublicFrame>
  );
}
