// One dialog for every binding act (WCAG 3.3.4): it says in plain words what will happen, opens with the focus on
// the safe choice, keeps the focus inside (a native modal <dialog>: the rest of the page is inert), cancels on
// Escape, and gives the focus back to where it was.
import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from "react";
import type { ConfirmWords } from "../lib/confirmWords";
import "./confirm.css";

export interface ConfirmDialogProps {
  words: ConfirmWords;
  /** the act was confirmed; the dialog has already closed */
  onConfirm(): void;
  /** Escape, the cancel button, or closing by other means */
  onCancel(): void;
}

export function ConfirmDialog({ words, onConfirm, onCancel }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const id = useId();
  const done = useRef(false);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!dialog.open) dialog.showModal();
    // The safe choice first: Enter or Space on the opening focus never commits.
    cancelRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
      // Back to what opened the dialog, if it is still on the page; else the panel's heading, if any.
      if (returnTo?.isConnected) returnTo.focus();
    };
  }, []);

  const finish = (confirmed: boolean) => {
    if (done.current) return;
    done.current = true;
    ref.current?.close();
    if (confirmed) onConfirm();
    else onCancel();
  };

  return (
    <dialog
      ref={ref}
      className={`confirm-dialog tone-${words.tone}`}
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-body`}
      data-testid="confirm-dialog"
      onCancel={(e) => {
        // Escape: cancel (and do not let the browser close it behind React's back).
        e.preventDefault();
        finish(false);
      }}
    >
      <h2 id={`${id}-title`} className="confirm-title">
        {words.title}
      </h2>
      <div id={`${id}-body`} className="confirm-body">
        {words.body.map((line) => (
          <p key={line}>{line}</p>
        ))}
      </div>
      <div className="confirm-actions">
        <button ref={cancelRef} type="button" className="confirm-cancel" onClick={() => finish(false)}>
          {words.cancelLabel}
        </button>
        <button
          type="button"
          className={words.tone === "danger" ? "danger" : "primary"}
          onClick={() => finish(true)}
        >
          {words.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/**
 * `ask(words, act)` shows the dialog; `act` runs only when confirmed. Render `element` once in the panel.
 */
export function useConfirm(): {
  ask(words: ConfirmWords, act: () => unknown): void;
  element: ReactNode;
  open: boolean;
} {
  const [pending, setPending] = useState<{ words: ConfirmWords; act: () => unknown; key: number } | null>(
    null,
  );
  const ask = useCallback((words: ConfirmWords, act: () => unknown) => {
    setPending({ words, act, key: Date.now() });
  }, []);
  const element = pending ? (
    <ConfirmDialog
      key={pending.key}
      words={pending.words}
      onCancel={() => setPending(null)}
      onConfirm={() => {
        setPending(null);
        void pending.act();
      }}
    />
  ) : null;
  return { ask, element, open: pending !== null };
}
