'use client';
import type { ReactNode } from 'react';
import { errorText } from '../api-errors';

/** A short "loading" line that screen readers announce. */
export function Loading({ children = 'Loading…' }: { children?: ReactNode }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {children}
    </p>
  );
}

/** An inline error sentence (forms, dialogs). */
export function ErrorMessage({ error, shownFields }: { error: unknown; shownFields?: readonly string[] }) {
  return (
    <p className="form-error" role="alert">
      {errorText(error, shownFields)}
    </p>
  );
}

/** A page-level error: what went wrong, what to do next, and a way to try again. */
export function ErrorState(props: { title?: string; error?: unknown; children?: ReactNode; onRetry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <p className="state-title">{props.title ?? 'Something went wrong'}</p>
      {props.error !== undefined ? <p>{errorText(props.error)}</p> : null}
      {props.children}
      {props.onRetry ? (
        <p>
          <button type="button" className="button" onClick={props.onRetry}>
            Try again
          </button>
        </p>
      ) : null}
    </div>
  );
}

/** Nothing here yet: say so, and say what to do next. */
export function EmptyState(props: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="state empty">
      <p className="state-title">{props.title}</p>
      {props.children}
      {props.action ? <div className="state-action">{props.action}</div> : null}
    </div>
  );
}

/** The page heading with an optional description and actions on the right. */
export function PageHeader(props: { title: ReactNode; description?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.description ? <p className="page-desc">{props.description}</p> : null}
      </div>
      {props.actions ? <div className="page-actions">{props.actions}</div> : null}
    </div>
  );
}
