// End to end in a real browser: the built client against the real server. A claimant creates a mediation-day
// session and invites a respondent and a mediator, who join through their links in their own browsers; both
// sides skip the terms and enter overlapping numbers; all three see the same deal. Throughout, the mediator's
// page never holds either number and the respondent's never holds the claimant's. Each browser keeps the signed
// heads of its role's stream, and its role's audit record verifies against them.
import { describe, expect, it } from "vitest";
import { verifyAuditExport } from "../../server/src/store/audit";
import {
  browserSuite,
  chooseCreatorRole,
  confirmAct,
  fillSignUp,
  haveChromium,
  type Participant,
  signUpAndAccept,
} from "./harness";

// The two confidential numbers. Cents that a neutrally rounded deal amount (a multiple of $100 here) can never
// show, so any appearance of these digits on a page is a leak, even after the deal.
const DEMAND = { typed: "41,234.56", cents: "4123456", marks: ["41,234", "41234"] };
const OFFER = { typed: "58,765.43", cents: "5876543", marks: ["58,765", "58765"] };

/**
 * What finds a mark in a text, as a regular expression's source (it runs in the page too, where a Content Security
 * Policy allows no eval but any RegExp). A mark of digits alone counts only as a number of its own, not as a run inside
 * a longer string of letters and digits: a timestamp, an id or a hash holds any five digits now and then (the
 * mediator's page once held "58765" before either number had been entered). A number as a page or a payload shows it
 * ("$58765.43", `"amount":5876543`, `value="58765"`) still counts; other marks ("58,765") count anywhere.
 */
function patternOf(mark: string): string {
  return /^[0-9]+$/.test(mark)
    ? `(?<![0-9A-Za-z])${mark}(?![0-9A-Za-z])`
    : mark.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Every mark of these numbers, formatted and raw, with the raw cents. */
function marksOf(...numbers: Array<typeof DEMAND>): string[] {
  return numbers.flatMap((n) => [...n.marks, n.cents]);
}

/** The marks of `marks` that `text` holds. */
function found(text: string, marks: string[]): string[] {
  return marks.filter((m) => new RegExp(patternOf(m)).test(text));
}

/**
 * Watches a page for forbidden strings: in its text and HTML after every DOM change (a MutationObserver
 * installed before any script runs), and in every socket frame and API/socket response it receives.
 */
async function watchForLeaks(p: Participant, forbidden: Array<typeof DEMAND>): Promise<void> {
  // Raw digits are checked in the page only: the wire holds far more numbers of its own (versions, positions, times).
  const domMarks = marksOf(...forbidden);
  const wireMarks = forbidden.flatMap((n) => [n.marks[0]!, n.cents]);
  await p.context.addInitScript(
    (marks: Array<{ mark: string; pattern: string }>) => {
      const w = window as unknown as { __leaks: string[] };
      w.__leaks = [];
      const compiled = marks.map(({ mark, pattern }) => ({ mark, re: new RegExp(pattern) }));
      const check = () => {
        const html = document.documentElement?.outerHTML ?? "";
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, as a person sees it
        const text = document.body?.innerText ?? "";
        for (const { mark, re } of compiled) {
          if (re.test(html) || re.test(text))
            w.__leaks.push(`${mark} in the page at ${new Date().toISOString()}`);
        }
      };
      new MutationObserver(check).observe(document, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      });
    },
    domMarks.map((mark) => ({ mark, pattern: patternOf(mark) })),
  );
  p.page.on("websocket", (ws) => {
    ws.on("framereceived", (frame) => {
      const data = typeof frame.payload === "string" ? frame.payload : frame.payload.toString("utf8");
      for (const m of found(data, wireMarks)) p.leaks.push(`${m} in a socket frame`);
    });
  });
  p.page.on("response", async (res) => {
    const url = res.url();
    if (!url.includes("/api/") && !url.includes("/socket.io/")) return;
    const body = await res.text().catch(() => "");
    for (const m of found(body, wireMarks)) p.leaks.push(`${m} in a response from ${url}`);
  });
}

async function pageLeaks(p: Participant): Promise<string[]> {
  const inPage = await p.page.evaluate(() => (window as unknown as { __leaks?: string[] }).__leaks ?? []);
  return [...inPage, ...p.leaks];
}

async function pageHas(p: Participant, marks: string[]): Promise<string[]> {
  const { text, html } = await p.page.evaluate(() => ({
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, as a person sees it
    text: document.body.innerText,
    html: document.documentElement.outerHTML,
  }));
  return found(`${text}\n${html}`, marks);
}

