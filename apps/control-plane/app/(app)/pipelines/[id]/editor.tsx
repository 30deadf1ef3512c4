'use client';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { fieldErrorsOf } from '@/lib/api-errors';
import { plural } from '@/lib/format';
import { useDebounced, useUnsavedChangesGuard } from '@/lib/hooks';
import { useTRPC } from '@/lib/trpc';
import { canonicalJson, parseYaml, toYaml, type YamlProblem } from '@/lib/yaml-doc';
import { useAnnounce } from '@/lib/ui/announcer';
import { CodeEditor, focusLine } from '@/lib/ui/code-editor';
import { ConfirmDialog } from '@/lib/ui/dialog';
import { TextField } from '@/lib/ui/fields';
import { ErrorMessage } from '@/lib/ui/states';
import { versionLabel, type Matcher, type Pipeline, type PipelineVersion } from './types';

const OPS: Array<{ op: Matcher['op']; label: string }> = [
  { op: '=', label: '= equals' },
  { op: '!=', label: '!= not equal' },
  { op: '=~', label: '=~ matches regex' },
  { op: '!~', label: '!~ does not match' },
];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Row extends Matcher {
  key: number;
}
let rowKeys = 0;
const newRowKey = () => ++rowKeys;
const toRows = (selector: readonly Matcher[]): Row[] => selector.map((m) => ({ ...m, key: newRowKey() }));
const toSelector = (rows: readonly Row[]): Matcher[] => rows.map(({ name, op, value }) => ({ name: name.trim(), op, value }));

interface Base {
  version: number;
  /** The YAML as stored (the operator's text, or the document as YAML for versions without one). */
  text: string;
  selector: string;
}
/** The text the editor shows for a version: the YAML as the operator wrote it when it was kept. */
const textOf = (v: PipelineVersion | undefined): string => (v ? (v.source ?? toYaml(v.config)) : toYaml({}));
const baseOf = (v: PipelineVersion): Base => ({ version: v.version, text: textOf(v), selector: canonicalJson(v.selector) });

/**
 * The YAML editor of a pipeline with live validation (debounced, by the API: the agent's own
 * parser plus the registered AWS accounts), the label selector with its match preview, and
 * "Save draft". Viewers see it read-only.
 */
