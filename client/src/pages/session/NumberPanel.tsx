// The side's confidential number: what it is now, changing it, its history, and the other side's activity
// (never its value). Only the own side ever receives the amount shown here.
import { parseAmount } from "@backchannel/common";
import { type FormEvent, useId, useState } from "react";
import { useConfirm } from "../../components/ConfirmDialog";
import { ErrorLine } from "../../components/ErrorLine";
import { setNumberWords, withdrawWords } from "../../lib/confirmWords";
import { useCommand } from "../../lib/useCommand";
import { numberMeaning, numberName, otherSideOf, sideName } from "../../lib/words";
import { ownNumberHistory, sideActivity } from "../../session/feed";
import type { PanelProps } from "./context";

export function NumberPanel(p: PanelProps) {
  const { view } = p;
  const side = view.viewer.side;
  if (side === null) return null;
  const own = view.numbers.own;
  const other = otherSideOf(side);
  const bidding = view.phase === "step2" || view.phase === "step3";
  const paused = view.phase === "step3" && (view.request !== null || view.proposal?.kind === "smart");

  return (
    <section className="panel confidential" aria-labelledby="number-title">
      <h2 id="number-title">
        Your side's confidential {numberName(side)} <span className="badge">Only your side can see this</span>
      </h2>
      <p className="lead">{numberMeaning(side)}</p>

      <div className="own-number" data-testid="own-number">
        {own?.amount != null ? (
          <p>
            Your side's number: <strong className="amount">{p.money(own.amount)}</strong>{" "}
            <span className="hint">— only your side can see this</span>
          </p>
        ) : view.phase === "ended" && own?.setAt != null && !view.deal ? (
          <p>The numbers were destroyed when the session ended without a deal.</p>
        ) : (
          <p>Your side has not entered a number yet.</p>
        )}
        {own?.setAt != null && (
          <p className="hint">
            Set by {p.nameOf(own.setBy)} at {p.clock(own.setAt)}.
          </p>
        )}
      </div>

      {view.phase === "setup" && (
        <p>You can enter your side's number once Step 2 opens. Read the rules above first.</p>
      )}
      {bidding && view.viewer.canBid && !view.numbers[side].entered && (
        <p className="hint">Before you enter a number, read the rules of this session (below this box).</p>
      )}
      {bidding && view.viewer.canBid && paused && (
        <p className="notice">
          Live bidding is paused while a smart proposal request or a smart proposal is pending (see below).
        </p>
      )}
      {bidding && view.viewer.canBid && !paused && <NumberForm key={view.phase} {...p} />}
      {bidding && !view.viewer.canBid && (
        <p className="notice">You are view only: you can see your side's number but cannot change it.</p>
      )}
      {view.phase === "step3" && own && (
        <p>
          Changes left in the next 24 hours: <strong>{own.changesLeft}</strong> of{" "}
          {view.rules.maxChangesPerDay}
          {own.nextChangeAt !== null && <> (another change is possible at {p.clock(own.nextChangeAt)})</>}.
        </p>
      )}

      <OtherSideStatus {...p} />
      <History {...p} />
      {bidding && view.viewer.canBid && <Withdraw />}
      <p className="hint confidential-note">
        {sideName(other)} never sees your number, and you never see theirs. The mediator sees neither.
        {` `}Only whether and when a number was entered or changed is shared.
      </p>
    </section>
  );
}

function BonusNotice({ view }: PanelProps) {
  const side = view.viewer.side;
  const pct = view.rules.step3BonusPercent;
  if (side === null || pct <= 0 || view.phase === "ended") return null;
  const mine = side === "claimant" ? "lower" : "higher";
  const theirs = side === "claimant" ? "higher" : "lower";
  return (
    <p className="notice bonus" data-testid="bonus-notice">
      <strong>Early-number bonus ({pct}%).</strong> In Step 3, if a change by your side makes a deal against
      the other side's standing number, the deal amount is {pct}% {mine} than drawn (in their favour). If
      their change makes a deal against your standing number, it is {pct}% {theirs} (in your favour).
      Proposals never get the bonus.
    </p>
  );
}