describe("the leak marks", () => {
  it("find a number where a page or a payload shows one, and not inside a timestamp, an id or a hash", () => {
    const shown = 'Offer $58765.43, <input value="58765">, {"amount":5876543}, $58,765.43';
    expect(found(shown, marksOf(OFFER)).sort()).toEqual(["58,765", "58765", "5876543"]);
    const noise = 'at 1796405876543, id 3f58765a-0000, head c58765000de, "v":5876543210';
    expect(found(noise, marksOf(OFFER))).toEqual([]);
  });
});

describe.skipIf(!haveChromium)("browser: a mediation day that ends in a deal", () => {
  const suite = browserSuite("deal", "Browser e2e screenshots");
  const { browsers } = suite;
  const open = (name: string) => browsers.open(name);
  const shoot = async (p: Participant, moment: string) => {
    await browsers.shoot(p, moment);
  };

  it("claimant, respondent and mediator reach the same deal; no page shows a number it may not", {
    timeout: 60_000,
  }, async () => {
    try {
      await scenario();
    } catch (err) {
      // Evidence for whoever reads the failure: each page as it was, and what its console said.
      await browsers.evidence();
      throw err;
    }
  });

  async function scenario(): Promise<void> {
    const [claimant, respondent, mediator] = await Promise.all([
      open("claimant"),
      open("respondent"),
      open("mediator"),
    ]);
    await watchForLeaks(mediator, [DEMAND, OFFER]);
    await watchForLeaks(respondent, [DEMAND]);

    // The claimant's attorney signs up and creates a mediation-day session with a 5-second Step 2.
    await claimant.page.goto(`${suite.base}/signup`);
    await fillSignUp(claimant, "Claire Claimant");
    await claimant.page.getByRole("heading", { name: "New session" }).waitFor();
    await claimant.page.getByLabel("Title").fill("Smith v. Acme Logistics");
    await claimant.page.getByRole("button", { name: /Mediation day/ }).click();
    await claimant.page.getByLabel("Step 2 (sealed numbers) lasts: amount").fill("5");
    await claimant.page.getByLabel("Step 2 (sealed numbers) lasts: unit").selectOption("seconds");
    await chooseCreatorRole(claimant, "claimant");
    await claimant.page.getByRole("button", { name: "Create session" }).click();
    await claimant.page.waitForURL(/\/sessions\//);
    await claimant.page.getByRole("heading", { name: "Smith v. Acme Logistics" }).waitFor();

    // Invitation links for the respondent (bidding) and a mediator.
    await claimant.page.getByLabel("Invite", { exact: true }).selectOption("respondent");
    await claimant.page.getByRole("button", { name: "Create invitation link" }).click();
    const respondentLink = await claimant.page
      .getByLabel("Invitation link for the respondent side")
      .inputValue();
    await claimant.page.getByLabel("Invite", { exact: true }).selectOption("mediator");
    await claimant.page.getByRole("button", { name: "Create invitation link" }).click();
    const mediatorLink = await claimant.page.getByLabel("Invitation link for a mediator").inputValue();
    expect(respondentLink).toMatch(new RegExp(`^${suite.base}/invite/`));

    await signUpAndAccept(respondent, respondentLink, "Ray Respondent");
    await signUpAndAccept(mediator, mediatorLink, "Mia Mediator");
    for (const p of [claimant, respondent, mediator]) {
      await p.page.getByText("Step 1 — terms", { exact: true }).first().waitFor();
    }
    await mediator.page.getByText("Ray Respondent joined as the respondent side.").waitFor();
    await shoot(claimant, "setup");
    await shoot(mediator, "setup");

    // Both sides leave the terms for later: Step 2 opens at once.
    await claimant.page.getByRole("button", { name: "Skip: terms settled later" }).click();
    await respondent.page.getByRole("button", { name: "Skip: terms settled later" }).click();
    for (const p of [claimant, respondent, mediator]) {
      await p.page
        .getByText(/Step 2 — sealed numbers|Step 3 — live bidding/)
        .first()
        .waitFor();
    }
    await shoot(respondent, "step2-open");
    expect(await pageHas(mediator, marksOf(DEMAND, OFFER))).toEqual([]);

    // The claimant's demand, then the respondent's offer: they overlap.
    await claimant.page.getByLabel("Enter your side's demand").fill(DEMAND.typed);
    await claimant.page.getByRole("button", { name: "Enter number" }).click();
    await confirmAct(claimant, `Enter demand to $${DEMAND.typed}`);
    await expect
      .poll(() => claimant.page.getByTestId("own-number").textContent())
      .toContain(`$${DEMAND.typed}`);
    // The check finds a number where it is shown: the claimant's own page.
    expect(await pageHas(claimant, marksOf(DEMAND))).not.toEqual([]);
    await respondent.page
      .getByTestId("other-side-status")
      .getByText("Claimant has entered a number")
      .waitFor();
    await mediator.page.getByText(/Claimant entered their number/).waitFor();
    await shoot(claimant, "number-entered");
    expect(await pageHas(respondent, marksOf(DEMAND))).toEqual([]);
    expect(await pageHas(mediator, marksOf(DEMAND, OFFER))).toEqual([]);

    await respondent.page.getByLabel("Enter your side's offer").fill(OFFER.typed);
    await respondent.page.getByRole("button", { name: "Enter number" }).click();
    await confirmAct(respondent, `Enter offer to $${OFFER.typed}`);
    await mediator.page.getByText(/Respondent entered their number/).waitFor();
    await shoot(mediator, "both-numbers-entered");
    expect(await pageHas(mediator, marksOf(DEMAND, OFFER))).toEqual([]);

    // At the Step 2 deadline (or at once, if Step 3 had already opened) the overlap makes a deal.
    const amounts: string[] = [];
    for (const p of [claimant, respondent, mediator]) {
      const deal = p.page.getByTestId("deal-amount");
      await deal.waitFor({ timeout: 20_000 });
      amounts.push((await deal.textContent()) ?? "");
    }
    for (const p of [claimant, respondent, mediator]) await shoot(p, "deal");
    expect(new Set(amounts).size).toBe(1);
    const dealCents = Math.round(Number(amounts[0]!.replace(/[$,]/g, "")) * 100);
    expect(dealCents).toBeGreaterThanOrEqual(Number(DEMAND.cents));
    expect(dealCents).toBeLessThanOrEqual(Number(OFFER.cents));
    await expect.poll(() => mediator.page.getByText("Settled — a deal was made").count()).toBeGreaterThan(0);

    expect(await pageHas(mediator, marksOf(DEMAND, OFFER))).toEqual([]);
    expect(await pageHas(respondent, marksOf(DEMAND))).toEqual([]);

    // Each browser kept the signed heads of its role's stream (through the deal notice's final head), offers them
    // for download, and its role's audit record (fetched as the page's download link does) verifies against them.
    const sessionId = new URL(claimant.page.url()).pathname.split("/").at(-1)!;
    // The published signing key (no sign-in): what a party checks the signatures with, not the file's own copy.
    const keyRes = await fetch(`${suite.base}/api/audit/key`);
    expect(keyRes.status, "GET /api/audit/key").toBe(200);
    const key = (await keyRes.json()) as { keyId: string; pem: string };
    for (const p of [claimant, respondent, mediator]) {
      const saved = await p.page.evaluate(
        (storageKey) =>
          JSON.parse(localStorage.getItem(storageKey) ?? "[]") as Array<Record<string, unknown>>,
        `backchannel:heads:${sessionId}`,
      );
      expect(saved.length, `${p.name} saved heads`).toBeGreaterThan(0);
      for (const head of saved) expect(head).toMatchObject({ sessionId, stream: p.name, keyId: key.keyId });
      const positions = saved.map((h) => h.position as number);
      expect(positions, `${p.name}: one head per position, in order`).toEqual(
        [...new Set(positions)].sort((a, b) => a - b),
      );
      const offered = async () => {
        const href = await p.page
          .getByRole("link", { name: "the signed receipts this browser kept" })
          .getAttribute("href");
        return href && (JSON.parse(decodeURIComponent(href.slice(href.indexOf(",") + 1))) as unknown);
      };
      await expect.poll(offered).toEqual({ format: "backchannel-heads/1", sessionId, heads: saved });

      const audit = await p.page.evaluate(async (url) => {
        const res = await fetch(url, { credentials: "same-origin" });
        return { status: res.status, body: (await res.json()) as unknown };
      }, `/api/sessions/${sessionId}/audit`);
      expect(audit.status, `${p.name} audit export`).toBe(200);
      const exported = audit.body as { stream: string; events: unknown[] };
      expect(exported.stream).toBe(p.name);
      // The session is over: the last saved head (the final one) is the end of the exported stream.
      expect(Math.max(...positions)).toBe(exported.events.length);
      const verdict = verifyAuditExport(exported, { savedHeads: saved, publicKeyPem: key.pem });
      expect(verdict, `${p.name} audit:verify`).toEqual({
        ok: true,
        events: exported.events.length,
        head: expect.any(String),
        signed: true,
        savedHeadsChecked: saved.length,
      });
    }

    expect(await pageLeaks(mediator)).toEqual([]);
    expect(await pageLeaks(respondent)).toEqual([]);
    for (const p of browsers.people) expect(p.pageErrors, `${p.name} page errors`).toEqual([]);
  }
});
