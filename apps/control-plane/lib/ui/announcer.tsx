'use client';
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';

type Tone = 'info' | 'error';
interface Announcement {
  id: number;
  text: string;
  tone: Tone;
}

const AnnounceContext = createContext<(text: string, tone?: Tone) => void>(() => undefined);

/**
 * A polite live region shown as a toast: "Copied permissions policy", "Saved v3". Screen readers
 * read it; sighted operators see it for a few seconds at the bottom of the window.
 */
export function AnnouncerProvider({ children }: { children: ReactNode }) {
  const [current, setCurrent] = useState<Announcement | null>(null);
  const announce = useCallback((text: string, tone: Tone = 'info') => {
    setCurrent((prev) => ({ id: (prev?.id ?? 0) + 1, text, tone }));
  }, []);
  useEffect(() => {
    if (!current) return;
    const timer = setTimeout(() => setCurrent((c) => (c?.id === current.id ? null : c)), 5000);
    return () => clearTimeout(timer);
  }, [current]);
  return (
    <AnnounceContext.Provider value={announce}>
      {children}
      <div className="toast-region" role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
        {current ? (
          <p key={current.id} className={`toast ${current.tone}`}>
            {current.text}
          </p>
        ) : null}
      </div>
    </AnnounceContext.Provider>
  );
}

/** `announce('Copied')`: tells everyone (screen readers included) what just happened. */
export function useAnnounce() {
  return useContext(AnnounceContext);
}
