// The settlement summary at a deal: what the PDF (GET /api/sessions/:id/settlement.pdf) and a member's deal mail say,
// built from common's settlementSummary of this member's view, with the signed head of this browser's own stream
// (session/heads.ts) as the audit record. A modal dialog over the session page (opened from the deal banner), with
// Print (window.print: settlement.css prints only this summary, black on white, no buttons) and Download PDF.
import {
  hasTermsBlank,
  type SessionView,
  type SettlementAuditHead,
  type SignedHeadWire,
  settlementSummary,
  TERMS_BLANK,
} from "@backchannel/common";
import { useEffect, useRef } from "react";
import { createPortal } from "react-dom";
import { savedHeads } from "../../session/heads";
import "./settlement.css";

/** Where the PDF of a session's settlement summary is downloaded from (the browser sends the sign-in cookie). */
export function settlementPdfUrl(sessionId: string): string {
  return `/api/sessions/${encodeURIComponent(sessionId)}/settlement.pdf`;
}

/** The newest head this browser kept of its own role's stream, or null. */
export function ownStreamHead(heads: readonly SignedHeadWire[], view: Pick<SessionView, "id" | "viewer">) {
  let newest: SettlementAuditHead | null = null;
  for (const h of heads) {
    if (h.sessionId !== view.id || h.stream !== view.viewer.role) continue;
    if (!newest || h.position > newest.position)
      newest = { stream: h.stream, position: h.position, head: h.head };
  }
  return newest;
}

/**
 * The terms with the amount in its place, as pieces: the amount marked, so the page can show it. Joined, the pieces
 * are exactly common's fillTermsBlank(terms, amount), the text the PDF and the mail print.
 */
export function termsPieces(terms: string, amount: string): Array<{ text: string; amount: boolean }> {
  if (!hasTermsBlank(terms)) {
    const lead = `${terms.trimEnd()}${terms.trim() ? "\n" : ""}Amount: `;
    return [
      { text: lead, amount: false },
      { text: amount, amount: true },
    ];
  }
  const pieces: Array<{ text: string; amount: boolean }> = [];
  let last = 0;
  for (const m of terms.matchAll(new RegExp(TERMS_BLANK.source, "g"))) {
    const at = m.index ?? 0;
    if (at > last) pieces.push({ text: terms.slice(last, at), amount: false });
    pieces.push({ text: amount, amount: true });
    last = at + m[0].length;
  }
  if (last < terms.length) pieces.push({ text: terms.slice(last), amount: false });
  return pieces;
}

export function SettlementSummary(props: { view: SessionView; onClose(): void }) {
  const { view, onClose } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const summary = settlementSummary(view, ownStreamHead(savedHeads(view.id), view));

  useEffect(() => {
    // Modal: focus moves in, the page behind is inert, Escape closes. Unmounting removes it from the top layer.
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  if (!summary) return null;
  return createPortal(
    <div className="settlement-root">
      <dialog
        ref={dialog}
        className="settlement-dialog"
        aria-labelledby="settlement-title"
        onClose={onClose}
        data-testid="settlement-summary"
      >
        <div className="settlement-actions">
          <button type="button" className="primary" onClick={() => window.print()}>
            Print
          </button>
          <a className="button" href={settlementPdfUrl(view.id)} download>
            Download PDF
          </a>
          <button type="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </div>
        <article className="settlement-doc">
          <p className="settlement-kicker">Settlement summary</p>
          <h2 id="settlement-title">{summary.title}</h2>
          <p className="settlement-amount-label">Settlement amount</p>
          <p className="settlement-amount" data-testid="settlement-amount">
            {summary.amount}
          </p>
          <dl className="settlement-facts">
            <dt>How the deal was made</dt>
            <dd>{summary.how}.</dd>
            {summary.bonus && (
              <>
                <dt>Bonus</dt>
                <dd>{summary.bonus}</dd>
              </>
            )}
            <dt>When</dt>
            <dd>{summary.when}</dd>
            <dt>Session started</dt>
            <dd>{summary.started}</dd>
          </dl>

          <h3>Parties</h3>
          <ul>
            {summary.parties.map((party, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: two members may share a name and role
              <li key={i}>
                {party.name} ({party.roleLabel})
              </li>
            ))}
          </ul>

          <h3>Terms</h3>
          <p>{summary.terms.heading}</p>
          <blockquote
            className={summary.terms.status === "agreed" ? "settlement-terms" : "settlement-terms draft"}
            data-testid="settlement-terms"
          >
            {termsPieces(view.terms.text, summary.amount).map((piece, i) =>
              piece.amount ? (
                // biome-ignore lint/suspicious/noArrayIndexKey: pieces of one fixed text, in order
                <strong key={i} className="settlement-filled">
                  {piece.text}
                </strong>
              ) : (
                // biome-ignore lint/suspicious/noArrayIndexKey: pieces of one fixed text, in order
                <span key={i}>{piece.text}</span>
              ),
            )}
          </blockquote>

          <h3>Rules of the session</h3>
          <ul>
            {summary.rules.map((rule) => (
              <li key={rule}>{rule}</li>
            ))}
          </ul>

          {summary.audit && (
            <>
              <h3>Audit record</h3>
              <p>{summary.audit.label}</p>
              <p className="settlement-hash">{summary.audit.hash}</p>
              <p className="settlement-note">
                The server signed this head of the hash chain of your stream of events; npm run audit:verify
                checks an audit export against it.
              </p>
            </>
          )}
          <p className="settlement-note">Neither side's confidential number appears in this summary.</p>
        </article>
      </dialog>
    </div>,
    document.body,
  );
}
