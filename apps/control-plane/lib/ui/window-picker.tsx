'use client';
import { useId } from 'react';
import { WINDOWS, type WindowMinutes } from '../units';

/**
 * The time window of a dashboard (1 h … 30 d) as a segmented radio group: Tab reaches the
 * selected window, the arrow keys move between windows (native radio behaviour).
 */
export function WindowPicker({ value, onChange, label = 'Window', options = WINDOWS.map((w) => w.minutes) }: { value: WindowMinutes; onChange(minutes: WindowMinutes): void; label?: string; options?: readonly WindowMinutes[] }) {
  const name = useId();
  return (
    <fieldset className="segmented" data-testid="window-picker">
      <legend className="visually-hidden">{label}</legend>
      {WINDOWS.filter((w) => options.includes(w.minutes)).map((w) => (
        <label key={w.minutes} className={w.minutes === value ? 'selected' : undefined}>
          <input type="radio" name={name} value={w.minutes} checked={w.minutes === value} onChange={() => onChange(w.minutes)} />
          <span aria-hidden="true">{w.label}</span>
          <span className="visually-hidden">{w.long}</span>
        </label>
      ))}
    </fieldset>
  );
}
