// Invitation links for the creator and the mediators: one link per person, single use, passed on by hand.
import type { Role } from "@backchannel/common";
import { type FormEvent, useId, useState } from "react";
import { api, toUserError, type UserError } from "../../api";
import { ErrorLine } from "../../components/ErrorLine";
import { Field } from "../../components/Field";
import type { PanelProps } from "./context";

interface IssuedLink {
  invitationId: string;
  link: string;
  /** the address the invitation was mailed to, if one was given */
  email: string | null;
  role: Role;
  canBid: boolean;
  expiresAt: number;
}

function inviteeWords(role: Role, canBid: boolean): string {
  if (role === "mediator") return "a mediator";
  return `the ${role} side${canBid ? "" : " (view only)"}`;
}

const ROLE_OPTIONS: Array<{ role: Role; label: string }> = [
  { role: "claimant", label: "Someone on the claimant side" },
  { role: "respondent", label: "Someone on the respondent side" },
  { role: "mediator", label: "A mediator" },
];

/**
 * The roles this viewer may invite, as the engine decides them: a mediator or a side's first member (creator or a
 * mediator), and more people for a side that has joined only from that side's own bidding members.
 */
export function invitableRoles(view: PanelProps["view"]): Role[] {
  const organiser = view.viewer.isCreator || view.viewer.role === "mediator";
  const sideJoined = (side: Role) => view.members.some((m) => m.role === side);
  return ROLE_OPTIONS.map((o) => o.role).filter((role) => {
    if (role === "mediator") return organiser;
    if (sideJoined(role)) return view.viewer.side === role && view.viewer.canBid;
    return organiser;
  });
}

export function InvitationsPanel(p: PanelProps) {
  const { view } = p;
  const allowed = invitableRoles(view);
  const [chosen, setRole] = useState<Role | null>(null);
  const role: Role = chosen && allowed.includes(chosen) ? chosen : (allowed[0] ?? "mediator");
  const [canBid, setCanBid] = useState(true);
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserError | null>(null);
  const [issued, setIssued] = useState<IssuedLink[]>([]);
  const ended = view.phase === "ended";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const to = email.trim() || null;
      const r = await api.createInvitation(view.id, {
        role,
        canBid: role !== "mediator" && canBid,
        ...(to ? { email: to } : {}),
      });
      setIssued((list) => [
        // The server says whom it queued the mail for (emailedTo); the page never claims a mail it was not told of.
        {
          invitationId: r.invitation.id,
          link: r.link,
          email: r.emailedTo ?? null,
          role,
          canBid: r.invitation.canBid,
          expiresAt: r.invitation.expiresAt,
        },
        ...list,
      ]);
      setEmail("");
    } catch (err) {
      setError(toUserError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel invitations" aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invite people</h2>
      {!ended && allowed.length > 0 && (
        <form className="form" onSubmit={submit}>
          <div className="row wrap">
            <Field label="Invite">
              {(id) => (
                <select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                  {ROLE_OPTIONS.filter((o) => allowed.includes(o.role)).map((o) => (
                    <option key={o.role} value={o.role}>
                      {o.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {role !== "mediator" && (
              <label className="choice">
                <input type="checkbox" checked={canBid} onChange={(e) => setCanBid(e.target.checked)} />
                <span>Can enter and change the side's number (untick for view only)</span>
              </label>
            )}
          </div>
          <Field label="Their email address" hint="(optional: we mail them the invitation)">
            {(id) => (
              <input
                id={id}
                type="email"
                autoComplete="off"
                maxLength={254}
                value={email}
                onChange={(e) => setEmail(e.target.value)}
              />
            )}
          </Field>
          <button type="submit" disabled={busy}>
            {email.trim() ? "Send invitation" : "Create invitation link"}
          </button>
          <ErrorLine error={error} />
        </form>
      )}
      {issued.map((i) => {
        const seen = view.invitations.find((inv) => inv.invitationId === i.invitationId);
        return (
          <IssuedLinkBox
            key={i.link}
            issued={i}
            clock={p.clock}
            usedBy={seen?.usedBy ? p.nameOf(seen.usedBy) : null}
            gone={seen ? seen.revoked || seen.expiresAt <= p.now : false}
          />
        );
      })}
      {view.invitations.length > 0 && (
        <ul className="invitation-list">
          {view.invitations.map((inv) => (
            <li key={inv.invitationId}>
              Invitation for {inviteeWords(inv.role, inv.canBid)}:{" "}
              {inv.usedBy
                ? `accepted by ${p.nameOf(inv.usedBy)}`
                : inv.revoked
                  ? "cancelled"
                  : inv.expiresAt <= p.now
                    ? "expired"
                    : `not used yet (expires ${p.clock(inv.expiresAt)})`}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function IssuedLinkBox({
  issued,
  clock,
  usedBy,
  gone,
}: {
  issued: IssuedLink;
  clock: (at: number) => string;
  /** who accepted it, once it is used: the link then no longer works, so it is not offered for copying */
  usedBy: string | null;
  gone: boolean;
}) {
  const id = useId();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(issued.link);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so Ctrl+C works.
      (document.getElementById(id) as HTMLInputElement | null)?.select();
    }
  };
  const label = `Invitation link for ${inviteeWords(issued.role, issued.canBid)}`;
  if (usedBy !== null || gone) {
    return (
      <div className="issued-link">
        <p className="hint">
          {label}: {usedBy !== null ? `used (accepted by ${usedBy})` : "no longer valid"}. The link no longer
          works.
        </p>
      </div>
    );
  }
  return (
    <div className="issued-link">
      {issued.email && (
        <p className="ok" role="status">
          We emailed the invitation to {issued.email}.
        </p>
      )}
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} readOnly value={issued.link} onFocus={(e) => e.target.select()} />
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy link"}
        </button>
      </div>
      <p className="hint">
        {issued.email
          ? "You can also pass this link on yourself."
          : "Send this link to that person yourself."}{" "}
        It works once and expires {clock(issued.expiresAt)}. It is shown only now.
      </p>
    </div>
  );
}
