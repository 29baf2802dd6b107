// The mail templates on their own: the terms' blank, escaping of everything a person typed, amounts only where due.
import { type Command, fillTermsBlank, type SessionState } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { CLAIMANT, RESPONDENT, Scenario, setNumber } from "../../../common/test/engine/builder";
import type { PendingNotice } from "../../src/notify/channels";
import { renderMail } from "../../src/notify/mail-templates";
import { createUnsubscribeTokens } from "../../src/notify/unsubscribe";

const opts = {
  publicUrl: "https://mediate.example.test",
  unsubscribeToken: createUnsubscribeTokens(Buffer.alloc(32, 3)).sign({
    email: "a@example.test",
    channel: "mail",
    kind: "deal",
  }),
  now: 0,
};

function dealSession(termsText: string, title = "Smith v. Jones", approve = true): SessionState {
  const s = new Scenario().create({ title, termsText }).cast();
  if (approve) {
    s.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
    s.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
  } else {
    s.skipTerms();
  }
  s.ok(setNumber(CLAIMANT, 1_000_000));
  s.ok(setNumber(RESPONDENT, 1_000_000));
  s.tickAt(s.s.step2ClosesAt as number);
  if (s.s.deal?.amount !== 1_000_000) throw new Error("expected a deal at the equal numbers");
  return s.s;
}

const dealNotice: PendingNotice = {
  id: "n1",
  sessionId: "session-1",
  userId: RESPONDENT,
  email: "r@example.test",
  name: "Rita <b>R</b>",
  kind: "deal",
  title: "Deal reached",
  body: "A deal was made.",
  link: null,
};

describe("fillTermsBlank", () => {
  it("fills '$_____' and bare blanks of three or more underscores, leaving shorter runs alone", () => {
    expect(fillTermsBlank("Pays $_____ now.", "$10,000.00")).toBe("Pays $10,000.00 now.");
    expect(fillTermsBlank("Pays ___ now.", "$10,000.00")).toBe("Pays $10,000.00 now.");
    expect(fillTermsBlank("Pays $__________________ now.", "€5.00")).toBe("Pays €5.00 now.");
    expect(fillTermsBlank("snake__case and $__x", "$1.00")).toBe("snake__case and $__x\nAmount: $1.00");
  });

  it("appends the amount when the terms have no blank, or are empty", () => {
    expect(fillTermsBlank("Full release.\n", "$1.00")).toBe("Full release.\nAmount: $1.00");
    expect(fillTermsBlank("", "$1.00")).toBe("Amount: $1.00");
  });
});

describe("renderMail", () => {
  it("escapes the title, names and terms in HTML, and keeps them readable in text", () => {
    const session = dealSession('Pays $_____ to <script>alert("x")</script> & co.', "A <i>v.</i> B & C");
    const mail = renderMail(dealNotice, session, opts);
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).not.toContain("<i>v.</i>");
    expect(mail.html).not.toContain("<b>R</b>");
    expect(mail.html).toContain(
      "Pays $10,000.00 to &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co.",
    );
    expect(mail.html).toContain("Hello Rita &lt;b&gt;R&lt;/b&gt;,");
    expect(mail.text).toContain('Pays $10,000.00 to <script>alert("x")</script> & co.');
    expect(mail.subject).toBe("Deal reached: A <i>v.</i> B & C");
  });

  it("a deal on terms left for later says so, and still fills the draft", () => {
    const mail = renderMail(dealNotice, dealSession("Pays $_____.", "Smith v. Jones", false), opts);
    expect(mail.text).not.toContain("The agreed terms");
    expect(mail.text).toContain("The sides left the terms to settle later");
    expect(mail.text).toContain("Pays $10,000.00.");
  });

  it("only a deal mail to a member carries an amount", () => {
    const session = dealSession("Pays $_____.");
    for (const kind of ["ended", "consent", "proposal", "step2-open", "reminder", "invitation"] as const) {
      const mail = renderMail({ ...dealNotice, kind, link: "https://x.test/i" }, session, opts);
      expect(`${mail.text}${mail.html}`, kind).not.toContain("10,000");
      expect(mail.text, kind).not.toMatch(/\$\s?\d/);
    }
    const outsider = renderMail({ ...dealNotice, userId: "someone-else" }, session, opts);
    expect(outsider.text).not.toMatch(/\$\s?\d/);
    expect(renderMail(dealNotice, session, opts).text).toContain("Settlement amount: $10,000.00");
  });

  it("hands the sender the settlement summary (for the PDF) of a member's deal mail only", () => {
    const session = dealSession("Pays $_____.");
    const member = renderMail(dealNotice, session, opts);
    expect(member.settlement?.amount).toBe("$10,000.00");
    expect(member.settlement?.terms.text).toBe("Pays $10,000.00.");
    expect(member.text).toContain("The attached PDF (settlement.pdf) holds this summary");
    for (const n of [
      { ...dealNotice, userId: "someone-else" },
      { ...dealNotice, userId: null },
      { ...dealNotice, kind: "ended" as const },
    ]) {
      const mail = renderMail(n, session, opts);
      expect(mail.settlement, JSON.stringify(n)).toBeUndefined();
      expect(mail.text).not.toContain("settlement.pdf");
    }
  });

  it("keeps a subject on one line whatever the title holds", () => {
    const mail = renderMail({ ...dealNotice, title: "Deal\r\nBcc: x@evil.test" }, null, opts);
    expect(mail.subject).toBe("Deal Bcc: x@evil.test");
  });
});
