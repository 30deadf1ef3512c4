'use client';
import { useEffect, useId, useRef, type ReactNode } from 'react';
import { ErrorMessage } from './states';

/**
 * A modal dialog on the native `<dialog>` element: the rest of the page is inert while it is open
 * (focus stays inside), Escape closes it, and focus returns to what opened it. Its content is only
 * mounted while open, so forms start fresh every time.
 */
export function Dialog(props: {
  open: boolean;
  onClose(): void;
  title: string;
  description?: ReactNode;
  children: ReactNode;
  wide?: boolean;
}) {
  const { open, onClose } = props;
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const descId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      const opener = document.activeElement as HTMLElement | null;
      d.showModal();
      // Fields mounted before the dialog was shown could not take focus: give it to the first
      // field of its form, else to its main button.
      const first =
        d.querySelector<HTMLElement>('form input:not([type=hidden]):not([disabled]), form select:not([disabled]), form textarea:not([disabled])') ??
        d.querySelector<HTMLElement>('.dialog-actions .primary, .dialog-actions .danger');
      first?.focus();
      return () => {
        if (d.open) d.close();
        // Chromium restores focus itself; this covers the rest.
        if (opener?.isConnected && !d.contains(document.activeElement)) opener.focus();
      };
    }
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={props.wide ? 'dialog wide' : 'dialog'}
      aria-labelledby={titleId}
      aria-describedby={props.description ? descId : undefined}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open ? (
        <>
          <div className="dialog-head">
            <h2 id={titleId}>{props.title}</h2>
            <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </div>
          {props.description ? (
            <div id={descId} className="dialog-desc">
              {props.description}
            </div>
          ) : null}
          {props.children}
        </>
      ) : null}
    </dialog>
  );
}

/** "Are you sure?" with the consequence spelled out; the confirm button names the action. */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  pending?: boolean;
  error?: unknown;
  onConfirm(): void;
  onClose(): void;
}) {
  return (
    <Dialog open={props.open} onClose={props.onClose} title={props.title}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm();
        }}
      >
        <div className="dialog-body">{props.children}</div>
        {props.error ? <ErrorMessage error={props.error} /> : null}
        <FormActions onCancel={props.onClose} pending={props.pending ?? false} label={props.confirmLabel} pendingLabel="Working…" danger={props.danger} autoFocus />
      </form>
    </Dialog>
  );
}

/** The Cancel + submit row of a dialog form; the submit button shows `pendingLabel` while pending. */
export function FormActions(props: { onCancel(): void; pending: boolean; label: string; pendingLabel: string; danger?: boolean | undefined; autoFocus?: boolean }) {
  return (
    <div className="dialog-actions">
      <button type="button" className="button" onClick={props.onCancel}>
        Cancel
      </button>
      <button type="submit" className={props.danger ? 'button danger' : 'button primary'} disabled={props.pending} autoFocus={props.autoFocus}>
        {props.pending ? props.pendingLabel : props.label}
      </button>
    </div>
  );
}
