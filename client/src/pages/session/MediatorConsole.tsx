// The mediator's controls: answer knocks, say where you are, open the joint room, put a mediator's proposal.
// The mediator sees that numbers were entered and when, never what they are.
import type { MediatorLocation } from "@backchannel/common";
import { parseAmount } from "@backchannel/common";
import { type FormEvent, useId, useState } from "react";
import { useConfirm } from "../../components/ConfirmDialog";
import { ErrorLine } from "../../components/ErrorLine";
import { Field } from "../../components/Field";
import { mediatorProposalWords } from "../../lib/confirmWords";
import { useRoomSwitch } from "../../lib/roomSwitch";
import { formatCountdown } from "../../lib/time";
import { useCommand } from "../../lib/useCommand";
import { answerByFor, answerWindowChoices, defaultAnswerWindow, windowValue } from "../../lib/windows";
import { LOCATION_CHOICES, locationPhrase, sideName } from "../../lib/words";
import { pendingKnocks } from "../../session/feed";
import type { PanelProps } from "./context";

/** Today's (or, if passed, tomorrow's) epoch ms for an <input type="time"> value. */
export function timeInputToEpoch(value: string, now: number): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(value);
  if (!m) return null;
  const d = new Date(now);
  d.setHours(Number(m[1]), Number(m[2]), 0, 0);
  if (d.getTime() <= now) d.setDate(d.getDate() + 1);
  return d.getTime();
}

export function MediatorConsole(p: PanelProps) {
  const { view } = p;
  const knocks = pendingKnocks(p.log);
  const location = useCommand();
  const ended = view.phase === "ended";

  return (
    <section className="panel console" aria-labelledby="console-title">
      <h2 id="console-title">Mediator console</h2>

      {knocks.length > 0 && (
        <div className="knocks" role="alert">
          {knocks.map((k) => (
            <p key={k.side}>
              <strong>{sideName(k.side)} asked for you</strong> at {p.clock(k.at)} ({p.nameOf(k.by)}).{" "}
              <button
                type="button"
                disabled={location.busy}
                onClick={async () => {
                  const moved = await location.run({
                    type: "SetMediatorLocation",
                    location: k.side === "claimant" ? "with_claimant" : "with_respondent",
                    until: null,
                    note: null,
                  });
                  // The Rooms panel follows: the caucus with that side.
                  if (moved) useRoomSwitch.getState().show(`caucus:${k.side}`);
                }}
              >
                Go to the {k.side} side
              </button>
            </p>
          ))}
        </div>
      )}

      <div className="numbers-status">
        <h3>Confidential numbers</h3>
        <p className="hint">
          You never see them. You see only whether and when each side entered or changed its number.
        </p>
        <ul>
          {(["claimant", "respondent"] as const).map((side) => {
            const s = view.numbers[side];
            return (
              <li key={side}>
                <strong>{sideName(side)}:</strong>{" "}
                {s.entered
                  ? `entered${s.lastChangedAt !== null ? `, last change at ${p.clock(s.lastChangedAt)}` : ""}`
                  : "not entered yet"}
              </li>
            );
          })}
        </ul>
      </div>

      {!ended && <LocationForm {...p} />}
      <ErrorLine error={location.error} />
      {!ended && <JointRoomSwitch {...p} />}
      {!ended && <MediatorProposal {...p} />}
    </section>
  );
}

