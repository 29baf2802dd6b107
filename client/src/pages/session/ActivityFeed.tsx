// The live activity feed, built only from the events this viewer received (so never a confidential number).
import { buildFeed } from "../../session/feed";
import { headsFile } from "../../session/heads";
import type { PanelProps } from "./context";

export function ActivityFeed(p: PanelProps) {
  const { view } = p;
  const items = buildFeed(p.log, {
    members: view.members,
    viewer: { userId: view.viewer.userId, side: view.viewer.side },
    currency: view.rules.currency,
    clock: p.clock,
    deadline: p.deadline,
  });
  return (
    <section className="panel feed" aria-labelledby="feed-title">
      <h2 id="feed-title">Activity</h2>
      {/* The live region wraps the list, so the list keeps its list semantics (an <ol role="log"> loses them). */}
      <div role="log" aria-live="polite" aria-relevant="additions" aria-labelledby="feed-title">
        {/* Scrolls when long: focusable so keyboard users can scroll it, and named. */}
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
        <ol className="feed-items" tabIndex={0} aria-label="Activity, newest first">
          {items.map((item) => (
            <li key={item.version} className={`tone-${item.tone}`}>
              <span className="when">{p.clock(item.at)}</span> {item.text}
            </li>
          ))}
          {items.length === 0 && <li className="hint">Nothing has happened yet.</li>}
        </ol>
      </div>
      {!p.logComplete && items.length > 0 && <p className="hint">Earlier activity is not shown.</p>}
      <p className="hint">
        <a href={`/api/sessions/${encodeURIComponent(view.id)}/audit`} download>
          Download the audit record
        </a>{" "}
        (every step you may see, hash-chained and signed by the server; it records that numbers changed, never
        the numbers) and{" "}
        <a
          href={`data:application/json;charset=utf-8,${encodeURIComponent(headsFile(view.id))}`}
          download={`backchannel-heads-${view.id}.json`}
        >
          the signed receipts this browser kept
        </a>{" "}
        (check the record against them with{" "}
        <code>npm run audit:verify -- record.json --heads receipts.json</code>).
      </p>
    </section>
  );
}
