// The session's rules in plain sentences, with the neutral rounding table. Open before anyone bids.
import { describeRoundingTable } from "@backchannel/common";
import { useState } from "react";
import { rulesSentences } from "../../lib/windows";
import type { PanelProps } from "./context";

export function RulesPanel({ view, deadline }: PanelProps) {
  const ownEntered =
    view.numbers.own?.amount != null || (view.viewer.side !== null && view.numbers[view.viewer.side].entered);
  const beforeBidding =
    view.phase === "setup" || (view.viewer.side !== null && !ownEntered && view.phase !== "ended");
  // Open while the rules matter most (before this viewer bids), unless the viewer chose otherwise.
  const [chosen, setChosen] = useState<boolean | null>(null);
  const open = chosen ?? beforeBidding;
  const rows = describeRoundingTable(view.rules.currency).map((row) => {
    const [range, step] = row.split(": ");
    return { range: range ?? row, step: (step ?? "").replace(/^to the nearest /, "") };
  });
  // The rounding sentence is shown as a table instead.
  // The proposal windows as they really are: capped by the end of Step 3 (no "7 days to accept" in a 30-minute day).
  const sentences = rulesSentences(
    view,
    view.deadlines.step3ClosesAt !== null ? deadline(view.deadlines.step3ClosesAt) : null,
  ).filter((s) => !s.startsWith("Rounding table"));
  return (
    <section className="panel rules" aria-labelledby="rules-title">
      <h2 id="rules-title">
        <button type="button" className="disclosure" aria-expanded={open} onClick={() => setChosen(!open)}>
          The rules of this session
        </button>
      </h2>
      {!open && (
        <p className="hint">
          {view.phase === "setup"
            ? "They are fixed when Step 2 opens."
            : "They were fixed when Step 2 opened."}{" "}
          Select the heading to read them.
        </p>
      )}
      {open && (
        <div className="rules-body">
          {view.viewer.side !== null && (
            <p className="lead">
              Your side enters one confidential number. Neither the other side nor the mediator ever sees it.
              The system compares the two numbers by these rules:
            </p>
          )}
          <ol>
            {sentences.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ol>
          <table className="rounding">
            <caption>
              Neutral rounding table for a deal amount drawn at random ({view.rules.currency})
            </caption>
            <thead>
              <tr>
                <th scope="col">Drawn amount</th>
                <th scope="col">Rounded to the nearest</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.range}>
                  <td>{r.range}</td>
                  <td>{r.step}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
