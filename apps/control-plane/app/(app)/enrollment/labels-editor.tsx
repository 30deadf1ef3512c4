'use client';
import { useId, useRef } from 'react';
import styles from './enrollment.module.css';

/** One row of the editor; `id` keeps React's identity stable while rows are added and removed. */
export interface LabelRow {
  id: number;
  name: string;
  value: string;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const LABEL_NAME_RULE = 'not a valid label name: letters, digits and _, not starting with a digit';

let nextRowId = 0;
/** A new, empty row. */
export function emptyLabelRow(): LabelRow {
  return { id: ++nextRowId, name: '', value: '' };
}

/**
 * The problem of each row (by row id), as the operator types: a bad label name (the same rule
 * as the API and Prometheus), a name used twice, or a value without a name. Blank rows are fine.
 */
export function labelProblems(rows: readonly LabelRow[]): Map<number, string> {
  const problems = new Map<number, string>();
  const seen = new Set<string>();
  for (const row of rows) {
    const name = row.name.trim();
    if (!name) {
      if (row.value.trim()) problems.set(row.id, 'name the label');
      continue;
    }
    if (!LABEL_NAME.test(name)) problems.set(row.id, LABEL_NAME_RULE);
    else if (seen.has(name)) problems.set(row.id, `${name} is set twice`);
    seen.add(name);
  }
  return problems;
}

/** The labels of the rows (blank rows left out); only meaningful when {@link labelProblems} is empty. */
export function labelsOf(rows: readonly LabelRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of rows) if (row.name.trim()) out[row.name.trim()] = row.value;
  return out;
}

/**
 * `name = value` rows with inline errors (`errors` by row id): "Add label" appends a row and
 * focuses its name; removing a row moves focus to the next row (or to "Add label").
 */
export function LabelsEditor({ rows, onChange, errors }: { rows: readonly LabelRow[]; onChange(rows: LabelRow[]): void; errors: ReadonlyMap<number, string> }) {
  const baseId = useId();
  const table = useRef<HTMLTableElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  const focusName = (index: number) => {
    // After React has rendered the new rows.
    requestAnimationFrame(() => {
      const inputs = table.current?.querySelectorAll<HTMLInputElement>('input[data-label-name]');
      const target = inputs?.[index];
      if (target) target.focus();
      else addButton.current?.focus();
    });
  };
  const update = (id: number, patch: Partial<LabelRow>) => onChange(rows.map((r) => (r.id === id ? { ...r, ...patch } : r)));

  return (
    <div className="stack" style={{ gap: 6, padding: 0 }}>
      {rows.length ? (
        <table className={`selector-table ${styles.labelsTable}`} ref={table} aria-label="Labels">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col" className={styles.removeColumn}>
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => {
              const error = errors.get(row.id);
              const errorId = `${baseId}-${row.id}-error`;
              return (
                <tr key={row.id} data-testid="label-row">
                  <td>
                    <input
                      data-label-name=""
                      aria-label={`Label ${i + 1} name`}
                      placeholder="env"
                      autoComplete="off"
                      spellCheck={false}
                      value={row.name}
                      aria-invalid={error ? true : undefined}
                      aria-describedby={error ? errorId : undefined}
                      onChange={(e) => update(row.id, { name: e.target.value })}
                    />
                    {error ? (
                      <p id={errorId} className="field-error">
                        {error}
                      </p>
                    ) : null}
                  </td>
                  <td>
                    <input
                      aria-label={`Label ${i + 1} value`}
                      placeholder="prod"
                      autoComplete="off"
                      spellCheck={false}
                      value={row.value}
                      onChange={(e) => update(row.id, { value: e.target.value })}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      className="button small"
                      aria-label={`Remove label ${i + 1}${row.name.trim() ? ` (${row.name.trim()})` : ''}`}
                      onClick={() => {
                        onChange(rows.filter((r) => r.id !== row.id));
                        focusName(i);
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <div>
        <button
          type="button"
          className="button small"
          ref={addButton}
          onClick={() => {
            onChange([...rows, emptyLabelRow()]);
            focusName(rows.length);
          }}
        >
          Add label
        </button>
      </div>
    </div>
  );
}
