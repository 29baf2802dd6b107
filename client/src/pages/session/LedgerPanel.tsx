// The conveyed-offer ledger: positions said aloud in the traditional mediation, recorded by the mediator.
// Labelled everywhere so nobody confuses them with the confidential numbers running in the background.
// biome-ignore-all lint/a11y/noRedundantRoles: the rounds table states its roles, since on narrow screens its rows are laid out as cards and some browsers drop table semantics when CSS changes a table's display
import type { LedgerItemState, LedgerItemView, Side } from "@backchannel/common";
import { LEDGER_TRANSITIONS, parseAmount } from "@backchannel/common";
import { type FormEvent, useId, useState } from "react";
import { ErrorLine } from "../../components/ErrorLine";
import { Field } from "../../components/Field";
import { ledgerFileName, roundsCsv } from "../../lib/csv";
import {
  chartSeries,
  type LedgerRound,
  ledgerRounds,
  midpointOf,
  type RoundMove,
} from "../../lib/ledgerRounds";
import { useCommand } from "../../lib/useCommand";
import { ledgerActionLabel, ledgerStateWords, sideName } from "../../lib/words";
import type { PanelProps } from "./context";
import { LedgerChart } from "./LedgerChart";
import "./ledger.css";

export const LEDGER_TITLE = "Conveyed offers — the traditional negotiation (not the confidential numbers)";

/** "Respondent offers $10,000.00" / "Claimant: “we go to $80,000.00 if you go to $60,000.00”" */
export function ledgerItemText(item: LedgerItemView["item"], money: (c: number) => string): string {
  if (item.kind === "conveyed") {
    return `${sideName(item.from)} ${item.from === "claimant" ? "demands" : "offers"} ${money(item.amount)}`;
  }
  return `${sideName(item.from)}: “we go to ${money(item.ourAmount)} if you go to ${money(item.theirAmount)}”`;
}

/** A bracket's midpoint, in whole minor units: a signal of where the bracket points, nothing more. */
export function bracketMidpoint(ourAmount: number, theirAmount: number): number {
  return midpointOf(ourAmount, theirAmount);
}

/** `scrolls`: the panel is a column of the mediator's desk that scrolls on its own (focusable, for the keyboard). */
export function LedgerPanel({ scrolls = false, ...p }: PanelProps & { scrolls?: boolean }) {
  const { view } = p;
  const isMediator = view.viewer.role === "mediator";
  const items = view.ledger;
  return (
    <section
      className="panel ledger"
      aria-labelledby="ledger-title"
      // a scrollable region must be reachable by keyboard
      tabIndex={scrolls ? 0 : undefined}
    >
      <h2 id="ledger-title">{LEDGER_TITLE}</h2>
      <p className="hint">
        What the mediator has conveyed between the sides. Visible to both sides and the mediator. These are
        negotiating positions, separate from each side's confidential number.
      </p>
      <OfferTracker {...p} />
      {items.length === 0 ? (
        <p className="hint">Nothing conveyed yet.</p>
      ) : (
        <>
          <h3>Everything recorded</h3>
          <ol className="ledger-items">
            {items.map((l) => (
              <LedgerRow
                key={l.itemId}
                item={l}
                all={items}
                p={p}
                canEdit={isMediator && view.phase !== "ended"}
              />
            ))}
          </ol>
        </>
      )}
      {isMediator && view.phase !== "ended" && <RecordForms {...p} />}
    </section>
  );
}

/**
 * The offer tracker: the conveyed demands and offers by round (lib/ledgerRounds.ts has the round rule), the
 * convergence chart, and the rounds as CSV. Brackets are not in it.
 */