function LocationForm(p: PanelProps) {
  const { view } = p;
  const cmd = useCommand();
  const [where, setWhere] = useState<MediatorLocation>(view.mediator?.location ?? "private");
  const [until, setUntil] = useState("");
  const [note, setNote] = useState("");
  const m = view.mediator;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const untilAt = until ? timeInputToEpoch(until, Date.now()) : null;
    if (
      await cmd.run({
        type: "SetMediatorLocation",
        location: where,
        until: untilAt,
        note: note.trim() || null,
      })
    ) {
      setUntil("");
      setNote("");
    }
  };

  return (
    <form className="form location" onSubmit={submit}>
      <h3>Where you are</h3>
      <p>
        Parties now see: the mediator is{" "}
        <strong>
          {m ? locationPhrase(m.location, null, m.until ? p.clock(m.until) : null) : "not in a room yet"}
        </strong>
        {m?.note ? ` — “${m.note}”` : ""}. Each side sees “with you” or “with the other side”, never what is
        said.
      </p>
      <div className="row wrap">
        <Field label="I am">
          {(id) => (
            <select id={id} value={where} onChange={(e) => setWhere(e.target.value as MediatorLocation)}>
              {LOCATION_CHOICES.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Until about" hint="(optional)">
          {(id) => <input id={id} type="time" value={until} onChange={(e) => setUntil(e.target.value)} />}
        </Field>
        <Field label="Note for everyone" hint="(optional)" className="grow">
          {(id) => (
            <input
              id={id}
              value={note}
              maxLength={1000}
              onChange={(e) => setNote(e.target.value)}
              placeholder="Back after lunch"
            />
          )}
        </Field>
      </div>
      <button type="submit" disabled={cmd.busy}>
        Update where I am
      </button>
      <ErrorLine error={cmd.error} />
    </form>
  );
}

function JointRoomSwitch({ view }: PanelProps) {
  const cmd = useCommand();
  return (
    <div className="joint-switch">
      <h3>Joint room</h3>
      <p>
        The joint room is <strong>{view.jointRoomOpen ? "open" : "closed"}</strong>.{" "}
        {view.jointRoomOpen ? "Everyone can read and post there." : "Open it for a joint session."}
      </p>
      <button
        type="button"
        disabled={cmd.busy}
        onClick={() => cmd.run({ type: view.jointRoomOpen ? "CloseJointRoom" : "OpenJointRoom" })}
      >
        {view.jointRoomOpen ? "Close the joint room" : "Open the joint room"}
      </button>
      <ErrorLine error={cmd.error} />
    </div>
  );
}

function MediatorProposal(p: PanelProps) {
  const { view } = p;
  const cmd = useCommand();
  const confirm = useConfirm();
  const capId = useId();
  const [amount, setAmount] = useState("");
  // "You have 30 minutes": a span, turned into a time only when the proposal is put. Only spans that end before
  // Step 3 does are offered.
  const endsAt = view.deadlines.step3ClosesAt ?? view.deadlines.sessionEndsAt;
  const windows = answerWindowChoices(p.now, endsAt);
  const [chosen, setChosen] = useState<string | null>(null);
  const choice =
    windows.choices.find((c) => windowValue(c) === chosen) ?? defaultAnswerWindow(windows.choices) ?? null;
  const parsed = amount.trim() ? parseAmount(amount, view.rules.currency) : null;
  const proposal = view.proposal;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!parsed?.ok || !choice || cmd.busy || confirm.open) return;
    const cents = parsed.amount;
    const window = choice;
    const preview = answerByFor(window, Date.now(), endsAt);
    confirm.ask(mediatorProposalWords(p.money(cents), p.deadline(preview), window.label), async () => {
      const answerBy = answerByFor(window, Date.now(), endsAt);
      if (await cmd.run({ type: "PutMediatorProposal", amount: cents, answerBy })) setAmount("");
    });
  };

  return (
    <div className="mediator-proposal">
      <h3>Mediator's proposal</h3>
      {proposal ? (
        <>
          <p>
            {proposal.kind === "smart"
              ? "A smart proposal is with the parties. You do not see its amount: it hints at both numbers."
              : `Your proposal of ${proposal.amount != null ? p.money(proposal.amount) : "—"} is with the parties.`}{" "}
            Answers due by {p.deadline(proposal.answerBy)} ({formatCountdown(proposal.answerBy - p.now)}{" "}
            left).
          </p>
          <p>
            Each side answers privately. You will learn only whether it was accepted, never who answered or
            who said no.
          </p>
        </>
      ) : view.phase !== "step3" ? (
        <p className="hint">You can put a proposal to both sides in Step 3 (live bidding).</p>
      ) : (
        <form className="form" onSubmit={submit}>
          <p className="hint">
            Each side accepts or rejects privately. Both accept: a deal. Otherwise everyone, you included,
            learns only “not accepted”.
          </p>
          <div className="row wrap">
            <label>
              Proposed amount ({view.rules.currency})
              <input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
            </label>
            <Field label="Each side answers within">
              {(id) => (
                <select
                  id={id}
                  value={choice ? windowValue(choice) : ""}
                  onChange={(e) => setChosen(e.target.value)}
                  aria-describedby={windows.capped ? capId : undefined}
                >
                  {windows.choices.map((c) => (
                    <option key={windowValue(c)} value={windowValue(c)}>
                      {c.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          {windows.capped && endsAt !== null && (
            <p className="hint" id={capId} data-testid="answer-window-capped">
              Step 3 ends {p.deadline(endsAt)}: only answer windows that end by then are offered.
            </p>
          )}
          {parsed && !parsed.ok && <p className="error">{parsed.message}</p>}
          <button type="submit" disabled={!parsed?.ok || !choice || cmd.busy}>
            Put {parsed?.ok ? p.money(parsed.amount) : "this proposal"} to both sides
          </button>
        </form>
      )}
      <ErrorLine error={cmd.error} />
      {confirm.element}
    </div>
  );
}
