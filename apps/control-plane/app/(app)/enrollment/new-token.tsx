'use client';
import type { AppRouter } from '@fleet/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { inferRouterInputs } from '@trpc/server';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { fieldErrorsOf } from '@/lib/api-errors';
import { formatTime } from '@/lib/format';
import { useTRPC, type ApiOutputs } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { CopyButton } from '@/lib/ui/copy';
import { Dialog, FormActions } from '@/lib/ui/dialog';
import { SelectField, TextAreaField, TextField } from '@/lib/ui/fields';
import { ErrorMessage } from '@/lib/ui/states';
import styles from './enrollment.module.css';
import { InstallCommands, useServerUrl } from './install';
import { emptyLabelRow, LABEL_NAME_RULE, labelProblems, LabelsEditor, labelsOf, type LabelRow } from './labels-editor';

type NewToken = inferRouterInputs<AppRouter>['enrollment']['create'];
type Created = ApiOutputs['enrollment']['create'];
type Platform = NonNullable<NewToken['platform']>;

const EXPIRY_PRESETS = [
  { hours: 1, label: '1 hour' },
  { hours: 24, label: '24 hours' },
  { hours: 24 * 7, label: '7 days' },
  { hours: 24 * 30, label: '30 days' },
] as const;

export const PLATFORMS: Array<{ value: Platform; label: string }> = [
  { value: 'any', label: 'Any: EC2, EKS or another host' },
  { value: 'ec2', label: 'EC2 instances only' },
  { value: 'eks', label: 'EKS pods only' },
];

interface Form {
  name: string;
  /** Hours of a preset, or `custom` (then `customHours`). */
  expiry: string;
  customHours: string;
  maxUses: string;
  labels: LabelRow[];
  /** Whether agents may add labels of their own (`fleet-agent enroll --label`). */
  allowAgentLabels: boolean;
  platform: Platform;
  requireAws: boolean;
  accountIds: string;
  roleArnGlobs: string;
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Problems found before asking the server (the server checks everything again). */
function clientErrors(form: Form): Record<string, string> {
  const errors: Record<string, string> = {};
  if (form.expiry === 'custom' && !/^\d+$/.test(form.customHours.trim())) errors.expiresInHours = 'a whole number of hours (1 to 8760)';
  if (form.maxUses.trim() && !/^\d+$/.test(form.maxUses.trim())) errors.maxUses = 'a whole number, or blank for unlimited';
  return errors;
}

/**
 * The API's field errors placed on this form's fields: `labels.<name>` on the label's row,
 * `awsBinding.accountIds.<i>` on the account list naming the offending line. Returns the
 * messages by field and the paths placed (the others are spelled out under the form).
 */
function placeServerErrors(err: unknown, sent: NewToken | null, rows: readonly LabelRow[]) {
  const byField: Record<string, string> = {};
  const byRow = new Map<number, string>();
  const placed: string[] = [];
  const add = (field: string, message: string) => {
    byField[field] = byField[field] ? `${byField[field]}; ${message}` : message;
  };
  for (const [path, message] of Object.entries(fieldErrorsOf(err))) {
    const [head, sub, index] = path.split('.');
    if (head === 'labels' && sub !== undefined) {
      const key = path.slice('labels.'.length);
      const row = rows.find((r) => r.name.trim() === key);
      if (!row) continue;
      byRow.set(row.id, message === 'Invalid key in record' ? LABEL_NAME_RULE : message);
    } else if (head === 'awsBinding' && (sub === 'accountIds' || sub === 'roleArnGlobs')) {
      const value = index === undefined ? undefined : sent?.awsBinding?.[sub]?.[Number(index)];
      add(sub, value === undefined ? message : `${value}: ${message}`);
    } else if (head === 'awsBinding' || head === 'name' || head === 'expiresInHours' || head === 'maxUses' || head === 'platform' || head === 'allowAgentLabels') {
      add(head, message);
    } else {
      continue;
    }
    placed.push(path);
  }
  return { byField, byRow, placed };
}

/** "New token": the form, then (once created) the secret and the install commands, shown once. */
export function NewTokenDialog({ onClose }: { onClose(): void }) {
  const [created, setCreated] = useState<Created | null>(null);
  if (created) {
    return (
      <Dialog open wide onClose={onClose} title={`Token ${created.view.name} created`}>
        <CreatedPanel created={created} onClose={onClose} />
      </Dialog>
    );
  }
  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title="New enrollment token"
      description="Agents enroll with it once; they get the token's labels. You see the token only once, right after creating it."
    >
      <NewTokenForm onClose={onClose} onCreated={setCreated} />
    </Dialog>
  );
}

