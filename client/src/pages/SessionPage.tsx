// One session, laid out for the viewer's role: a side works on its number; the mediator runs the day.
import { useEffect } from "react";
import { api } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { useNow } from "../lib/useNow";
import { Link } from "../router";
import { noticeCenter, sessionController, useSession } from "../store/live";
import { ActivityFeed } from "./session/ActivityFeed";
import { panelProps } from "./session/context";
import { DealBanner } from "./session/DealBanner";
import { Header } from "./session/Header";
import { InvitationsPanel, invitableRoles } from "./session/InvitationsPanel";
import { LedgerPanel } from "./session/LedgerPanel";
import { MediatorConsole } from "./session/MediatorConsole";
import { NotifyOffer } from "./session/NotifyOffer";
import { NumberPanel } from "./session/NumberPanel";
import { ProposalPanel } from "./session/ProposalPanel";
import { Rooms } from "./session/Rooms";
import { RulesPanel } from "./session/RulesPanel";
import { TermsPanel } from "./session/TermsPanel";
import "./session/fit.css";

export function SessionPage({ sessionId }: { sessionId: string }) {
  const status = useSession((s) => s.status);
  const error = useSession((s) => s.error);
  const data = useSession((s) => s.data);
  const presence = useSession((s) => s.presence);
  const connection = useSession((s) => s.connection);
  const now = useNow(1_000);
  useHeadingFocus(status === "error" ? "error" : data ? sessionId : null);

  useEffect(() => {
    noticeCenter.open(sessionId);
    void sessionController.open(sessionId);
    // Kinds the person turned off for push are not sent to the browser's notifications either.
    api
      .noticePreferences()
      .then((prefs) => noticeCenter.setPushPreferences(prefs.push))
      .catch(() => {});
    return () => {
      sessionController.close();
      noticeCenter.close();
    };
  }, [sessionId]);

  if (status === "error") {
    return (
      <main className="page narrow">
        <h1>This session could not be opened</h1>
        <ErrorLine error={error} />
        <p>
          <Link href="/">Back to your sessions</Link>
        </p>
      </main>
    );
  }
  if (!data) return <p className="loading">Opening the session…</p>;

  const p = panelProps(data, now);
  const { view } = data;
  const isMediator = view.viewer.role === "mediator";
  const mayInvite = invitableRoles(view).length > 0;

  return (
    <main className={`page session ${isMediator ? "as-mediator" : "as-side"}`}>
      <DealBanner {...p} />
      <Header {...p} presence={presence} connection={connection} />
      {view.phase !== "ended" && <NotifyOffer />}
      {isMediator ? (
        <div className="layout">
          <div className="main-col">
            <MediatorConsole {...p} />
            <LedgerPanel {...p} />
            <Rooms {...p} />
          </div>
          <div className="side-col">
            <ActivityFeed {...p} />
            {mayInvite && <InvitationsPanel {...p} />}
            <TermsPanel {...p} />
            <RulesPanel {...p} />
          </div>
        </div>
      ) : (
        <div className="layout">
          {/* Before bidding the rules and terms come first; once numbers are open, the number does. */}
          <div className="main-col">
            {view.phase === "setup" ? (
              <>
                <RulesPanel {...p} />
                <TermsPanel {...p} />
                <NumberPanel {...p} />
              </>
            ) : (
              <>
                <NumberPanel {...p} />
                <ProposalPanel {...p} />
                <RulesPanel {...p} />
                <TermsPanel {...p} />
              </>
            )}
          </div>
          <div className="side-col">
            <Rooms {...p} />
            <LedgerPanel {...p} />
            {mayInvite && <InvitationsPanel {...p} />}
            <ActivityFeed {...p} />
          </div>
        </div>
      )}
    </main>
  );
}
