// The notices of the open session as toasts: at most three, newest last; each one can be dismissed, and all but
// the deal's leave by themselves after a few seconds (not while the pointer or the keyboard is on them). A phone
// shows only the newest, compact, at the bottom (toasts.css).
import type { FocusEvent } from "react";
import { noticeCenter, useNotices } from "../store/live";
import "./toasts.css";

export function Toasts() {
  const toasts = useNotices((s) => s.toasts);
  const leave = (e: FocusEvent<HTMLDivElement>) => {
    if (!e.currentTarget.contains(e.relatedTarget as Node | null)) noticeCenter.hold(false);
  };
  return (
    // Always in the page, so screen readers announce a toast when it appears.
    <div
      className="toasts"
      role="status"
      aria-live="polite"
      aria-label="Notices"
      onMouseEnter={() => noticeCenter.hold(true)}
      onMouseLeave={() => noticeCenter.hold(false)}
      onFocus={() => noticeCenter.hold(true)}
      onBlur={leave}
    >
      {toasts.map((t) => (
        <div key={t.id} className={`toast kind-${t.notice.kind}`} data-testid="toast">
          <div className="toast-text">
            <p className="toast-title">{t.notice.title}</p>
            <p className="toast-body">{t.notice.body}</p>
          </div>
          <button
            type="button"
            className="toast-close"
            aria-label={`Dismiss: ${t.notice.title}`}
            onClick={() => noticeCenter.dismiss(t.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
