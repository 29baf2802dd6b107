// The mediator's controls: answer knocks, say where you are, open the joint room, put a mediator's proposal.
// The mediator sees that numbers were entered and when, never what they are.
import type { MediatorLocation, SessionView, Side } from "@backchannel/common";
import { parseAmount } from "@backchannel/common";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { useConfirm } from "../../components/ConfirmDialog";
import { ErrorLine } from "../../components/ErrorLine";
import { Field } from "../../components/Field";
import { mediatorProposalWords } from "../../lib/confirmWords";
import { useRoomSwitch } from "../../lib/roomSwitch";
import { formatCountdown } from "../../lib/time";
import { useCommand } from "../../lib/useCommand";
import { answerByFor, answerWindowChoices, defaultAnswerWindow, windowValue } from "../../lib/windows";
import { LOCATION_CHOICES, locationPhrase, sideName } from "../../lib/words";
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

/** The unanswered requests for the mediator, from the view (so a page opened after a knock shows it), oldest first. */
export function knocksOf(view: Pick<SessionView, "knocks">): Array<{ side: Side; at: number; by: string }> {
  return (["claimant", "respondent"] as const)
    .flatMap((side) => {
      const k = view.knocks[side];
      return k ? [{ side, at: k.at, by: k.by }] : [];
    })
    .sort((a, b) => a.at - b.at);
}

/**
 * The console. On a phone (and below 1200 px) its parts follow one another. At the desk (`desk`, from 1200 px) it is
 * a strip above the rooms, ledger and activity: the numbers, the joint room and the proposal on one line, the knocks,
 * then where you are on one row; the proposal's form opens in place from "Propose a number…".
 */
