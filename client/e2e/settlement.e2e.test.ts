// The settlement summary in a real browser: two sides reach a Step 2 deal (set up over REST, as each browser's own
// signed-in account); each opens the summary from the deal banner. It shows the amount inside the terms sentence,
// neither side's number, and its "Download PDF" link answers 200 application/pdf. On paper (print media) only the
// summary shows, without its buttons. Screenshots at 1280x800 and 390x844 go to os.tmpdir(), printed at the end.
import { describe, expect, it } from "vitest";
import { browserSuite, haveChromium, type Participant } from "./harness";

const TERMS =
  "The respondent pays $_____ to the claimant within 30 days of signing.\nFull release of all claims; each party bears its own costs.";
/** The two confidential numbers: cents a rounded deal amount cannot show. */
const DEMAND = 4_123_456;
const OFFER = 5_987_654;
const MARKS = ["41,234", "41234", "59,876", "59876"];

describe.skipIf(!haveChromium)("browser: the settlement summary at a deal", () => {
  const suite = browserSuite("settlement", "Settlement e2e screenshots");
  const { browsers } = suite;

  /** A REST call as the person signed in in this browser (the context's cookie). */
  async function call(p: Participant, method: "GET" | "POST", route: string, data?: unknown) {
    const res = await p.context.request.fetch(suite.base + route, {
      method,
      ...(data === undefined ? {} : { data }),
      headers: { origin: suite.base },
    });
    const body = await res.json().catch(() => null);
    if (!res.ok()) throw new Error(`${method} ${route}: ${res.status()} ${JSON.stringify(body)}`);
    return body as Record<string, unknown>;
  }

  let seq = 0;
  const command = (p: Participant, sessionId: string, c: Record<string, unknown>) =>
    call(p, "POST", `/api/sessions/${sessionId}/commands`, {
      idempotencyKey: `e2e-settlement-${++seq}`,
      command: c,
    });

  it("shows the amount inside the terms, prints alone, and downloads as a PDF", {
    timeout: 90_000,
  }, async () => {
    const claimant = await browsers.open("claimant", { viewport: { width: 1280, height: 800 } });
    const respondent = await browsers.open("respondent", {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      for (const [p, name] of [
        [claimant, "Claire Attorney"],
        [respondent, "Ray Respondent"],
      ] as const) {
        await call(p, "POST", "/api/auth/signup", {
          email: `${p.name}-${Date.now()}@example.test`,
          password: "correct horse battery",
          displayName: name,
        });
      }
      const created = await call(claimant, "POST", "/api/sessions", {
        title: "Smith v. Acme Freight",
        creatorRole: "claimant",
        rules: { step2DurationMs: 4000 },
        termsText: TERMS,
      });
      const sessionId = (created.view as { id: string }).id;
      const invited = await call(claimant, "POST", `/api/sessions/${sessionId}/invitations`, {
        role: "respondent",
        canBid: true,
      });
      await call(respondent, "POST", "/api/invitations/accept", { token: invited.token });
      await command(claimant, sessionId, { type: "ApproveTerms", version: 1 });
      await command(respondent, sessionId, { type: "ApproveTerms", version: 1 });

      // The numbers go in at once, well before the Step 2 deadline; then both pages open the session (each keeps
      // its own stream's signed heads) and see the deal arrive.
      await command(claimant, sessionId, { type: "SetNumber", amount: DEMAND });
      await command(respondent, sessionId, { type: "SetNumber", amount: OFFER });
      for (const p of [claimant, respondent]) await p.page.goto(`${suite.base}/sessions/${sessionId}`);

      for (const [p, size] of [
        [claimant, "1280x800"],
        [respondent, "390x844"],
      ] as const) {
        const banner = p.page.getByTestId("deal-banner");
        await banner.waitFor({ timeout: 20_000 });
        const amount = ((await p.page.getByTestId("deal-amount").textContent()) ?? "").trim();
        expect(amount).toMatch(/^\$\d{2},\d{3}\.\d{2}$/);
        await expect.poll(() => banner.textContent()).toContain("The settlement summary shows them");
        await browsers.shoot(p, `deal-banner-${size}`, { fullPage: false });

        await banner.getByRole("button", { name: "Settlement summary" }).click();
        const dialog = p.page.getByRole("dialog", { name: "Smith v. Acme Freight" });
        await dialog.waitFor();
        const terms = dialog.getByTestId("settlement-terms");
        expect(await terms.textContent()).toContain(
          `The respondent pays ${amount} to the claimant within 30 days`,
        );
        expect(await terms.locator("strong").textContent()).toBe(amount);
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, as a person reads it
        const text = (await dialog.innerText()) ?? "";
        expect(text).toContain("The agreed terms (version 1), with the amount filled in:");
        expect(text).toContain("Step 2: the two sealed numbers met at the Step 2 deadline.");
        expect(text).toContain("Claire Attorney (Claimant)");
        expect(text).toContain("Ray Respondent (Respondent)");
        expect(text).toMatch(/Audit record head \(your role's stream, position \d+\)/);
        expect(text).not.toContain("_____");
        for (const m of MARKS) expect(text, `${p.name}: ${m}`).not.toContain(m);
        await browsers.shoot(p, `summary-${size}`, { fullPage: false });

        // The PDF link answers with the PDF, for this signed-in member.
        const href = await dialog.getByRole("link", { name: "Download PDF" }).getAttribute("href");
        expect(href).toBe(`/api/sessions/${sessionId}/settlement.pdf`);
        const pdf = await p.context.request.get(suite.base + href);
        expect(pdf.status()).toBe(200);
        expect(pdf.headers()["content-type"]).toBe("application/pdf");
        expect((await pdf.body()).subarray(0, 5).toString("latin1")).toBe("%PDF-");

        // On paper: the summary alone, no buttons, nothing of the page behind it.
        await p.page.emulateMedia({ media: "print" });
        expect(await dialog.getByRole("button", { name: "Print" }).isVisible()).toBe(false);
        expect(await p.page.getByTestId("deal-banner").isVisible()).toBe(false);
        expect(await terms.isVisible()).toBe(true);
        await browsers.shoot(p, `summary-print-${size}`, { fullPage: false });
        await p.page.emulateMedia({ media: "screen" });

        await dialog.getByRole("button", { name: "Close" }).click();
        await dialog.waitFor({ state: "detached" });
        expect(p.pageErrors).toEqual([]);
      }
    } catch (err) {
      await browsers.evidence();
      throw err;
    }
  });
});
