// The deal, announced to everyone the moment it is made; or how the session ended without one. The deal's banner
// stays at the top of the screen wherever the person scrolls (it can fold to one line, never go away). From it, the
// settlement summary (the terms with the amount filled in; SettlementSummary.tsx) opens, and its PDF downloads.
import { useState } from "react";
import { dealSourceWords, outcomeSentence, sideName } from "../../lib/words";
import type { PanelProps } from "./context";
import { SettlementSummary, settlementPdfUrl } from "./SettlementSummary";

export function DealBanner(p: PanelProps) {
  const { view } = p;
  const deal = view.deal;
  const [folded, setFolded] = useState(false);
  const [summaryOpen, setSummaryOpen] = useState(false);
  const ended = [...p.log].reverse().find((e) => e.event.type === "SessionEnded")?.event;
  const withdrawnBy = ended?.type === "SessionEnded" ? ended.side : null;
  return (
    // Always in the page, so assistive technology announces the deal when its text appears.
    <div className={deal ? "banner-slot has-deal" : "banner-slot"} aria-live="assertive" role="status">
      {deal ? (
        <section
          className={folded ? "deal-banner folded" : "deal-banner"}
          aria-label="Deal"
          data-testid="deal-banner"
        >
          <div className="deal-head">
            <p className="deal-amount">
              <span className="deal-kicker">Deal</span> Settled at{" "}
              <strong data-testid="deal-amount">{p.money(deal.amount)}</strong>
            </p>
            <button
              type="button"
              className="quiet deal-fold"
              aria-expanded={!folded}
              onClick={() => setFolded((f) => !f)}
            >
              {folded ? "Show details" : "Fold"}
            </button>
          </div>
          {!folded && (
            <>
              <p>
                Made {dealSourceWords(deal.source)} at {p.clock(deal.at)}.{" "}
                {deal.termsVersion !== null
                  ? `Terms: version ${deal.termsVersion}, as approved by both sides. The settlement summary shows them with this amount filled in.`
                  : "The other terms are to be settled later. The settlement summary shows the last draft, not approved, with this amount filled in."}
              </p>
              {deal.bonusPercent > 0 && deal.bonusSide && (
                <p>
                  Includes the {deal.bonusPercent}% early-number bonus in favour of the{" "}
                  {sideName(deal.bonusSide).toLowerCase()} side, whose number was standing.
                </p>
              )}
              <p className="settlement-links">
                <button type="button" onClick={() => setSummaryOpen(true)}>
                  Settlement summary
                </button>{" "}
                <a className="button" href={settlementPdfUrl(view.id)} download>
                  Download PDF
                </a>
              </p>
            </>
          )}
          {summaryOpen && <SettlementSummary view={view} onClose={() => setSummaryOpen(false)} />}
        </section>
      ) : view.phase === "ended" && view.outcome ? (
        <section className="ended-banner" aria-label="Session ended">
          <p>{outcomeSentence(view.outcome, withdrawnBy)}</p>
        </section>
      ) : null}
    </div>
  );
}
