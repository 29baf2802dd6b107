// The one offer of browser notifications: explained, and asked only when the person presses "Turn on" (never on
// load). "Not now" is remembered in this browser; the settings page can turn them on later.
import { useState } from "react";
import {
  askNotificationPermission,
  notificationPermission,
  type Permission,
  rememberNotNow,
  saidNotNow,
} from "../../lib/browserNotices";
import { Link } from "../../router";

export function NotifyOffer() {
  const [permission, setPermission] = useState<Permission>(notificationPermission);
  const [dismissed, setDismissed] = useState(saidNotNow);
  const [asking, setAsking] = useState(false);
  if (permission !== "default" || dismissed) return null;
  return (
    <aside className="card notify-offer" aria-labelledby="notify-offer-title">
      <p id="notify-offer-title" className="notify-offer-title">
        Get told of a deal even when this tab is in the background
      </p>
      <p className="hint">
        Your browser shows a short notice (never an amount) when a deal is made, a proposal is put to your
        side or someone asks for the mediator, while this tab is hidden. Your browser will ask you to allow
        it.
      </p>
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={asking}
          onClick={async () => {
            setAsking(true);
            setPermission(await askNotificationPermission());
            setAsking(false);
          }}
        >
          Turn on
        </button>
        <button
          type="button"
          onClick={() => {
            rememberNotNow();
            setDismissed(true);
          }}
        >
          Not now
        </button>
        <Link href="/settings/notifications" className="quiet-link">
          Notification settings
        </Link>
      </div>
    </aside>
  );
}
