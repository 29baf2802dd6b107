// One session, laid out for the viewer's role: a side works on its number; the mediator runs the day.
// The layout (layout.css): a compact status bar with links to the page's sections stays at the top on every width,
// with the deal's banner under it; the sections follow in one column on a phone, the live state first. A side gets two
// columns from 900 px; the mediator gets, from 1200 px, the console as a compact strip on top and rooms, ledger and
// activity side by side under it, each scrolling on its own, so a caucus runs without scrolling the page.
import {
  Fragment,
  type ReactNode,
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useSyncExternalStore,
} from "react";
import { api } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { useNow } from "../lib/useNow";
import { Link } from "../router";
import { noticeCenter, sessionController, useSession } from "../store/live";
import { ActivityFeed } from "./session/ActivityFeed";
import { type PanelProps, panelProps } from "./session/context";
import { DealBanner } from "./session/DealBanner";
import { Header, SessionDetails } from "./session/Header";
import { InvitationsPanel, invitableRoles } from "./session/InvitationsPanel";
import { LedgerPanel } from "./session/LedgerPanel";
import { MediatorConsole } from "./session/MediatorConsole";
import { NotifyOffer } from "./session/NotifyOffer";
import { NumberPanel } from "./session/NumberPanel";
import { ProposalPanel, proposalPanelShown } from "./session/ProposalPanel";
import { Rooms } from "./session/Rooms";
import { RulesPanel } from "./session/RulesPanel";
import { type SectionLink, SectionNav } from "./session/SectionNav";
import { TermsPanel } from "./session/TermsPanel";
import "./session/fit.css";
import "./session/layout.css";

/** The width from which the mediator's rooms, ledger and activity sit side by side (layout.css says the same). */
const DESK_QUERY = "(min-width: 1200px)";

function useMedia(query: string): boolean {
  const subscribe = useCallback(
    (onChange: () => void) => {
      const mq = window.matchMedia?.(query);
      mq?.addEventListener("change", onChange);
      return () => mq?.removeEventListener("change", onChange);
    },
    [query],
  );
  return useSyncExternalStore(
    subscribe,
    () => window.matchMedia?.(query).matches ?? false,
    () => false,
  );
}

/** A section of the page: its heading's id (the section links' target), its link's label, and the panel. */
interface Section {
  id: string;
  label: string;
  node: ReactNode;
}

export function SessionPage({ sessionId }: { sessionId: string }) {
  const status = useSession((s) => s.status);
  const error = useSession((s) => s.error);
  const data = useSession((s) => s.data);
  const presence = useSession((s) => s.presence);
  const connection = useSession((s) => s.connection);
  const now = useNow(1_000);
  const desk = useMedia(DESK_QUERY);
  useHeadingFocus(status === "error" ? "error" : data ? sessionId : null);

  // The sticky top's height, as --bar-h on the page: the headings' scroll margin and the desk columns' height
  // follow it (it changes with the width, a deal's banner, a folded banner).
  const mainRef = useRef<HTMLElement>(null);
  const topRef = useRef<HTMLDivElement>(null);
  const hasData = data !== null;
  useLayoutEffect(() => {
    const top = topRef.current;
    const main = mainRef.current;
    if (!hasData || !top || !main) return;
    const set = () => main.style.setProperty("--bar-h", `${Math.ceil(top.getBoundingClientRect().height)}px`);
    set();
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(set);
    observer.observe(top);
    return () => observer.disconnect();
  }, [hasData]);

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
  const groups = isMediator ? mediatorSections(p, presence, desk) : sideSections(p, presence);
  const links: SectionLink[] = groups.flat().map(({ id, label }) => ({ id, label }));
  const render = (sections: Section[]) => sections.map((s) => <Fragment key={s.id}>{s.node}</Fragment>);

  return (
    <main ref={mainRef} className={`page session ${isMediator ? "as-mediator" : "as-side"}`}>
      <div className="session-top" ref={topRef}>
        <Header {...p} connection={connection} sections={<SectionNav links={links} />} />
        <DealBanner {...p} />
      </div>
      {isMediator ? (
        <div className="layout mediator-layout">
          {render(groups[0]!)}
          <div className="desk">{render(groups[1]!)}</div>
          {view.phase !== "ended" && <NotifyOffer />}
          <div className="desk-more">{render(groups[2]!)}</div>
        </div>
      ) : (
        <div className="layout side-layout">
          <div className="main-col">
            {render(groups[0]!)}
            {view.phase !== "ended" && <NotifyOffer />}
          </div>
          <div className="side-col">{render(groups[1]!)}</div>
        </div>
      )}
    </main>
  );
}

/**
 * A side's sections, in two groups (the columns from 900 px; one after the other on a phone). Before bidding the
 * session's details (what Step 2 waits for), the rules and the terms come first; once numbers are open, the number.
 * A panel keeps its group from one step to the next (moving to the other column would remount it and lose, say, a
 * message being written).
 */
function sideSections(
  p: PanelProps,
  presence: Parameters<typeof SessionDetails>[0]["presence"],
): Section[][] {
  const { view } = p;
  const details: Section = {
    id: "details-title",
    label: "Session",
    node: <SessionDetails {...p} presence={presence} />,
  };
  const number: Section = { id: "number-title", label: "Number", node: <NumberPanel {...p} /> };
  const rules: Section = { id: "rules-title", label: "Rules", node: <RulesPanel {...p} /> };
  const terms: Section = { id: "terms-title", label: "Terms", node: <TermsPanel {...p} /> };
  const rooms: Section = { id: "rooms-title", label: "Rooms", node: <Rooms {...p} /> };
  const ledger: Section = { id: "ledger-title", label: "Offers", node: <LedgerPanel {...p} /> };
  const activity: Section = { id: "feed-title", label: "Activity", node: <ActivityFeed {...p} /> };
  const invite: Section[] =
    invitableRoles(view).length > 0
      ? [{ id: "invitations-title", label: "Invite", node: <InvitationsPanel {...p} /> }]
      : [];
  const proposals: Section[] = proposalPanelShown(p)
    ? [{ id: "proposals-title", label: "Proposals", node: <ProposalPanel {...p} /> }]
    : [];
  if (view.phase === "setup") {
    return [
      [details, rules, terms, number],
      [...invite, rooms, ledger, activity],
    ];
  }
  return [
    [number, ...proposals, rules, terms],
    [rooms, ledger, details, activity, ...invite],
  ];
}

/** The mediator's sections: the console; rooms, ledger and activity (the desk); then the rest. */
function mediatorSections(
  p: PanelProps,
  presence: Parameters<typeof SessionDetails>[0]["presence"],
  desk: boolean,
): Section[][] {
  const { view } = p;
  const invite: Section[] =
    invitableRoles(view).length > 0
      ? [{ id: "invitations-title", label: "Invite", node: <InvitationsPanel {...p} /> }]
      : [];
  return [
    [{ id: "console-title", label: "Console", node: <MediatorConsole {...p} desk={desk} /> }],
    [
      { id: "rooms-title", label: "Rooms", node: <Rooms {...p} /> },
      { id: "ledger-title", label: "Offers", node: <LedgerPanel {...p} scrolls={desk} /> },
      { id: "feed-title", label: "Activity", node: <ActivityFeed {...p} /> },
    ],
    [
      { id: "details-title", label: "Session", node: <SessionDetails {...p} presence={presence} /> },
      ...invite,
      { id: "terms-title", label: "Terms", node: <TermsPanel {...p} /> },
      { id: "rules-title", label: "Rules", node: <RulesPanel {...p} /> },
    ],
  ];
}