function NewTokenForm({ onClose, onCreated }: { onClose(): void; onCreated(created: Created): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const formRef = useRef<HTMLFormElement>(null);
  const ids = useId();
  const [form, setForm] = useState<Form>(() => ({
    name: '',
    expiry: '24',
    customHours: '',
    maxUses: '',
    labels: [emptyLabelRow()],
    allowAgentLabels: true,
    platform: 'any',
    requireAws: false,
    accountIds: '',
    roleArnGlobs: '',
  }));
  const [attempted, setAttempted] = useState(false);
  const [sent, setSent] = useState<NewToken | null>(null);
  const create = useMutation(
    trpc.enrollment.create.mutationOptions({
      onSuccess: async (res) => {
        await queryClient.invalidateQueries({ queryKey: trpc.enrollment.list.pathKey() });
        announce(`Created enrollment token ${res.view.name}: copy it now, it is shown once`);
        onCreated(res);
      },
    }),
  );

  const server = placeServerErrors(create.error, sent, form.labels);
  const local = attempted ? clientErrors(form) : {};
  const errors: Record<string, string | undefined> = { ...server.byField, ...local };
  const rowErrors = new Map([...server.byRow, ...labelProblems(form.labels)]);

  // Keyboard users land on the first field the server refused.
  useEffect(() => {
    if (create.error) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [create.error]);

  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAttempted(true);
    if (Object.keys(clientErrors(form)).length || labelProblems(form.labels).size) {
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    const input: NewToken = {
      name: form.name.trim(),
      expiresInHours: Number(form.expiry === 'custom' ? form.customHours.trim() : form.expiry),
      labels: labelsOf(form.labels),
      allowAgentLabels: form.allowAgentLabels,
      platform: form.platform,
      ...(form.maxUses.trim() ? { maxUses: Number(form.maxUses.trim()) } : {}),
      ...(form.requireAws ? { awsBinding: { accountIds: lines(form.accountIds), roleArnGlobs: lines(form.roleArnGlobs) } } : {}),
    };
    setSent(input);
    create.mutate(input);
  };

  const expiryErrorId = `${ids}-expiry-error`;
  const expiryError = form.expiry === 'custom' ? undefined : errors.expiresInHours;
  return (
    <form className="stack" noValidate onSubmit={submit} ref={formRef}>
      <TextField
        label="Name"
        name="name"
        autoComplete="off"
        placeholder="prod-ec2-web"
        autoFocus
        value={form.name}
        onChange={(e) => set('name', e.target.value)}
        error={errors.name}
        hint="Says what the token is for; it is listed with its first characters, never the whole token."
      />
      <fieldset className="fieldset" aria-describedby={expiryError ? expiryErrorId : undefined}>
        <legend>Expires after</legend>
        <div className={styles.choices}>
          {EXPIRY_PRESETS.map((p) => (
            <label key={p.hours} className={styles.choice}>
              <input type="radio" name="expiry" value={String(p.hours)} checked={form.expiry === String(p.hours)} onChange={() => set('expiry', String(p.hours))} />
              {p.label}
            </label>
          ))}
          <label className={styles.choice}>
            <input type="radio" name="expiry" value="custom" checked={form.expiry === 'custom'} onChange={() => set('expiry', 'custom')} />
            Custom
          </label>
        </div>
        {form.expiry === 'custom' ? (
          <TextField
            label="Hours"
            name="customHours"
            inputMode="numeric"
            autoComplete="off"
            placeholder="72"
            className={styles.customHours}
            value={form.customHours}
            onChange={(e) => set('customHours', e.target.value)}
            error={errors.expiresInHours}
            hint="From 1 hour to 8760 (a year)."
          />
        ) : null}
        {expiryError ? (
          <p id={expiryErrorId} className="field-error">
            {expiryError}
          </p>
        ) : null}
        <p className="hint">Enrolled agents keep running after the token expires; only new enrollments stop.</p>
      </fieldset>
      <div className="form-grid" style={{ marginBottom: 0 }}>
        <TextField
          label="Max uses"
          name="maxUses"
          inputMode="numeric"
          autoComplete="off"
          placeholder="unlimited"
          value={form.maxUses}
          onChange={(e) => set('maxUses', e.target.value)}
          error={errors.maxUses}
          hint="How many agents may enroll with it. Blank: unlimited until it expires."
        />
        <SelectField
          label="Platform"
          name="platform"
          value={form.platform}
          onChange={(e) => set('platform', e.target.value as Platform)}
          error={errors.platform}
          hint="Agents on another platform are refused."
        >
          {PLATFORMS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </SelectField>
      </div>
      <fieldset className="fieldset">
        <legend>Labels</legend>
        <p className="hint">
          Stamped on every agent enrolled with this token; pipelines select agents by label (e.g. <code>env = prod</code>).
        </p>
        <LabelsEditor rows={form.labels} onChange={(rows) => set('labels', rows)} errors={rowErrors} />
        <label className={styles.check}>
          <input
            type="checkbox"
            name="allowAgentLabels"
            checked={form.allowAgentLabels}
            onChange={(e) => set('allowAgentLabels', e.target.checked)}
            aria-describedby={`${ids}-agent-labels-hint`}
          />
          Agents may add labels of their own
        </label>
        <p className="hint" id={`${ids}-agent-labels-hint`}>
          {form.allowAgentLabels ? (
            <>
              An agent may declare up to 20 more labels with <code>fleet-agent enroll --label name=value</code>. They can never change a label set
              here (the token&apos;s value wins), but they can add ones like <code>env</code> that pipelines select by — clear this when agents must not
              choose which pipelines reach them.
            </>
          ) : (
            <>Agents get exactly the labels above: one that declares labels of its own is refused. Operators can still change an agent&apos;s labels later.</>
          )}
        </p>
        {errors.allowAgentLabels ? <p className="field-error">{errors.allowAgentLabels}</p> : null}
      </fieldset>
      <fieldset className="fieldset">
        <legend>AWS identity</legend>
        <label className={styles.check}>
          <input type="checkbox" name="requireAws" checked={form.requireAws} onChange={(e) => set('requireAws', e.target.checked)} />
          Require AWS identity
        </label>
        <p className="hint">
          The agent must also prove its AWS identity with a signed <code>sts:GetCallerIdentity</code> request that matches these rules, so a leaked token
          is useless outside your accounts.
        </p>
        {form.requireAws ? (
          <>
            <TextAreaField
              label="Account IDs (one per line)"
              name="accountIds"
              rows={3}
              spellCheck={false}
              placeholder="123456789012"
              value={form.accountIds}
              onChange={(e) => set('accountIds', e.target.value)}
              error={errors.accountIds}
            />
            <TextAreaField
              label="Role ARN patterns (one per line)"
              name="roleArnGlobs"
              rows={3}
              spellCheck={false}
              placeholder="arn:aws:iam::123456789012:role/fleet-*"
              value={form.roleArnGlobs}
              onChange={(e) => set('roleArnGlobs', e.target.value)}
              error={errors.roleArnGlobs}
              hint={
                <>
                  <code>*</code> matches any characters, <code>?</code> one character.
                </>
              }
            />
            {errors.awsBinding ? (
              <p className="field-error" role="alert">
                {errors.awsBinding}
              </p>
            ) : null}
          </>
        ) : null}
      </fieldset>
      {create.error ? <ErrorMessage error={create.error} shownFields={server.placed} /> : null}
      <FormActions onCancel={onClose} pending={create.isPending} label="Create token" pendingLabel="Creating…" />
    </form>
  );
}

/** The secret, once, with the commands that use it; closing forgets it. */
function CreatedPanel({ created, onClose }: { created: Created; onClose(): void }) {
  const server = useServerUrl();
  const panel = useRef<HTMLDivElement>(null);
  const { token, view } = created;
  // Focus the Copy button of the token first: copying it is the one thing not to miss.
  useEffect(() => {
    panel.current?.querySelector<HTMLElement>('button')?.focus();
  }, []);
  return (
    <div className="stack" ref={panel}>
      <div className={styles.secret} data-testid="token-secret-panel">
        <p>
          <strong>Copy this token now: it is shown only once.</strong> The control plane keeps only its hash; if you lose it, revoke it and create another.
        </p>
        <div className="copy-row">
          <code className={styles.secretValue} data-testid="token-secret">
            {token}
          </code>
          <CopyButton text={token} what={`enrollment token ${view.name}`} className="button" />
        </div>
        <p className="small muted">
          Expires {formatTime(view.expiresAt)} · {view.maxUses === null ? 'unlimited uses' : `${view.maxUses} ${view.maxUses === 1 ? 'use' : 'uses'}`} ·
          platform {view.platform} · {view.allowAgentLabels ? 'agents may add labels' : 'token labels only'}
        </p>
      </div>
      <InstallCommands token={token} server={server} />
      <div className="dialog-actions">
        <span className="hint" style={{ marginRight: 'auto', alignSelf: 'center' }}>
          Closing this dialog forgets the token.
        </span>
        <button type="button" className="button primary" onClick={onClose}>
          Done
        </button>
      </div>
    </div>
  );
}
