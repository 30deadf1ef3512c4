'use client';
import { useRef, type Ref } from 'react';

/** Puts the caret at the start of a 1-based line and scrolls it into view. */
export function focusLine(textarea: HTMLTextAreaElement | null, line: number): void {
  if (!textarea) return;
  const lines = textarea.value.split('\n');
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i]!.length + 1;
  textarea.focus();
  textarea.setSelectionRange(offset, offset + (lines[line - 1]?.length ?? 0));
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
  textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

function insertText(textarea: HTMLTextAreaElement, text: string, onChange: (v: string) => void) {
  // execCommand keeps the browser's undo history; setRangeText is the fallback.
  if (!document.execCommand('insertText', false, text)) {
    textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, 'end');
    onChange(textarea.value);
  }
}

/**
 * A monospace text editor with line numbers. Tab inserts two spaces and Shift+Tab removes up to
 * two from the line's start; press Escape first to move focus with Tab instead. Lines with a
 * problem are marked in the gutter (with the message as a tooltip).
 */
export function CodeEditor(props: {
  id: string;
  value: string;
  onChange(value: string): void;
  readOnly?: boolean;
  problems?: ReadonlyMap<number, string>;
  describedBy?: string;
  invalid?: boolean;
  /** Height in lines; by default it follows the text (10 to 26 lines). */
  rows?: number;
  label?: string;
  textareaRef?: Ref<HTMLTextAreaElement>;
}) {
  const { id, value, onChange, problems, readOnly, describedBy, invalid, rows, label, textareaRef } = props;
  const gutter = useRef<HTMLDivElement>(null);
  const tabLeaves = useRef(false);
  const lineCount = value.split('\n').length;
  return (
    <div className={`code-editor${readOnly ? ' readonly' : ''}`} style={{ ['--rows' as string]: String(rows ?? Math.min(26, Math.max(10, lineCount + 2))) }}>
      <div className="gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lineCount }, (_, i) => {
          const problem = problems?.get(i + 1);
          return (
            <div key={i} className={problem ? 'gutter-line bad' : 'gutter-line'} title={problem}>
              {i + 1}
            </div>
          );
        })}
      </div>
      <textarea
        id={id}
        ref={textareaRef}
        value={value}
        readOnly={readOnly}
        aria-label={label}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        autoCorrect="off"
        wrap="off"
        onChange={(e) => onChange(e.target.value)}
        onScroll={(e) => {
          if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            tabLeaves.current = true;
            return;
          }
          if (e.key !== 'Tab' || e.ctrlKey || e.altKey || e.metaKey || readOnly) {
            tabLeaves.current = false;
            return;
          }
          if (tabLeaves.current) {
            tabLeaves.current = false;
            return; // let focus move on
          }
          e.preventDefault();
          const ta = e.currentTarget;
          if (!e.shiftKey) {
            insertText(ta, '  ', onChange);
            return;
          }
          const start = ta.value.lastIndexOf('\n', ta.selectionStart - 1) + 1;
          const remove = /^ {1,2}/.exec(ta.value.slice(start))?.[0].length ?? 0;
          if (!remove) return;
          const caret = ta.selectionStart;
          ta.setSelectionRange(start, start + remove);
          if (!document.execCommand('delete')) {
            ta.setRangeText('', start, start + remove, 'start');
            onChange(ta.value);
          }
          const to = Math.max(start, caret - remove);
          ta.setSelectionRange(to, to);
        }}
      />
    </div>
  );
}