function NumberForm(p: PanelProps) {
  const { view } = p;
  const side = view.viewer.side!;
  const id = useId();
  const cmd = useCommand();
  const [text, setText] = useState("");
  const [saved, setSaved] = useState(false);
  const parsed = text.trim() ? parseAmount(text, view.rules.currency) : null;
  const hasNumber = view.numbers.own?.amount != null || view.numbers[side].entered;
  const noChangesLeft = view.phase === "step3" && (view.numbers.own?.changesLeft ?? 1) === 0;
  const confirm = useConfirm();

  // Enter in the field and the button both open the confirm dialog; only its confirm button commits.
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!parsed?.ok || cmd.busy || noChangesLeft || confirm.open) return;
    const amount = parsed.amount;
    const words = setNumberWords({
      side,
      phase: view.phase === "step3" ? "step3" : "step2",
      amount: p.money(amount),
      hasNumber,
      otherEntered: view.numbers[otherSideOf(side)].entered,
      step2ClosesAt: view.deadlines.step2ClosesAt !== null ? p.deadline(view.deadlines.step2ClosesAt) : null,
      changesLeft: view.phase === "step3" ? (view.numbers.own?.changesLeft ?? null) : null,
      bonusPercent: view.rules.step3BonusPercent,
    });
    confirm.ask(words, async () => {
      setSaved(false);
      if (await cmd.run({ type: "SetNumber", amount })) {
        setText("");
        setSaved(true);
      }
    });
  };

  return (
    <form className="form number-form" onSubmit={submit}>
      <BonusNotice {...p} />
      <label htmlFor={id}>
        {hasNumber ? "Change your side's number to" : `Enter your side's ${numberName(side)}`} (
        {view.rules.currency})
      </label>
      <div className="row">
        <input
          id={id}
          name="amount"
          inputMode="decimal"
          autoComplete="off"
          placeholder="e.g. 125,000"
          aria-describedby={`${id}-preview`}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setSaved(false);
            cmd.clear();
          }}
        />
        <button type="submit" className="primary" disabled={!parsed?.ok || cmd.busy || noChangesLeft}>
          {cmd.busy ? "Saving…" : hasNumber ? "Change number" : "Enter number"}
        </button>
      </div>
      <p id={`${id}-preview`} className={parsed && !parsed.ok ? "error" : "hint"} aria-live="polite">
        {parsed === null
          ? view.phase === "step2"
            ? "You can change it as often as you like until the Step 2 deadline. Nothing is compared before then."
            : "A change is compared with the other side's number at once; a match makes a deal immediately."
          : parsed.ok
            ? `You are about to set your side's number to ${p.money(parsed.amount)}.`
            : parsed.message}
      </p>
      {saved && (
        <p className="ok" role="status">
          Saved. Only your side can see it.
        </p>
      )}
      <ErrorLine error={cmd.error} />
      {confirm.element}
    </form>
  );
}

function OtherSideStatus(p: PanelProps) {
  const { view } = p;
  const other = otherSideOf(view.viewer.side!);
  const status = view.numbers[other];
  const activity = sideActivity(p.log, other);
  let text: string;
  if (!status.entered) text = `${sideName(other)} has not entered a number yet.`;
  else if (activity.changes > 1 && status.lastChangedAt !== null)
    text = `${sideName(other)} has entered a number and changed it; last change at ${p.clock(status.lastChangedAt)}.`;
  else
    text = `${sideName(other)} has entered a number${status.lastChangedAt !== null ? ` (at ${p.clock(status.lastChangedAt)})` : ""}.`;
  return (
    <p className="other-side" data-testid="other-side-status">
      {text}
    </p>
  );
}

function History(p: PanelProps) {
  const side = p.view.viewer.side!;
  // The server's history (GET /number) is complete; the log's is what this page has seen, as a fallback.
  const history = p.view.numbers.own?.history ?? ownNumberHistory(p.log, side);
  if (history.length === 0) return null;
  return (
    <details className="history">
      <summary>Your side's changes ({history.length})</summary>
      <ol>
        {history.map((h) => (
          <li key={`${h.at}-${h.by}`}>
            {p.clock(h.at)} — Step {h.step} —{" "}
            {typeof h.amount === "number" ? p.money(h.amount) : h.amount === null ? "destroyed" : "…"} — by{" "}
            {p.nameOf(h.by)}
          </li>
        ))}
      </ol>
    </details>
  );
}

function Withdraw() {
  const cmd = useCommand();
  const confirm = useConfirm();
  return (
    <div className="withdraw">
      <button
        type="button"
        className="quiet danger-text"
        disabled={cmd.busy}
        onClick={() => confirm.ask(withdrawWords(), () => cmd.run({ type: "Withdraw" }))}
      >
        Withdraw from the negotiation…
      </button>
      <ErrorLine error={cmd.error} />
      {confirm.element}
    </div>
  );
}
