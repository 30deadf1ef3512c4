'use client';
import { useEffect, useState } from 'react';
import { useAnnounce } from './announcer';

/** Copies `text` to the clipboard and announces "Copied <what>" (aria-live). */
export function CopyButton({ text, what, className }: { text: string; what: string; className?: string }) {
  const announce = useAnnounce();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className={className ?? 'button small'}
      aria-label={`Copy ${what}`}
      onClick={() => {
        navigator.clipboard.writeText(text).then(
          () => {
            setCopied(true);
            announce(`Copied ${what}`);
          },
          () => announce(`Could not copy ${what}: select the text and press Ctrl+C`, 'error'),
        );
      }}
    >
      {copied ? 'Copied ✓' : 'Copy'}
    </button>
  );
}

/** A titled, scrollable code block with a Copy button. */
export function CodeBlock({ title, text, what, testId, meta }: { title: string; text: string; what: string; testId?: string; meta?: string }) {
  return (
    <figure className="code-block" data-testid={testId}>
      <figcaption>
        <span className="code-title">{title}</span>
        {meta ? <span className="muted">{meta}</span> : null}
        <CopyButton text={text} what={what} />
      </figcaption>
      <pre tabIndex={0} aria-label={title}>
        <code>{text}</code>
      </pre>
    </figure>
  );
}
