// A full mediation day for three roles in a real browser, at 1280x800 and on a 390x844 phone (touch): axe-core (WCAG
// 2.0/2.1/2.2 A and AA) on every page — sign-in/sign-up, home, the new-session form, an invitation (valid and used),
// the session page for claimant, respondent and mediator in set-up, Step 2, Step 3 and after the deal, the home
// dashboard, the settlement summary, notification settings, unsubscribe — with 0 serious or critical violations,
// and no horizontal scroll on any screen. Every binding act meets the confirm dialog first (Enter in the amount field
// opens it too); the dialog is photographed at both sizes. The mediator's home page, left open in another tab at
// both sizes, updates live (no reload) through a knock, Step 2, Step 3 and the deal; the ledger's convergence chart
// is on the mediator's page; the settlement summary shows the terms with the deal's amount filled in.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../server/src/server";
import {
  Browsers,
  chooseCreatorRole,
  confirmAct,
  fillSignUp,
  haveChromium,
  type Participant,
  signUpAndAccept,
  startStack,
} from "./harness";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = "correct horse battery";
const TITLE = "Lee v. Northwind Freight";

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

interface Overflow {
  scrollWidth: number;
  innerWidth: number;
  /** the width the browser was opened at: a phone's layout viewport widens to fit wide content (innerWidth grows
   * with it), so the check is against the device's width, not innerWidth alone */
  deviceWidth: number;
  /** the widest elements that reach past the viewport's right edge */
  offenders: string[];
}

interface ScreenResult {
  screen: string;
  size: "1280" | "390";
  violations: AxeViolation[];
  overflow: Overflow;
}