function OfferTracker(p: PanelProps) {
  const tableId = useId();
  const rounds = ledgerRounds(p.view.ledger);
  if (rounds.length === 0) return null;
  const currency = p.view.rules.currency;
  const download = () => {
    // A byte-order mark, so spreadsheets read the notes' UTF-8 (curly quotes, accents) as such.
    const blob = new Blob(["\uFEFF", roundsCsv(rounds, currency)], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = ledgerFileName(p.view.title);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <div className="offer-tracker">
      <h3>Offer tracker</h3>
      <p className="hint">
        Each round is one exchange: a side's conveyed demand or offer, and the other side's answer. Gap and
        midpoint are between the latest demand and the latest offer. Brackets are not counted here.
      </p>
      <div className="rounds-wrap">
        {/* The explicit roles keep the table a table for screen readers where narrow screens lay rows out as cards. */}
        <table className="rounds" id={tableId} role="table">
          <caption className="visually-hidden">Conveyed demands and offers by round ({currency})</caption>
          <thead role="rowgroup">
            <tr role="row">
              <th scope="col" role="columnheader">
                Round
              </th>
              <th scope="col" role="columnheader">
                Demand
              </th>
              <th scope="col" role="columnheader">
                Offer
              </th>
              <th scope="col" role="columnheader">
                Gap
              </th>
              <th scope="col" role="columnheader">
                Midpoint <span className="signal">(signal only)</span>
              </th>
              <th scope="col" role="columnheader">
                Time
              </th>
            </tr>
          </thead>
          <tbody role="rowgroup">
            {rounds.map((r) => (
              <RoundRow key={r.number} r={r} p={p} last={r.number === rounds.length} />
            ))}
          </tbody>
        </table>
      </div>
      <LedgerChart series={chartSeries(p.view.ledger)} money={p.money} clock={p.clock} tableId={tableId} />
      <div className="actions small">
        <button type="button" onClick={download}>
          Download CSV
        </button>
      </div>
    </div>
  );
}

function RoundRow({ r, p, last }: { r: LedgerRound; p: PanelProps; last: boolean }) {
  const position = (move: RoundMove | null, standing: number | null) => {
    if (move) {
      return (
        <>
          <span className="amount">{p.money(move.amount)}</span>
          {move.state !== "conveyed" && <span className="qual">({ledgerStateWords(move.state)})</span>}
        </>
      );
    }
    if (standing !== null) {
      return (
        <span className="unchanged">
          <span className="amount">{p.money(standing)}</span> <span className="qual">(unchanged)</span>
        </span>
      );
    }
    return <span className="none">—</span>;
  };
  const gap =
    r.gap === null ? (
      <span className="none">—</span>
    ) : r.gap > 0 ? (
      <span className="amount">{p.money(r.gap)}</span>
    ) : r.gap === 0 ? (
      <strong className="met">none: the positions meet</strong>
    ) : (
      <strong className="met">
        crossed by <span className="amount">{p.money(-r.gap)}</span>
      </strong>
    );
  const answer =
    r.answeredAt !== null ? (
      <span className="answered">→ {p.clock(r.answeredAt)}</span>
    ) : (
      <span className="waiting">
        {last ? "waiting for an answer" : "no answer: the same side moved again"}
      </span>
    );
  return (
    <tr role="row">
      <th scope="row" role="rowheader">
        Round {r.number} <span className="opened">{sideName(r.openedBy)} first</span>
      </th>
      <td role="cell" data-label="Demand">
        {position(r.demand, r.standingDemand)}
      </td>
      <td role="cell" data-label="Offer">
        {position(r.offer, r.standingOffer)}
      </td>
      <td role="cell" data-label="Gap">
        {gap}
      </td>
      <td role="cell" data-label="Midpoint (signal only)">
        {r.midpoint === null ? (
          <span className="none">—</span>
        ) : (
          <span className="amount">{p.money(r.midpoint)}</span>
        )}
      </td>
      <td role="cell" data-label="Time">
        <span className="opened-at">{p.clock(r.openedAt)}</span> {answer}
      </td>
    </tr>
  );
}

function LedgerRow({
  item,
  all,
  p,
  canEdit,
}: {
  item: LedgerItemView;
  all: LedgerItemView[];
  p: PanelProps;
  canEdit: boolean;
}) {
  const cmd = useCommand();
  const countered = item.counters ? all.find((l) => l.itemId === item.counters) : undefined;
  const next = LEDGER_TRANSITIONS[item.state];
  return (
    <li className={`ledger-item state-${item.state}`}>
      <p>
        <strong>{ledgerItemText(item.item, p.money)}</strong>{" "}
        <span className="state">— {ledgerStateWords(item.state)}</span>
      </p>
      {item.item.kind === "bracket" && (
        <p className="hint">
          Midpoint {p.money(bracketMidpoint(item.item.ourAmount, item.item.theirAmount))}{" "}
          <em>(signal only)</em>
        </p>
      )}
      {countered && <p className="hint">In answer to: {ledgerItemText(countered.item, p.money)}</p>}
      {item.note && <p className="note">“{item.note}”</p>}
      <p className="hint">Recorded at {p.clock(item.recordedAt)}</p>
      {canEdit && next.length > 0 && (
        <div className="actions small">
          {next.map((state: LedgerItemState) => (
            <button
              key={state}
              type="button"
              disabled={cmd.busy}
              onClick={() => cmd.run({ type: "UpdateLedgerItem", itemId: item.itemId, state })}
            >
              {ledgerActionLabel(state)}
            </button>
          ))}
        </div>
      )}
      <ErrorLine error={cmd.error} />
    </li>
  );
}

function RecordForms(p: PanelProps) {
  const [kind, setKind] = useState<"conveyed" | "bracket">("conveyed");
  const [from, setFrom] = useState<Side>("respondent");
  const [amount, setAmount] = useState("");
  const [theirAmount, setTheirAmount] = useState("");
  const [note, setNote] = useState("");
  const [counters, setCounters] = useState("");
  const cmd = useCommand();
  const currency = p.view.rules.currency;
  const a = amount.trim() ? parseAmount(amount, currency) : null;
  const b = theirAmount.trim() ? parseAmount(theirAmount, currency) : null;
  const counterable = p.view.ledger.filter(
    (l) => l.item.from !== from && LEDGER_TRANSITIONS[l.state].includes("countered"),
  );
  const ready = a?.ok && (kind === "conveyed" || b?.ok);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!a?.ok) return;
    const common = { from, note: note.trim() || null, counters: counters || null };
    const ok =
      kind === "conveyed"
        ? await cmd.run({ type: "RecordConveyed", amount: a.amount, ...common })
        : b?.ok
          ? await cmd.run({ type: "RecordBracket", ourAmount: a.amount, theirAmount: b.amount, ...common })
          : false;
    if (ok) {
      setAmount("");
      setTheirAmount("");
      setNote("");
      setCounters("");
    }
  };

  return (
    <form className="form record" onSubmit={submit}>
      <h3>Record what you conveyed</h3>
      <div className="row wrap">
        <Field label="Kind">
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.target.value as "conveyed" | "bracket")}>
              <option value="conveyed">Offer or demand</option>
              <option value="bracket">Bracket (“we go to X if you go to Y”)</option>
            </select>
          )}
        </Field>
        <Field label="From">
          {(id) => (
            <select id={id} value={from} onChange={(e) => setFrom(e.target.value as Side)}>
              <option value="claimant">Claimant</option>
              <option value="respondent">Respondent</option>
            </select>
          )}
        </Field>
        <label>
          {kind === "conveyed" ? `Amount conveyed (${currency})` : `We go to (${currency})`}
          <input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
        </label>
        {kind === "bracket" && (
          <label>
            If you go to ({currency})
            <input inputMode="decimal" value={theirAmount} onChange={(e) => setTheirAmount(e.target.value)} />
          </label>
        )}
      </div>
      {a && !a.ok && <p className="error">{a.message}</p>}
      {b && !b.ok && kind === "bracket" && <p className="error">{b.message}</p>}
      {kind === "bracket" && a?.ok && b?.ok && (
        <p className="hint">
          Midpoint {p.money(bracketMidpoint(a.amount, b.amount))} (signal only). A bracket starts as drafted;
          mark it conveyed once you have put it to the other side.
        </p>
      )}
      <div className="row wrap">
        <Field label="Note" hint="(optional)" className="grow">
          {(id) => <input id={id} value={note} maxLength={1000} onChange={(e) => setNote(e.target.value)} />}
        </Field>
        {counterable.length > 0 && (
          <Field label="In answer to" hint="(optional)">
            {(id) => (
              <select id={id} value={counters} onChange={(e) => setCounters(e.target.value)}>
                <option value="">—</option>
                {counterable.map((l) => (
                  <option key={l.itemId} value={l.itemId}>
                    {ledgerItemText(l.item, p.money)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
      </div>
      <p className="hint">
        {kind === "conveyed"
          ? "Both sides will see this entry, labelled as a conveyed position."
          : `Who will see this: you and the ${from} side, as a draft. The other side sees it only when you mark it conveyed.`}
      </p>
      <button type="submit" disabled={!ready || cmd.busy}>
        Record in the ledger
      </button>
      <ErrorLine error={cmd.error} />
    </form>
  );
}
