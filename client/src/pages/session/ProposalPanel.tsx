// Proposals, for sides: ask for a smart proposal, consent to the other side's request, and answer a smart or
// mediator's proposal privately. Outcomes say only "accepted" or "not accepted", never who rejected.
import { useConfirm } from "../../components/ConfirmDialog";
import { ErrorLine } from "../../components/ErrorLine";
import { answerProposalWords } from "../../lib/confirmWords";
import { formatCountdown } from "../../lib/time";
import { useCommand } from "../../lib/useCommand";
import { otherSideOf } from "../../lib/words";
import { lastProposalOutcome } from "../../session/feed";
import type { PanelProps } from "./context";

/** Whether a side has the Proposals panel now (the session page's section links name only the panels shown). */
export function proposalPanelShown(p: PanelProps): boolean {
  const { view } = p;
  if (view.viewer.side === null || view.phase === "ended") return false;
  return (
    view.phase === "step3" ||
    view.proposal !== null ||
    view.request !== null ||
    lastProposalOutcome(p.log) !== null
  );
}

export function ProposalPanel(p: PanelProps) {
  const { view } = p;
  const side = view.viewer.side;
  const cmd = useCommand();
  const confirm = useConfirm();
  if (side === null) return null;
  const canAct = view.viewer.canBid;
  const { request, proposal } = view;
  const last = lastProposalOutcome(p.log);
  const lastTooFar = [...p.log].reverse().find((e) => e.event.type === "ProposalTooFarApart");
  if (!proposalPanelShown(p)) return null;

  return (
    <section className="panel proposals" aria-labelledby="proposals-title">
      <h2 id="proposals-title">Proposals</h2>

      {proposal ? (
        <div className="proposal">
          <p className="lead">
            {proposal.kind === "smart" ? "Smart proposal" : "The mediator's proposal"}:{" "}
            <strong className="amount">
              {proposal.amount != null ? p.money(proposal.amount) : "loading the amount…"}
            </strong>
          </p>
          <p>
            Answer privately by <strong>{p.deadline(proposal.answerBy)}</strong> (
            {formatCountdown(proposal.answerBy - p.now)} left). If both sides accept, it is a deal. If not,
            everyone is told only that it was not accepted — nobody learns who said no.
          </p>
          {proposal.kind === "smart" && (
            <p className="hint">
              The system drew this amount from the middle of the gap between the two numbers. The mediator
              does not see it. Live bidding is paused until it is settled.
            </p>
          )}
          {proposal.kind === "mediator" && (
            <p className="hint">
              Live bidding continues meanwhile: a matching number still makes a deal first.
            </p>
          )}
          {proposal.ownAnswer !== undefined ? (
            <p className="ok">
              Your side {proposal.ownAnswer ? "accepted" : "rejected"} this proposal. Only your side knows how
              you answered.
            </p>
          ) : canAct ? (
            <div className="actions">
              <button
                type="button"
                className="primary"
                disabled={cmd.busy}
                onClick={() =>
                  confirm.ask(
                    answerProposalWords(
                      proposal.kind,
                      proposal.amount != null ? p.money(proposal.amount) : "the proposed amount",
                      true,
                    ),
                    () => cmd.run({ type: "AnswerProposal", proposalId: proposal.proposalId, accept: true }),
                  )
                }
              >
                Accept {proposal.amount != null ? p.money(proposal.amount) : "the proposal"}
              </button>
              <button
                type="button"
                disabled={cmd.busy}
                onClick={() =>
                  confirm.ask(
                    answerProposalWords(
                      proposal.kind,
                      proposal.amount != null ? p.money(proposal.amount) : "the proposed amount",
                      false,
                    ),
                    () => cmd.run({ type: "AnswerProposal", proposalId: proposal.proposalId, accept: false }),
                  )
                }
              >
                Reject
              </button>
            </div>
          ) : (
            <p className="hint">View-only members cannot answer for the side.</p>
          )}
          <p className="hint">
            You will not learn whether the {otherSideOf(side)} side has answered, and they will not learn
            whether you have: only the result.
          </p>
        </div>
      ) : request ? (
        request.side === side ? (
          <p>
            Your side asked for a smart proposal. Waiting for the {otherSideOf(side)} side to agree (until{" "}
            {p.deadline(request.consentBy)}). Live bidding is paused meanwhile.
          </p>
        ) : (
          <div>
            <p className="lead">The {request.side} side asked for a smart proposal.</p>
            <p>
              If your side agrees, the system compares both numbers privately. If the gap is more than{" "}
              {view.rules.proposalMaxGapPercent}% of the demand, both sides are told only “too far apart”.
              Otherwise both sides receive the same proposed amount. Live bidding is paused until you answer
              (by {p.deadline(request.consentBy)}).
            </p>
            {canAct && (
              <div className="actions">
                <button
                  type="button"
                  className="primary"
                  disabled={cmd.busy}
                  onClick={() => cmd.run({ type: "ConsentProposal", requestId: request.requestId })}
                >
                  Agree to a smart proposal
                </button>
                <button
                  type="button"
                  disabled={cmd.busy}
                  onClick={() => cmd.run({ type: "DeclineProposal", requestId: request.requestId })}
                >
                  Decline
                </button>
              </div>
            )}
          </div>
        )
      ) : view.phase === "step3" && canAct ? (
        <div>
          <p>
            Stuck? Either side can ask for a <strong>smart proposal</strong>: if the other side agrees and the
            numbers are close enough, the system proposes one amount from the middle of the gap to both sides.
          </p>
          <button type="button" disabled={cmd.busy} onClick={() => cmd.run({ type: "RequestProposal" })}>
            Ask for a smart proposal
          </button>
        </div>
      ) : null}

      {!proposal && last && (
        <p className={last.accepted ? "ok" : "notice"}>
          The last {last.kind === "smart" ? "smart" : "mediator's"} proposal was{" "}
          {last.accepted ? "accepted by both sides" : "not accepted"} ({p.clock(last.at)}).
        </p>
      )}
      {!proposal && !request && lastTooFar && (last === null || lastTooFar.event.at > last.at) && (
        <p className="notice">The last smart proposal request found the numbers too far apart.</p>
      )}
      <ErrorLine error={cmd.error} />
      {confirm.element}
    </section>
  );
}
