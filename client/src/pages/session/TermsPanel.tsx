// Step 1: the non-money terms, versioned. Sides approve a version or choose to settle the terms later.
import type { Side } from "@backchannel/common";
import { hasTermsBlank, TERMS_BLANK_EXAMPLE } from "@backchannel/common";
import { useId, useState } from "react";
import { useConfirm } from "../../components/ConfirmDialog";
import { ErrorLine } from "../../components/ErrorLine";
import { approveTermsWords } from "../../lib/confirmWords";
import { useCommand } from "../../lib/useCommand";
import { otherSideOf, sideName } from "../../lib/words";
import type { PanelProps } from "./context";

function sideTermsStatus(p: PanelProps, side: Side): string {
  const { terms } = p.view;
  if (terms.skipped[side]) return "chose to settle the terms later";
  const approved = terms.approvals[side];
  if (approved !== undefined) return `approved version ${approved}`;
  if (!p.view.members.some((m) => m.role === side)) return "has not joined yet";
  return "has not decided yet";
}

export function TermsPanel(p: PanelProps) {
  const { view } = p;
  const { terms, viewer } = view;
  const cmd = useCommand();
  const confirm = useConfirm();
  const id = useId();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState("");
  const open = view.phase === "setup" && terms.closed === null;
  const actsForSide = viewer.side !== null && viewer.canBid;
  const ownSide = viewer.side;
  const ownApproved = ownSide !== null && terms.approvals[ownSide] === terms.version;
  const ownSkipped = ownSide !== null && terms.skipped[ownSide] === true;

  const save = async () => {
    if (await cmd.run({ type: "EditTerms", baseVersion: terms.version, text: draft })) setEditing(false);
  };

  return (
    <section className="panel terms" aria-labelledby="terms-title">
      <h2 id="terms-title">Step 1 — terms (everything except the amount)</h2>
      {terms.closed === "approved" && (
        <p className="ok">Step 1 is closed: both sides approved version {terms.version}.</p>
      )}
      {terms.closed === "skipped" && <p className="ok">Step 1 is closed: the terms will be settled later.</p>}
      <ul className="side-status">
        {(["claimant", "respondent"] as const).map((side) => (
          <li key={side}>
            <strong>{sideName(side)}:</strong> {sideTermsStatus(p, side)}
          </li>
        ))}
      </ul>

      {editing ? (
        <div className="form">
          <label>
            Terms text (version {terms.version + 1} when saved)
            <textarea
              rows={10}
              value={draft}
              aria-describedby={`${id}-blank ${id}-blank-state`}
              onChange={(e) => setDraft(e.target.value)}
            />
          </label>
          <p className="hint" id={`${id}-blank`}>
            Mark where the settlement amount goes with <code>{TERMS_BLANK_EXAMPLE}</code>; at a deal it is
            filled in.
          </p>
          <p className={hasTermsBlank(draft) ? "ok" : "notice"} id={`${id}-blank-state`} aria-live="polite">
            {hasTermsBlank(draft)
              ? `This draft has a blank for the amount (${TERMS_BLANK_EXAMPLE}).`
              : `This draft has no blank for the amount yet: type ${TERMS_BLANK_EXAMPLE} where it goes.`}
          </p>
          <p className="hint">Saving a new version withdraws any approval of the current one.</p>
          <div className="actions">
            <button type="button" className="primary" disabled={cmd.busy} onClick={save}>
              Save as a new version
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Discard changes
            </button>
          </div>
        </div>
      ) : (
        <>
          <p className="hint">
            Version {terms.version}
            {terms.editedBy ? `, last edited by ${p.nameOf(terms.editedBy)}` : ""}
          </p>
          {terms.text ? (
            // Scrolls when long: focusable so keyboard users can scroll it, and named for screen readers.
            <section
              className="terms-text"
              // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
              tabIndex={0}
              aria-label={`Terms, version ${terms.version}`}
            >
              {terms.text}
            </section>
          ) : (
            <p className="hint">No terms text yet.</p>
          )}
        </>
      )}

      {open && !editing && (
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              setDraft(terms.text);
              setEditing(true);
            }}
          >
            Edit the terms
          </button>
          {actsForSide && (
            <button
              type="button"
              className="primary"
              disabled={cmd.busy || ownApproved}
              onClick={() => {
                const other = otherSideOf(ownSide!);
                const version = terms.version;
                confirm.ask(approveTermsWords(version, other, terms.approvals[other] === version), () =>
                  cmd.run({ type: "ApproveTerms", version }),
                );
              }}
            >
              {ownApproved
                ? `Your side approved version ${terms.version}`
                : `Approve version ${terms.version}`}
            </button>
          )}
          {actsForSide && (
            <button
              type="button"
              disabled={cmd.busy || ownSkipped}
              onClick={() => cmd.run({ type: "SkipTerms" })}
            >
              {ownSkipped ? "Your side chose to settle later" : "Skip: terms settled later"}
            </button>
          )}
        </div>
      )}
      {open && viewer.side !== null && !viewer.canBid && (
        <p className="hint">View-only members can edit the draft but cannot approve or skip for the side.</p>
      )}
      {open && viewer.role === "mediator" && (
        <p className="hint">As mediator you can draft and edit the terms; only the sides approve them.</p>
      )}
      <ErrorLine error={cmd.error} />
      {confirm.element}
    </section>
  );
}