export function MediatorConsole(p: PanelProps & { desk?: boolean }) {
  const { view, desk = false } = p;
  const knocks = knocksOf(view);
  const location = useCommand();
  const ended = view.phase === "ended";
  const [proposing, setProposing] = useState(false);
  const formId = useId();
  const canPropose = !ended && view.phase === "step3" && view.proposal === null;

  const knockList = knocks.length > 0 && (
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
  );

  if (desk) {
    return (
      <section className="panel console console-strip" aria-labelledby="console-title">
        <div className="strip-line">
          <h2 id="console-title">
            <span className="visually-hidden">Mediator </span>Console
          </h2>
          <NumbersLine {...p} />
          {!ended && <JointRoomSwitch {...p} compact />}
          {/* Before Step 3 there is no proposal to put: nothing here. */}
          {!ended && (canPropose || view.proposal) && (
            <div className="strip-item proposal-item">
              {canPropose ? (
                <button
                  type="button"
                  aria-expanded={proposing}
                  aria-controls={formId}
                  onClick={() => setProposing((open) => !open)}
                >
                  {proposing ? "Close the proposal form" : "Propose a number…"}
                </button>
              ) : (
                <>
                  <h3>Proposal</h3>
                  <ProposalStatus {...p} compact />
                </>
              )}
            </div>
          )}
        </div>
        {canPropose && (
          <div className="mediator-proposal" id={formId} hidden={!proposing}>
            {proposing && <ProposalForm {...p} onPut={() => setProposing(false)} focusOnOpen />}
          </div>
        )}
        {knockList}
        <ErrorLine error={location.error} />
        {!ended && <LocationForm {...p} compact />}
      </section>
    );
  }

  return (
    <section className="panel console" aria-labelledby="console-title">
      <h2 id="console-title">Mediator console</h2>

      {knockList}

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

/** At the desk: whether and when each side entered its number, on one line ("Claimant: entered 2:12 PM · …"). */
function NumbersLine(p: PanelProps) {
  const { view } = p;
  return (
    <div className="strip-item numbers-status">
      <h3>
        Numbers<span className="visually-hidden"> (sealed: never shown to you)</span>
      </h3>
      <p>
        {(["claimant", "respondent"] as const).map((side, i) => {
          const s = view.numbers[side];
          return (
            <span key={side}>
              {i > 0 && " · "}
              <strong>{sideName(side)}:</strong>{" "}
              {s.entered
                ? `entered${s.lastChangedAt !== null ? ` ${p.clock(s.lastChangedAt)}` : ""}`
                : "not yet"}
            </span>
          );
        })}
      </p>
    </div>
  );
}

function LocationForm(p: PanelProps & { compact?: boolean }) {
  const { view, compact = false } = p;
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

  const seen = m ? locationPhrase(m.location, null, m.until ? p.clock(m.until) : null) : "not in a room yet";
  return (
    <form className="form location" onSubmit={submit}>
      <h3>Where you are</h3>
      {compact ? (
        // The status bar says where you are; the note, if any, is the one thing it does not show.
        m?.note ? (
          <p className="location-note">Note: “{m.note}”</p>
        ) : null
      ) : (
        <p>
          Parties now see: the mediator is <strong>{seen}</strong>
          {m?.note ? ` — “${m.note}”` : ""}. Each side sees “with you” or “with the other side”, never what is
          said.
        </p>
      )}
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

function JointRoomSwitch({ view, compact = false }: PanelProps & { compact?: boolean }) {
  const cmd = useCommand();
  const button = (
    <button
      type="button"
      disabled={cmd.busy}
      onClick={() => cmd.run({ type: view.jointRoomOpen ? "CloseJointRoom" : "OpenJointRoom" })}
    >
      {view.jointRoomOpen ? "Close the joint room" : "Open the joint room"}
    </button>
  );
  if (compact) {
    return (
      <div className="strip-item joint-switch">
        <h3>Joint room</h3>
        <p>
          <strong>{view.jointRoomOpen ? "open" : "closed"}</strong>
        </p>
        {button}
        <ErrorLine error={cmd.error} />
      </div>
    );
  }
  return (
    <div className="joint-switch">
      <h3>Joint room</h3>
      <p>
        The joint room is <strong>{view.jointRoomOpen ? "open" : "closed"}</strong>.{" "}
        {view.jointRoomOpen ? "Everyone can read and post there." : "Open it for a joint session."}
      </p>
      {button}
      <ErrorLine error={cmd.error} />
    </div>
  );
}

/** Below the desk: the proposal's state, or its form in Step 3. */
function MediatorProposal(p: PanelProps) {
  const { view } = p;
  return (
    <div className="mediator-proposal">
      <h3>Mediator's proposal</h3>
      {view.proposal || view.phase !== "step3" ? <ProposalStatus {...p} /> : <ProposalForm {...p} />}
    </div>
  );
}

/** A proposal with the parties (its deadline), or when one can be put. */
function ProposalStatus(p: PanelProps & { compact?: boolean }) {
  const { view } = p;
  const proposal = view.proposal;
  if (!proposal) {
    return p.compact ? (
      <p className="hint">{view.phase === "ended" ? "none" : "from Step 3 (live bidding)"}</p>
    ) : (
      <p className="hint">You can put a proposal to both sides in Step 3 (live bidding).</p>
    );
  }
  const what =
    proposal.kind === "smart"
      ? "A smart proposal is with the parties. You do not see its amount: it hints at both numbers."
      : `Your proposal of ${proposal.amount != null ? p.money(proposal.amount) : "—"} is with the parties.`;
  if (p.compact) {
    return (
      <p>
        {proposal.kind === "smart"
          ? "a smart proposal (its amount hidden from you)"
          : `${proposal.amount != null ? p.money(proposal.amount) : "—"}`}{" "}
        with the parties, answers by {p.deadline(proposal.answerBy)} (
        {formatCountdown(proposal.answerBy - p.now)} left)
      </p>
    );
  }
  return (
    <>
      <p>
        {what} Answers due by {p.deadline(proposal.answerBy)} ({formatCountdown(proposal.answerBy - p.now)}{" "}
        left).
      </p>
      <p>
        Each side answers privately. You will learn only whether it was accepted, never who answered or who
        said no.
      </p>
    </>
  );
}

function ProposalForm(p: PanelProps & { onPut?: () => void; focusOnOpen?: boolean }) {
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
  const { onPut, focusOnOpen } = p;
  // Opened from "Propose a number…": the amount is what comes next.
  const amountRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (focusOnOpen) amountRef.current?.focus();
  }, [focusOnOpen]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!parsed?.ok || !choice || cmd.busy || confirm.open) return;
    const cents = parsed.amount;
    const window = choice;
    const preview = answerByFor(window, Date.now(), endsAt);
    confirm.ask(mediatorProposalWords(p.money(cents), p.deadline(preview), window.label), async () => {
      const answerBy = answerByFor(window, Date.now(), endsAt);
      if (await cmd.run({ type: "PutMediatorProposal", amount: cents, answerBy })) {
        setAmount("");
        onPut?.();
      }
    });
  };

  return (
    <>
      <form className="form" onSubmit={submit}>
        <p className="hint">
          Each side accepts or rejects privately. Both accept: a deal. Otherwise everyone, you included,
          learns only “not accepted”.
        </p>
        <div className="row wrap">
          <label>
            Proposed amount ({view.rules.currency})
            <input
              inputMode="decimal"
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              ref={amountRef}
            />
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
      <ErrorLine error={cmd.error} />
      {confirm.element}
    </>
  );
}