describe.skipIf(!haveChromium)(
  "browser: accessibility of every page at 1280 px and on a 390 px phone",
  () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "bc-a11y-"));
    const browsers = new Browsers(tmp, "bc-a11y-screens-");
    let server: RunningServer | undefined;
    let base = "";
    const results: ScreenResult[] = [];
    const dialogShots: string[] = [];

    beforeAll(async () => {
      if (!haveChromium) return;
      const stack = await startStack(tmp);
      server = stack.server;
      base = stack.base;
    });

    afterAll(async () => {
      await browsers.closeAll();
      await server?.close();
      rmSync(tmp, { recursive: true, force: true });
      browsers.printShots("Accessibility e2e screenshots");
      if (dialogShots.length > 0) console.log(`Confirm dialog screenshots:\n  ${dialogShots.join("\n  ")}\n`);
    });

    it("0 serious or critical axe violations and no horizontal scroll on every screen; every binding act confirmed", {
      timeout: 240_000,
    }, async () => {
      try {
        await scenario();
      } catch (err) {
        await browsers.evidence();
        throw err;
      } finally {
        report();
      }
      const serious = results.flatMap((r) =>
        r.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map(
            (v) =>
              `${r.screen} @${r.size}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
          ),
      );
      expect(serious, "serious or critical axe violations").toEqual([]);
      const overflowing = results
        .filter((r) => r.overflow.scrollWidth > Math.min(r.overflow.innerWidth, r.overflow.deviceWidth))
        .map(
          (r) =>
            `${r.screen} @${r.size}: scrollWidth ${r.overflow.scrollWidth} > innerWidth ${r.overflow.innerWidth} (device ${r.overflow.deviceWidth}); ${r.overflow.offenders.join("; ")}`,
        );
      expect(
        overflowing,
        "screens wider than the viewport (document.documentElement.scrollWidth > innerWidth, and than the device's width)",
      ).toEqual([]);
      for (const p of browsers.people) expect(p.pageErrors, `${p.name} page errors`).toEqual([]);
    });

    function report(): void {
      const lines = results.map((r) => {
        const counts = r.violations.map((v) => `${v.id}/${v.impact}`).join(", ") || "none";
        const width = `scrollWidth ${r.overflow.scrollWidth}/${r.overflow.deviceWidth}`;
        return `  ${r.screen.padEnd(34)} ${r.size.padEnd(5)} ${width.padEnd(22)} violations: ${counts}`;
      });
      console.log(
        `\naxe (${TAGS.join(", ")}) and width (scrollWidth/device width), per screen:\n${lines.join("\n")}\n`,
      );
      for (const r of results)
        if (r.overflow.offenders.length > 0)
          console.log(
            `  [${r.screen} @${r.size}] wider than ${r.overflow.deviceWidth} px:\n    ${r.overflow.offenders.join("\n    ")}`,
          );
      for (const r of results) {
        for (const v of r.violations) {
          console.log(
            `  [${r.screen} @${r.size}] ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(" ")).join("\n    ")}`,
          );
        }
      }
    }

    /** axe and the width check on the page as it is now. */
    async function check(p: Participant, screen: string): Promise<void> {
      const size = p.page.viewportSize()?.width === PHONE.width ? "390" : "1280";
      // Let the page settle (fonts, the live state) before measuring, as its person sees it: in front (a tab behind
      // another, like the mediator's session behind the home page, draws no frames, so the deal banner's entrance
      // would stay at its first, transparent frame) and with entrance animations played to their end.
      await p.page.waitForLoadState("load");
      await p.page.bringToFront();
      await p.page.evaluate(() =>
        Promise.all(
          document
            .getAnimations()
            .filter((a) => Number.isFinite(Number(a.effect?.getComputedTiming().endTime)))
            .map((a) => a.finished.catch(() => undefined)),
        ),
      );
      const present = await p.page.evaluate(() => "axe" in window);
      if (!present) await p.page.addScriptTag({ path: AXE });
      const violations = await p.page.evaluate(async (values) => {
        const axe = (
          window as unknown as {
            axe: { run(ctx: Document, opts: unknown): Promise<{ violations: AxeViolation[] }> };
          }
        ).axe;
        const out = await axe.run(document, { runOnly: { type: "tag", values } });
        return out.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.map((n) => ({ target: n.target })),
        }));
      }, TAGS);
      const deviceWidth = p.page.viewportSize()?.width ?? 0;
      const overflow = await p.page.evaluate((deviceWidth) => {
        const innerWidth = Math.min(window.innerWidth, deviceWidth);
        const scrollWidth = document.documentElement.scrollWidth;
        const offenders: Array<{ what: string; right: number; width: number }> = [];
        if (scrollWidth > innerWidth) {
          for (const el of Array.from(document.body.querySelectorAll<HTMLElement>("*"))) {
            const r = el.getBoundingClientRect();
            if (r.right <= innerWidth + 0.5 || r.width === 0) continue;
            // The innermost offenders (no child of theirs reaches past the edge): what forces the page wider.
            if (Array.from(el.children).some((c) => c.getBoundingClientRect().right > innerWidth + 0.5))
              continue;
            const cls =
              typeof el.className === "string" && el.className
                ? `.${el.className.trim().split(/\s+/).join(".")}`
                : "";
            const label = el.getAttribute("aria-label") ?? el.id ?? "";
            offenders.push({
              what: `${el.tagName.toLowerCase()}${cls}${label ? `[${label}]` : ""}`,
              right: Math.round(r.right),
              width: Math.round(r.width),
            });
          }
        }
        offenders.sort((a, b) => b.right - a.right);
        return {
          scrollWidth,
          innerWidth: window.innerWidth,
          deviceWidth,
          offenders: offenders
            .slice(0, 10)
            .map((o) => `${o.what} (right edge ${o.right} px, width ${o.width} px)`),
        };
      }, deviceWidth);
      results.push({ screen, size, violations, overflow });
    }

    /** Both sizes of one screen. */
    async function checkBoth(desk: Participant, phone: Participant, screen: string): Promise<void> {
      await check(desk, screen);
      await check(phone, screen);
    }

    async function signIn(p: Participant, email: string): Promise<void> {
      await p.page.goto(`${base}/signin`);
      await p.page.getByLabel("Email").fill(email);
      await p.page.getByLabel("Password").fill(PASSWORD);
      await p.page.getByRole("button", { name: "Sign in" }).click();
      await p.page.getByRole("heading", { name: /Welcome/ }).waitFor();
    }

    async function openSession(p: Participant, url: string): Promise<void> {
      await p.page.goto(url);
      await p.page.getByRole("heading", { name: TITLE, level: 1 }).waitFor();
    }

    async function waitForText(ps: Participant[], text: string | RegExp): Promise<void> {
      for (const p of ps) await p.page.getByText(text).first().waitFor({ timeout: 60_000 });
    }

    async function shootDialog(p: Participant, moment: string): Promise<void> {
      const file = path.join(browsers.shots, `dialog-${p.name}-${moment}.png`);
      await p.page.screenshot({ path: file, animations: "disabled" });
      const box = await p.page.getByRole("dialog").boundingBox();
      dialogShots.push(
        `${file} (dialog at x ${Math.round(box?.x ?? -1)}, width ${Math.round(box?.width ?? -1)} in a ${p.page.viewportSize()?.width} px viewport)`,
      );
      // The page with the dialog open is a screen too: axe and the width check.
      await check(p, `confirm dialog open (${moment})`);
    }

    async function scenario(): Promise<void> {
      // Refusals the scenario causes on purpose (a used invitation, a made-up unsubscribe token) are logged by the browser.
      const expectedConsole = [/status of (400|404|409|410)/];
      // bypassCSP: the app's policy (script-src 'self') would refuse the injected axe-core script.
      const phoneOpts = { viewport: PHONE, isMobile: true, hasTouch: true, expectedConsole, bypassCSP: true };
      const [claimant, respondent, mediator] = await Promise.all([
        browsers.open("claimant", { viewport: DESKTOP, expectedConsole, bypassCSP: true }),
        browsers.open("respondent", { viewport: DESKTOP, expectedConsole, bypassCSP: true }),
        browsers.open("mediator", { viewport: DESKTOP, expectedConsole, bypassCSP: true }),
      ]);
      const [claimantM, respondentM, mediatorM] = await Promise.all([
        browsers.open("claimant-phone", phoneOpts),
        browsers.open("respondent-phone", phoneOpts),
        browsers.open("mediator-phone", phoneOpts),
      ]);

      // Sign-up and sign-in, before anyone has an account.
      await claimant.page.goto(`${base}/signup`);
      await claimantM.page.goto(`${base}/signup`);
      await claimantM.page.getByRole("heading", { name: "Create your Backchannel account" }).waitFor();
      await checkBoth(claimant, claimantM, "sign-up");
      await mediator.page.goto(`${base}/signin`);
      await mediatorM.page.goto(`${base}/signin`);
      await mediatorM.page.getByRole("heading", { name: "Sign in to Backchannel" }).waitFor();
      await checkBoth(mediator, mediatorM, "sign-in");

      // The claimant's attorney signs up (on the desktop) and signs in on the phone too: home and the new-session form.
      const claimantEmail = await fillSignUp(claimant, "Claire Claimant");
      await claimant.page.getByRole("heading", { name: "New session" }).waitFor();
      // After navigation the focus is on the page's heading, not the body.
      await expect.poll(() => claimant.page.evaluate(() => document.activeElement?.tagName)).toBe("H1");
      await signIn(claimantM, claimantEmail);
      await checkBoth(claimant, claimantM, "home + new-session form");

      // The creator's role has no default: creating without it says what to choose.
      await claimant.page.getByLabel("Title").fill(TITLE);
      await claimant.page.getByRole("button", { name: "Create session" }).click();
      await claimant.page
        .getByRole("alert")
        .getByText("Choose whether you are on the claimant side, on the respondent side, or the mediator.")
        .waitFor();
      await claimantM.page.getByRole("button", { name: "Create session" }).click();
      await claimantM.page
        .getByRole("alert")
        .getByText(/Choose whether you are/)
        .waitFor();
      await checkBoth(claimant, claimantM, "new-session form, role missing");

      await claimant.page.getByRole("button", { name: /Mediation day/ }).click();
      await claimant.page.getByLabel("Step 2 (sealed numbers) lasts: amount").fill("40");
      await claimant.page.getByLabel("Step 2 (sealed numbers) lasts: unit").selectOption("seconds");
      await claimant.page
        .getByLabel(/Terms \(everything except the amount\)/)
        .fill("Release of all claims. Payment of $_____ within 30 days. Confidentiality.");
      await chooseCreatorRole(claimant, "claimant");
      await claimant.page.getByRole("button", { name: "Create session" }).click();
      await claimant.page.waitForURL(/\/sessions\//);
      await claimant.page.getByRole("heading", { name: TITLE, level: 1 }).waitFor();
      const sessionUrl = claimant.page.url();

      // Invitations: a valid link, looked at before signing up, at both sizes.
      await claimant.page.getByLabel("Invite", { exact: true }).selectOption("respondent");
      await claimant.page.getByRole("button", { name: "Create invitation link" }).click();
      const respondentLink = await claimant.page
        .getByLabel("Invitation link for the respondent side")
        .inputValue();
      await claimant.page.getByLabel("Invite", { exact: true }).selectOption("mediator");
      await claimant.page.getByRole("button", { name: "Create invitation link" }).click();
      const mediatorLink = await claimant.page.getByLabel("Invitation link for a mediator").inputValue();
      await respondent.page.goto(respondentLink);
      await respondentM.page.goto(respondentLink);
      for (const p of [respondent, respondentM])
        await p.page.getByRole("heading", { name: /You're invited/ }).waitFor();
      expect(
        await respondent.page.getByText("a member of the respondent side (the side that pays)").count(),
      ).toBe(1);
      await checkBoth(respondent, respondentM, "invitation (valid)");

      await signUpAndAccept(respondent, respondentLink, "Ray Respondent");
      await signUpAndAccept(mediator, mediatorLink, "Mia Mediator");
      // The used link: it cannot be used again, said once; the inviter no longer gets "Copy link" for it.
      await respondentM.page.goto(respondentLink);
      await mediatorM.page.goto(mediatorLink);
      for (const p of [respondentM, mediatorM])
        await p.page.getByRole("heading", { name: "This invitation cannot be used" }).waitFor();
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, as a person sees it
      const usedText = await respondentM.page.locator("main").evaluate((m) => (m as HTMLElement).innerText);
      expect(usedText.match(/new (one|link)/g)?.length, `said once: ${usedText}`).toBe(1);
      await check(respondentM, "invitation (used)");
      await mediator.page.goto(respondentLink);
      await mediator.page.getByRole("heading", { name: "This invitation cannot be used" }).waitFor();
      await check(mediator, "invitation (used)");
      await expect
        .poll(() => claimant.page.getByRole("button", { name: /Copy link|Copied/ }).count())
        .toBe(0);
      await claimant.page
        .getByText(/Invitation link for the respondent side: used \(accepted by Ray Respondent\)/)
        .waitFor();

      // Everyone on the session page, at both sizes: set-up.
      await signIn(respondentM, respondent.email!);
      await signIn(mediatorM, mediator.email!);
      for (const p of [claimantM, respondentM, mediatorM]) await openSession(p, sessionUrl);
      for (const p of [mediator, respondent]) await p.page.goto(sessionUrl);
      for (const p of [claimant, respondent, mediator])
        await p.page.getByRole("heading", { name: TITLE, level: 1 }).waitFor();
      await mediator.page.getByText("Ray Respondent joined as the respondent side.").first().waitFor();
      // The rules give the proposal windows as they are: no "48 hours to agree" in a day of 40 s + 8 hours.
      const rules = claimant.page.locator("section.rules");
      await rules.getByText(/the other side has 8 hours to agree/).waitFor();
      expect(await rules.getByText(/48 hours to agree|7 days to accept/).count()).toBe(0);
      await checkBoth(claimant, claimantM, "session: claimant, set-up");
      await checkBoth(respondent, respondentM, "session: respondent, set-up");
      await checkBoth(mediator, mediatorM, "session: mediator, set-up");

      // The mediator's home page, open in another tab at both sizes for the rest of the day: it is never reloaded.
      const homeOf = async (p: Participant, name: string): Promise<Participant> => {
        const page = await p.context.newPage();
        const home: Participant = { name, context: p.context, page, pageErrors: [], leaks: [] };
        page.on("pageerror", (err) => home.pageErrors.push(err.message));
        await page.goto(`${base}/`);
        await page.getByRole("heading", { name: "Your sessions" }).waitFor();
        browsers.people.push(home);
        return home;
      };
      const mediatorHome = await homeOf(mediator, "mediator-home");
      const mediatorHomeM = await homeOf(mediatorM, "mediator-home-phone");
      const homeLine = (home: Participant) =>
        home.page.locator("article.session-line").filter({ hasText: TITLE });
      const lineSays = async (text: string | RegExp) => {
        for (const home of [mediatorHome, mediatorHomeM])
          await homeLine(home).getByText(text).first().waitFor({ timeout: 60_000 });
      };
      await lineSays("Step 1 — terms");
      await lineSays(/Online: claimant side, respondent side/);
      await checkBoth(mediatorHome, mediatorHomeM, "home: dashboard, set-up");
      await browsers.shoot(mediatorHome, "home-setup-1280", { fullPage: false });
      await browsers.shoot(mediatorHomeM, "home-setup-390", { fullPage: false });

      // A knock: "Go to the claimant side" moves the mediator and switches the Rooms panel to that caucus.
      await claimant.page.getByRole("button", { name: "Ask for the mediator" }).click();
      // The home page puts the knock first, live.
      await lineSays("The claimant side asked for you.");
      for (const home of [mediatorHome, mediatorHomeM])
        await home.page
          .getByRole("region", { name: /Needs you/ })
          .getByText(TITLE)
          .waitFor();
      await checkBoth(mediatorHome, mediatorHomeM, "home: dashboard, a knock");
      await mediator.page.getByRole("button", { name: "Go to the claimant side" }).click();
      await expect.poll(() => homeLine(mediatorHome).getByText("asked for you").count()).toBe(0);
      await expect
        .poll(() => mediator.page.getByRole("tab", { name: /Claimant caucus/ }).getAttribute("aria-selected"))
        .toBe("true");

      // Approving the terms is binding: the dialog first, focus on the safe choice, Escape cancels.
      await claimant.page.getByRole("button", { name: "Approve version 1" }).click();
      const dialog = claimant.page.getByRole("dialog");
      await dialog
        .getByText("Approving also accepts this session's rules and start time.", { exact: false })
        .waitFor();
      expect(await claimant.page.evaluate(() => document.activeElement?.textContent)).toBe("Not yet");
      await claimant.page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      expect(await claimant.page.getByText("approved version 1").count()).toBe(0);
      expect(await claimant.page.evaluate(() => document.activeElement?.textContent)).toBe(
        "Approve version 1",
      );
      await claimant.page.getByRole("button", { name: "Approve version 1" }).click();
      await confirmAct(claimant, "Approve version 1");
      // The claimant's approval reaches the respondent's page by a push: what its confirmation says depends on it.
      await waitForText([respondent], "approved version 1");
      await respondent.page.getByRole("button", { name: "Approve version 1" }).click();
      const approveText = await confirmAct(respondent, "Approve version 1");
      expect(approveText).toContain("The claimant side has approved this version");
      await waitForText([claimant, respondent, mediator], "Step 2 — sealed numbers");
      await lineSays("Step 2 — sealed numbers");
      await lineSays(/closes in \d/);

      // Step 2: Enter in the amount field opens the dialog and commits nothing; the dialog's button commits.
      const demandField = claimant.page.getByLabel("Enter your side's demand");
      await demandField.fill("150,000");
      await demandField.press("Enter");
      const numberDialog = claimant.page.getByRole("dialog");
      await numberDialog.waitFor();
      expect(await numberDialog.textContent()).toContain(
        "If the respondent's offer is at or above $150,000.00, a deal is made at the deadline at a point between the two.",
      );
      expect(await claimant.page.getByTestId("own-number").textContent()).toContain(
        "has not entered a number yet",
      );
      await shootDialog(claimant, "step2-number");
      await confirmAct(claimant, "Enter demand to $150,000.00");
      await expect.poll(() => claimant.page.getByTestId("own-number").textContent()).toContain("$150,000.00");
      await respondent.page.getByLabel("Enter your side's offer").fill("120,000");
      await respondent.page.getByRole("button", { name: "Enter number" }).click();
      await confirmAct(respondent, "Enter offer to $120,000.00");
      await mediator.page
        .getByText(/Respondent entered their number/)
        .first()
        .waitFor();
      // The phone: the same dialog, photographed, then cancelled.
      await respondentM.page.getByLabel("Change your side's number to").fill("125,000");
      await respondentM.page.getByLabel("Change your side's number to").press("Enter");
      await respondentM.page.getByRole("dialog").waitFor();
      await shootDialog(respondentM, "step2-number");
      await respondentM.page.getByRole("dialog").getByRole("button", { name: "Go back and check" }).click();
      await respondentM.page.getByRole("dialog").waitFor({ state: "detached" });
      await respondentM.page.getByLabel("Change your side's number to").fill("");
      await checkBoth(claimant, claimantM, "session: claimant, Step 2");
      await checkBoth(respondent, respondentM, "session: respondent, Step 2");
      await checkBoth(mediator, mediatorM, "session: mediator, Step 2");

      // Step 3 (no overlap at the deadline).
      await waitForText(
        [claimant, respondent, mediator, claimantM, respondentM, mediatorM],
        "Step 3 — live bidding",
      );
      await checkBoth(claimant, claimantM, "session: claimant, Step 3");
      await checkBoth(respondent, respondentM, "session: respondent, Step 3");
      await checkBoth(mediator, mediatorM, "session: mediator, Step 3");
      await lineSays("Step 3 — live bidding");
      await checkBoth(mediatorHome, mediatorHomeM, "home: dashboard, Step 3");

      // The mediator conveys two offers: the ledger's convergence chart is drawn (SVG with a title and a table).
      const ledger = mediator.page.locator("section.ledger");
      for (const [from, amount] of [
        ["claimant", "170,000"],
        ["respondent", "110,000"],
      ] as const) {
        await ledger.getByLabel("Kind", { exact: true }).selectOption("conveyed");
        await ledger.getByLabel("From", { exact: true }).selectOption(from);
        await ledger.getByLabel(/Amount conveyed/).fill(amount);
        await ledger.getByRole("button", { name: "Record in the ledger" }).click();
        await expect.poll(() => ledger.getByLabel(/Amount conveyed/).inputValue()).toBe("");
      }
      await ledger.locator('svg[role="img"]').waitFor();
      expect(await ledger.locator('svg[role="img"] title').textContent()).toMatch(/Convergence/);
      await respondentM.page.locator("section.ledger").locator('svg[role="img"]').waitFor();
      await checkBoth(mediator, respondentM, "session: ledger chart");

      // The mediator's proposal (at the desk, behind "Propose a number…"): only answer windows that fit in Step 3
      // are offered, and the page says so.
      await mediator.page.getByRole("button", { name: "Propose a number…" }).click();
      const windowSelect = mediator.page.getByLabel("Each side answers within");
      const windowOptions = await windowSelect.locator("option").allTextContents();
      expect(windowOptions).not.toContain("7 days");
      expect(windowOptions).not.toContain("24 hours");
      await mediator.page.getByTestId("answer-window-capped").waitFor();
      await mediator.page.getByLabel(/Proposed amount/).fill("135,000");
      await mediator.page.getByRole("button", { name: "Put $135,000.00 to both sides" }).click();
      await shootDialog(mediator, "step3-proposal");
      await confirmAct(mediator, "Put $135,000.00 to both sides");
      await mediatorM.page.getByLabel(/Proposed amount/).waitFor({ state: "detached" });

      // Accepting and rejecting are each confirmed; the phone's dialog is photographed.
      await claimant.page.getByRole("button", { name: "Accept $135,000.00" }).click();
      const acceptText = await confirmAct(claimant, "Accept $135,000.00");
      expect(acceptText).toContain("If the other side accepts too, a deal is made at $135,000.00");
      await respondentM.page.getByRole("button", { name: "Reject" }).click();
      await respondentM.page.getByRole("dialog").waitFor();
      await shootDialog(respondentM, "step3-reject");
      await confirmAct(respondentM, "Reject $135,000.00");
      await waitForText(
        [claimant, respondent, mediator],
        /The last mediator's proposal was not accepted|The proposal was not accepted/,
      );

      // Withdrawing asks in the same dialog; kept negotiating.
      await claimant.page.getByRole("button", { name: "Withdraw from the negotiation…" }).click();
      await claimant.page
        .getByRole("dialog")
        .getByText("Withdrawing ends the session for everyone")
        .waitFor();
      await claimant.page.getByRole("dialog").getByRole("button", { name: "Keep negotiating" }).click();
      await claimant.page.getByRole("dialog").waitFor({ state: "detached" });

      // A Step 3 change that meets the other side's standing number: the dialog says a deal is made at once.
      await respondent.page.getByLabel("Change your side's number to").fill("160,000");
      await respondent.page.getByRole("button", { name: "Change number" }).click();
      await respondent.page.getByRole("dialog").waitFor();
      await shootDialog(respondent, "step3-number");
      const step3Text = await confirmAct(respondent, "Change offer to $160,000.00");
      expect(step3Text).toContain(
        "If the claimant's standing demand is at or below $160,000.00, a deal is made at once at a point between the two.",
      );
      for (const p of [claimant, respondent, mediator, claimantM, respondentM, mediatorM])
        await p.page.getByTestId("deal-amount").first().waitFor({ timeout: 20_000 });
      await checkBoth(claimant, claimantM, "session: claimant, after the deal");
      await checkBoth(respondent, respondentM, "session: respondent, after the deal");
      await checkBoth(mediator, mediatorM, "session: mediator, after the deal");

      // The home page, never reloaded, says how it ended: a deal, among the ended sessions, nothing waiting.
      await lineSays("Settled — a deal was made");
      for (const home of [mediatorHome, mediatorHomeM])
        await home.page.getByRole("region", { name: /Ended/ }).getByText(TITLE).waitFor();
      await checkBoth(mediatorHome, mediatorHomeM, "home: dashboard, after the deal");
      await browsers.shoot(mediatorHome, "home-deal-1280", { fullPage: false });
      await browsers.shoot(mediatorHomeM, "home-deal-390", { fullPage: false });

      // The settlement summary on the phone: the terms with the deal's amount in the blank.
      const dealAmount = (
        (await claimantM.page.getByTestId("deal-amount").first().textContent()) ?? ""
      ).trim();
      expect(dealAmount).toMatch(/^\$1[56]\d,\d{3}\.\d{2}$/);
      await claimantM.page
        .getByTestId("deal-banner")
        .getByRole("button", { name: "Settlement summary" })
        .click();
      const summary = claimantM.page.getByRole("dialog", { name: TITLE });
      await summary.waitFor();
      expect(await summary.getByTestId("settlement-terms").textContent()).toContain(
        `Payment of ${dealAmount} within 30 days`,
      );
      expect(await summary.textContent()).not.toContain("_____");
      await check(claimantM, "settlement summary");
      await browsers.shoot(claimantM, "summary-390", { fullPage: false });
      await summary.getByRole("button", { name: "Close" }).click();

      // Notification settings and unsubscribe.
      for (const p of [claimant, claimantM]) {
        await p.page.goto(`${base}/settings/notifications`);
        await p.page.getByRole("heading", { name: "Notifications", exact: true }).waitFor();
        await p.page.getByRole("checkbox").first().waitFor();
      }
      await checkBoth(claimant, claimantM, "notification settings");
      for (const p of [respondent, respondentM]) {
        await p.page.goto(`${base}/unsubscribe?token=not-a-real-token`);
        await p.page.getByRole("heading", { name: "Unsubscribe" }).waitFor();
      }
      await checkBoth(respondent, respondentM, "unsubscribe");
    }
  },
);