export function PipelineEditor({ pipeline, canEdit, onDirtyChange }: { pipeline: Pipeline; canEdit: boolean; onDirtyChange?(dirty: boolean): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const editorId = useId();
  const textarea = useRef<HTMLTextAreaElement>(null);
  const latest = pipeline.versions[0];
  const [base, setBase] = useState<Base | null>(() => (latest ? baseOf(latest) : null));
  const [text, setText] = useState(() => textOf(latest));
  const [rows, setRows] = useState<Row[]>(() => toRows((latest?.selector ?? []) as Matcher[]));
  const [note, setNote] = useState('');
  const [pendingLoad, setPendingLoad] = useState<number | null>(null);

  // Validation: parse the YAML once typing pauses, then ask the API.
  const settledText = useDebounced(text, 300);
  const parsed = useMemo(() => parseYaml(settledText), [settledText]);
  const validation = useQuery({
    ...trpc.pipelines.validate.queryOptions({ source: parsed.ok ? settledText : '' }),
    enabled: parsed.ok,
    placeholderData: keepPreviousData,
    staleTime: 0,
  });
  const settling = settledText !== text || (parsed.ok && validation.isFetching);

  // What is on screen now (not debounced) decides "unsaved changes" and what Save sends.
  const now = useMemo(() => parseYaml(text), [text]);
  const selector = toSelector(rows);
  const dirty = !base || text !== base.text || canonicalJson(selector) !== base.selector;

  // Leaving the page (reload, close, another site, a link in the app) with unsaved changes asks first.
  useUnsavedChangesGuard(dirty && canEdit, 'The pipeline editor has changes that are not saved. Leave and lose them?');
  useEffect(() => onDirtyChange?.(dirty && canEdit), [dirty, canEdit, onDirtyChange]);

  const syntaxProblems: YamlProblem[] = parsed.ok ? [] : parsed.problems;
  const issues = parsed.ok && validation.data && !validation.data.ok ? validation.data.issues : [];
  const issueLines = issues.map((i) => (parsed.ok ? parsed.lineOf(i.path) : null));
  const problemLines = new Map<number, string>();
  syntaxProblems.forEach((p) => problemLines.set(p.line, p.message));
  issues.forEach((i, n) => {
    const line = issueLines[n];
    if (line) problemLines.set(line, problemLines.has(line) ? `${problemLines.get(line)}; ${i.message}` : `${i.path}: ${i.message}`);
  });

  const save = useMutation(
    trpc.pipelines.saveDraft.mutationOptions({
      onSuccess: async (res, input) => {
        setBase({ version: res.version.version, text: input.source ?? '', selector: canonicalJson(input.selector) });
        if (res.created) {
          setNote('');
          announce(`Saved draft v${res.version.version}`);
        } else {
          announce(`Nothing to save: this is the same as v${res.version.version}`);
        }
        await Promise.all([
          queryClient.invalidateQueries({ queryKey: trpc.pipelines.get.queryKey({ id: pipeline.id }) }),
          queryClient.invalidateQueries({ queryKey: trpc.pipelines.list.pathKey() }),
        ]);
      },
    }),
  );
  const saveErrors = fieldErrorsOf(save.error);

  const loadVersion = (version: number) => {
    const v = pipeline.versions.find((x) => x.version === version);
    if (!v) return;
    setText(textOf(v));
    setRows(toRows(v.selector as Matcher[]));
    setBase(baseOf(v));
    setPendingLoad(null);
    announce(`Loaded v${version} into the editor`);
  };

  const statusId = `${editorId}-status`;
  const helpId = `${editorId}-help`;
  return (
    <div className="editor-layout">
      <section className="card editor-card" aria-labelledby={`${editorId}-heading`}>
        <div className="card-head">
          <h2 id={`${editorId}-heading`}>
            <label htmlFor={editorId}>Document (YAML)</label>
          </h2>
          <div className="card-head-actions">
            <label htmlFor={`${editorId}-from`} className="small muted">
              {canEdit ? 'Editing from' : 'Showing'}
            </label>
            <select
              id={`${editorId}-from`}
              className="compact"
              value={base?.version ?? ''}
              onChange={(e) => {
                const v = Number(e.target.value);
                if (dirty && canEdit) setPendingLoad(v);
                else loadVersion(v);
              }}
            >
              {pipeline.versions.map((v) => (
                <option key={v.version} value={v.version}>
                  {versionLabel(v)}
                  {v.published ? ' (published)' : ''}
                  {v.version === latest?.version ? ' (latest)' : ''}
                </option>
              ))}
            </select>
            {dirty && canEdit ? <span className="badge warn">Unsaved changes</span> : null}
          </div>
        </div>
        <p id={helpId} className="hint">
          A Prometheus config: <code>global</code>, <code>scrape_configs</code>, <code>remote_write</code>. In a remote_write,{' '}
          <code>aws_account: &lt;name or id&gt;</code> fills in region, role and ExternalId.
          {canEdit ? ' Your text is kept as written, comments and key order included. Tab indents; press Esc, then Tab, to leave the editor.' : ''}
        </p>
        <CodeEditor
          id={editorId}
          textareaRef={textarea}
          value={text}
          onChange={setText}
          readOnly={!canEdit}
          problems={problemLines}
          describedBy={`${helpId} ${statusId}`}
          invalid={syntaxProblems.length > 0 || issues.length > 0}
        />
        {canEdit ? (
          <form
            className="save-bar"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              if (!now.ok) {
                announce(`Fix the YAML first: line ${now.problems[0]!.line}: ${now.problems[0]!.message}`, 'error');
                focusLine(textarea.current, now.problems[0]!.line);
                return;
              }
              save.mutate({ id: pipeline.id, source: text, selector, note: note.trim() });
            }}
          >
            <TextField
              label="Note for this version"
              name="note"
              className="grow"
              placeholder="What changed and why (optional)"
              value={note}
              maxLength={2000}
              onChange={(e) => setNote(e.target.value)}
              error={saveErrors.note}
            />
            <button type="submit" className="button primary" disabled={save.isPending}>
              {save.isPending ? 'Saving…' : 'Save draft'}
            </button>
          </form>
        ) : null}
        {save.error ? <ErrorMessage error={save.error} shownFields={['note']} /> : null}
        {canEdit && issues.length > 0 && !save.error ? (
          <p className="hint">Drafts may be saved with problems; a version can only be published once it is valid.</p>
        ) : null}
      </section>

      <div className="editor-side">
        <section className="card" aria-labelledby={`${editorId}-val`}>
          <h2 id={`${editorId}-val`}>Validation</h2>
          <div id={statusId} role="status" className="validation-status">
            {settling ? (
              <p className="muted">Checking…</p>
            ) : syntaxProblems.length ? (
              <p className="bad-text">YAML syntax: {plural(syntaxProblems.length, 'problem')}</p>
            ) : validation.isError ? (
              <p className="bad-text">Could not validate.</p>
            ) : issues.length ? (
              <p className="bad-text">{plural(issues.length, 'problem')}</p>
            ) : validation.data?.ok ? (
              <p className="ok-text">✓ Valid: agents can run this document.</p>
            ) : null}
          </div>
          {validation.isError && parsed.ok ? <ErrorMessage error={validation.error} /> : null}
          {syntaxProblems.length || issues.length ? (
            <ul className="issues" aria-label="Problems">
              {syntaxProblems.map((p, i) => (
                <li key={`s${i}`}>
                  <button type="button" className="link-button" onClick={() => focusLine(textarea.current, p.line)}>
                    line {p.line}, column {p.col}
                  </button>
                  : {p.message}
                </li>
              ))}
              {issues.map((issue, i) => (
                <li key={`i${i}`} data-testid="validation-issue">
                  <code>{issue.path || '(document)'}</code>: {issue.message}
                  {issueLines[i] ? (
                    <>
                      {' '}
                      <button type="button" className="link-button" onClick={() => focusLine(textarea.current, issueLines[i]!)}>
                        (line {issueLines[i]})
                      </button>
                    </>
                  ) : null}
                </li>
              ))}
            </ul>
          ) : null}
        </section>

        <SelectorEditor rows={rows} onChange={setRows} readOnly={!canEdit} />
      </div>

      {pendingLoad !== null ? (
        <ConfirmDialog
          open
          title={`Discard your changes and load ${loadLabel(pipeline, pendingLoad)}?`}
          confirmLabel={`Load ${loadLabel(pipeline, pendingLoad)}`}
          danger
          onClose={() => setPendingLoad(null)}
          onConfirm={() => loadVersion(pendingLoad)}
        >
          <p>The editor has changes that are not saved as a version. Save a draft first to keep them.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function loadLabel(pipeline: Pipeline, version: number): string {
  const v = pipeline.versions.find((x) => x.version === version);
  return v ? versionLabel(v) : `v${version}`;
}

/** Label matchers (all must hold) and how many enrolled agents they match now. */
function SelectorEditor({ rows, onChange, readOnly }: { rows: Row[]; onChange(rows: Row[]): void; readOnly: boolean }) {
  const trpc = useTRPC();
  const headingId = useId();
  const selector = toSelector(rows);
  const complete = selector.every((m) => LABEL_NAME.test(m.name));
  // Debounce by value (a new array every render would never settle).
  const settledJson = useDebounced(JSON.stringify(selector), 300);
  const settled = useMemo(() => JSON.parse(settledJson) as Matcher[], [settledJson]);
  const preview = useQuery({
    ...trpc.pipelines.preview.queryOptions({ selector: settled }),
    enabled: settled.every((m) => LABEL_NAME.test(m.name)),
    placeholderData: keepPreviousData,
  });
  const previewErrors = fieldErrorsOf(preview.error);
  const update = (key: number, patch: Partial<Matcher>) => onChange(rows.map((r) => (r.key === key ? { ...r, ...patch } : r)));

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>Applies to</h2>
      <p className="hint">Agents whose labels match every row. No rows: every agent.</p>
      {rows.length ? (
        <table className="selector-table" aria-label="Label matchers">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Operator</th>
              <th scope="col">Value</th>
              {!readOnly ? (
                <th scope="col">
                  <span className="visually-hidden">Remove</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => {
              const nameError = r.name.trim() && !LABEL_NAME.test(r.name.trim()) ? 'not a label name' : previewErrors[`selector.${i}.name`];
              const valueError = previewErrors[`selector.${i}.value`];
              return (
                <tr key={r.key}>
                  <td>
                    <input
                      aria-label={`Label name, row ${i + 1}`}
                      value={r.name}
                      placeholder="env"
                      readOnly={readOnly}
                      aria-invalid={nameError ? true : undefined}
                      title={nameError}
                      onChange={(e) => update(r.key, { name: e.target.value })}
                    />
                  </td>
                  <td>
                    <select aria-label={`Operator, row ${i + 1}`} value={r.op} disabled={readOnly} onChange={(e) => update(r.key, { op: e.target.value as Matcher['op'] })}>
                      {OPS.map((o) => (
                        <option key={o.op} value={o.op}>
                          {o.label}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input
                      aria-label={`Value, row ${i + 1}`}
                      value={r.value}
                      placeholder="prod"
                      readOnly={readOnly}
                      aria-invalid={valueError ? true : undefined}
                      title={valueError}
                      onChange={(e) => update(r.key, { value: e.target.value })}
                    />
                  </td>
                  {!readOnly ? (
                    <td>
                      <button type="button" className="icon-button" aria-label={`Remove row ${i + 1}`} onClick={() => onChange(rows.filter((x) => x.key !== r.key))}>
                        ×
                      </button>
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      {Object.keys(previewErrors).length ? (
        <ul className="issues">
          {Object.entries(previewErrors).map(([path, message]) => (
            <li key={path}>
              Row {Number(path.split('.')[1] ?? 0) + 1}: {message}
            </li>
          ))}
        </ul>
      ) : null}
      {!readOnly ? (
        <button type="button" className="button small" onClick={() => onChange([...rows, { key: newRowKey(), name: '', op: '=', value: '' }])}>
          + Add matcher
        </button>
      ) : null}
      <p className="preview-line" role="status" data-testid="selector-preview">
        {!complete ? (
          <span className="muted">Give every row a label name to see which agents match.</span>
        ) : preview.isPending ? (
          <span className="muted">Counting agents…</span>
        ) : preview.isError && !Object.keys(previewErrors).length ? (
          <span className="bad-text">Could not count the agents.</span>
        ) : preview.data ? (
          <>
            Matches <strong>{preview.data.matched}</strong> of {plural(preview.data.total, 'agent')}
            {preview.data.total === 0 ? <span className="muted"> (none enrolled yet)</span> : null}
          </>
        ) : null}
      </p>
    </section>
  );
}
