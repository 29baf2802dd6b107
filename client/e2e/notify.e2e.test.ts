// End to end in a real browser: being told wherever you are (issue 8). The built client against the real server:
// toasts and the tab title's unseen count for a knock (on the mediator's page), a proposal (on the sides' pages) and
// the deal; browser notifications (a spy on `new Notification`) only while the tab is hidden, and never holding an
// amount; the offer of notifications asked for only by a click, its "Not now" remembered; unread messages per room;
// the deal banner kept in view on a phone while scrolled down to the rooms; the invitation mailed; the calendar link
// and deadlines with their zone; the notification settings page; the unsubscribe page without signing in.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../server/src/config";
import { createUnsubscribeTokens, unsubscribeKeyFrom } from "../../server/src/notify/unsubscribe";
import type { RunningServer } from "../../server/src/server";
import { loadOrCreateMasterKey } from "../../server/src/store/crypto";
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

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const TITLE = "Smith v. Acme";
/** The mediator's proposal: a notification must never carry it. */
const PROPOSAL = { typed: "50,000", shown: "$50,000.00", marks: ["50,000", "50000"] };

interface Recorded {
  title: string;
  body: string | null;
  tag: string | null;
}

/**
 * Before any script of the page runs: a spy on `new Notification(...)` (recorded, then passed to the real one) and
 * on requestPermission, and a switch that makes the page hidden or visible again (document.visibilityState and
 * document.hidden, with the visibilitychange event), as a background tab would be.
 */
function installProbes(): void {
  const w = window as unknown as {
    __notifications: Recorded[];
    __permissionRequests: number;
    __setHidden: (hidden: boolean) => void;
    Notification: typeof Notification;
  };
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (hidden ? "hidden" : "visible"),
  });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  w.__setHidden = (h: boolean) => {
    hidden = h;
    document.dispatchEvent(new Event("visibilitychange"));
  };
  w.__notifications = [];
  w.__permissionRequests = 0;
  const Real = window.Notification;
  if (!Real) return;
  function Spy(title: string, options?: NotificationOptions) {
    w.__notifications.push({ title, body: options?.body ?? null, tag: options?.tag ?? null });
    try {
      return new Real(title, options);
    } catch {
      return { close() {}, onclick: null };
    }
  }
  Object.defineProperty(Spy, "permission", { get: () => Real.permission });
  (Spy as unknown as { requestPermission: () => Promise<NotificationPermission> }).requestPermission = () => {
    w.__permissionRequests += 1;
    return Real.requestPermission();
  };
  w.Notification = Spy as unknown as typeof Notification;
}

const notificationsOf = (p: Participant) =>
  p.page.evaluate(() => (window as unknown as { __notifications: Recorded[] }).__notifications);
const permissionRequests = (p: Participant) =>
  p.page.evaluate(() => (window as unknown as { __permissionRequests: number }).__permissionRequests);
const setHidden = (p: Participant, hidden: boolean) =>
  p.page.evaluate((h) => (window as unknown as { __setHidden: (h: boolean) => void }).__setHidden(h), hidden);
const toasts = (p: Participant) => p.page.getByRole("status", { name: "Notices" });
const toast = (p: Participant, title: string) => toasts(p).getByTestId("toast").filter({ hasText: title });

describe.skipIf(!haveChromium)("browser: told wherever you are", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "bc-e2e-notify-"));
  const browsers = new Browsers(tmp, "bc-e2e-notify-screens-");
  let server: RunningServer | undefined;
  let config: Config | undefined;
  let base = "";

  beforeAll(async () => {
    if (!haveChromium) return;
    const stack = await startStack(tmp);
    server = stack.server;
    config = stack.config;
    base = stack.base;
  });

  afterAll(async () => {
    await browsers.closeAll();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
    browsers.printShots("Notification e2e screenshots");
  });

  it("knock, proposal and deal reach each page as toasts, the tab title and (hidden) browser notifications", {
    timeout: 200_000,
  }, async () => {
    try {
      await scenario();
    } catch (err) {
      await browsers.evidence();
      throw err;
    }
  });

  async function scenario(): Promise<void> {
    const [claimant, respondent, mediator] = await Promise.all([
      // The claimant reads deadlines in New York time; the unsubscribe and settings pages may see refusals.
      browsers.open("claimant", {
        viewport: DESKTOP,
        timezoneId: "America/New_York",
        expectedConsole: [/status of 40\d/],
      }),
      browsers.open("respondent", { viewport: DESKTOP }),
      browsers.open("mediator", { viewport: DESKTOP }),
    ]);
    for (const p of [claimant, respondent, mediator]) await p.context.addInitScript(installProbes);
    // The respondent and the mediator allowed notifications; the claimant has not been asked yet.
    for (const p of [respondent, mediator])
      await p.context.grantPermissions(["notifications"], { origin: base });

    // ------------------------------------------------------------ a session with three people
    await claimant.page.goto(`${base}/signup`);
    await fillSignUp(claimant, "Claire Claimant");
    await claimant.page.getByRole("heading", { name: "New session" }).waitFor();
    await claimant.page.getByLabel("Title").fill(TITLE);
    await claimant.page.getByRole("button", { name: /Mediation day/ }).click();
    await claimant.page.getByLabel("Step 2 (sealed numbers) lasts: amount").fill("5");
    await claimant.page.getByLabel("Step 2 (sealed numbers) lasts: unit").selectOption("seconds");
    await chooseCreatorRole(claimant, "claimant");
    await claimant.page.getByRole("button", { name: "Create session" }).click();
    await claimant.page.waitForURL(/\/sessions\//);
    await claimant.page.getByRole("heading", { name: TITLE }).waitFor();
    const sessionId = new URL(claimant.page.url()).pathname.split("/").at(-1)!;

    // The offer of notifications is a card with an explanation; nothing was asked on load. "Not now" sticks.
    const offer = claimant.page.getByRole("complementary", {
      name: "Get told of a deal even when this tab is in the background",
    });
    await offer.waitFor();
    expect(await permissionRequests(claimant)).toBe(0);
    await offer.getByRole("button", { name: "Not now" }).click();
    await offer.waitFor({ state: "detached" });
    await claimant.page.reload();
    await claimant.page.getByRole("heading", { name: TITLE }).waitFor();
    expect(await offer.count()).toBe(0);
    expect(await permissionRequests(claimant)).toBe(0);
    // The mediator's browser already allows them: no card there (checked once the mediator has joined).

    // The respondent is invited by mail; the link is still shown for copying.
    const respondentMail = `ray-${sessionId.slice(0, 8)}@example.test`;
    await claimant.page.getByLabel("Invite", { exact: true }).selectOption("respondent");
    await claimant.page.getByLabel(/Their email address/).fill(respondentMail);
    await claimant.page.getByRole("button", { name: "Send invitation" }).click();
    await claimant.page.getByText(`We emailed the invitation to ${respondentMail}.`).waitFor();
    const respondentLink = await claimant.page
      .getByLabel("Invitation link for the respondent side")
      .inputValue();
    expect(respondentLink).toMatch(new RegExp(`^${base}/invite/`));
    await claimant.page.getByLabel("Invite", { exact: true }).selectOption("mediator");
    await claimant.page.getByRole("button", { name: "Create invitation link" }).click();
    const mediatorLink = await claimant.page.getByLabel("Invitation link for a mediator").inputValue();

    await signUpAndAccept(respondent, respondentLink, "Ray Respondent");
    await signUpAndAccept(mediator, mediatorLink, "Mia Mediator");
    await mediator.page.getByRole("heading", { name: TITLE }).waitFor();
    expect(await mediator.page.getByText("Get told of a deal even when").count()).toBe(0);

    // Joining is news for the others, but nobody was told of anything before their page opened.
    expect(await notificationsOf(mediator)).toEqual([]);

    // ------------------------------------------------------------ Step 3, with deadlines in the viewer's zone
    await claimant.page.getByRole("button", { name: "Skip: terms settled later" }).click();
    await respondent.page.getByRole("button", { name: "Skip: terms settled later" }).click();
    // Nobody enters a number: at the 5-second Step 2 deadline, Step 3 (live bidding) opens.
    for (const p of [claimant, respondent, mediator]) {
      await p.page.getByText("Step 3 — live bidding", { exact: true }).first().waitFor({ timeout: 30_000 });
    }
    const deadlineLine = await claimant.page.locator(".phase-detail").first().textContent();
    const zone = await claimant.page.evaluate(
      () =>
        new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
          .formatToParts(Date.now())
          .find((p) => p.type === "timeZoneName")?.value,
    );
    expect(zone).toMatch(/^E[SD]T$/);
    expect(deadlineLine).toMatch(
      new RegExp(`Deadline: .*\\d:\\d\\d\\s?[AP]M ${zone?.replace("+", "\\+")}\\.`),
    );

    const calendar = claimant.page.getByRole("link", { name: "Add deadlines to calendar" });
    expect(await calendar.getAttribute("href")).toBe(`/api/sessions/${sessionId}/calendar.ics`);
    expect(await calendar.getAttribute("download")).toBe("smith-v-acme-deadlines.ics");
    const ics = await claimant.page.evaluate(async (href) => {
      const res = await fetch(href, { credentials: "same-origin" });
      return { status: res.status, text: await res.text() };
    }, `/api/sessions/${sessionId}/calendar.ics`);
    expect(ics.status, "GET calendar.ics").toBe(200);
    expect(ics.text).toContain("BEGIN:VCALENDAR");

    // ------------------------------------------------------------ a knock, seen: a toast, no count in the title
    const mediatorTitle = () => mediator.page.title();
    await claimant.page.getByRole("button", { name: "Ask for the mediator" }).click();
    await toast(mediator, "The claimant asks for you").waitFor();
    expect(await toast(mediator, "The claimant asks for you").textContent()).toContain(
      "Claire Claimant (claimant) asks the mediator to come to their room in Smith v. Acme.",
    );
    expect(await mediatorTitle()).toMatch(
      /^Step 3 — live bidding — closes in .* · Smith v\. Acme · Backchannel$/,
    );
    expect(await notificationsOf(mediator), "a visible page sends no browser notification").toEqual([]);
    await browsers.shoot(mediator, "toast-knock-desktop", { fullPage: false });
    await mediator.page.setViewportSize(PHONE);
    await browsers.shoot(mediator, "toast-knock-phone", { fullPage: false });
    const phoneToast = await toast(mediator, "The claimant asks for you").boundingBox();
    expect(phoneToast && phoneToast.x >= 0 && phoneToast.x + phoneToast.width <= PHONE.width).toBe(true);
    await mediator.page.setViewportSize(DESKTOP);
    // Dismissed by its labelled close button.
    await mediator.page.getByRole("button", { name: "Dismiss: The claimant asks for you" }).click();
    await toast(mediator, "The claimant asks for you").waitFor({ state: "detached" });

    // ------------------------------------------------------------ unread messages per room
    await claimant.page.getByLabel("Message to Private with the mediator").fill("We can move a little");
    await claimant.page.getByRole("button", { name: "Send" }).click();
    const caucusTab = mediator.page.getByRole("tab", { name: /Claimant caucus/ });
    await expect.poll(() => caucusTab.getAttribute("aria-selected")).toBe("false");
    await expect
      .poll(() => mediator.page.getByTestId("unread-caucus:claimant").textContent())
      .toBe("1 unread");
    await toast(mediator, "Message from Claire Claimant").waitFor();
    await caucusTab.click();
    await mediator.page.getByTestId("unread-caucus:claimant").waitFor({ state: "detached" });
    await mediator.page.getByText("We can move a little").waitFor();

    // ------------------------------------------------------------ a knock while the tab is hidden
    await setHidden(mediator, true);
    await respondent.page.getByRole("button", { name: "Ask for the mediator" }).click();
    await expect
      .poll(mediatorTitle)
      .toMatch(/^\(1\) Step 3 — live bidding.* · Smith v\. Acme · Backchannel$/);
    await expect
      .poll(() => notificationsOf(mediator))
      .toEqual([
        {
          title: "The respondent asks for you",
          body: "Ray Respondent (respondent) asks the mediator to come to their room in Smith v. Acme.",
          tag: `${sessionId}:knock`,
        },
      ]);
    const hiddenKnockAt = Date.now();
    await toast(mediator, "The respondent asks for you").waitFor();
    // Back to the tab: the count goes; the toast leaves by itself after about 8 seconds.
    await setHidden(mediator, false);
    await expect.poll(mediatorTitle).toMatch(/^Step 3/);
    await toast(mediator, "The respondent asks for you").waitFor({ state: "detached", timeout: 15_000 });
    expect(Date.now() - hiddenKnockAt).toBeGreaterThanOrEqual(7_000);

    // ------------------------------------------------------------ a proposal, both sides hidden
    await claimant.context.grantPermissions(["notifications"], { origin: base });
    await setHidden(claimant, true);
    await setHidden(respondent, true);
    await mediator.page.getByRole("button", { name: "Propose a number…" }).click();
    await mediator.page.getByLabel(/Proposed amount/).fill(PROPOSAL.typed);
    await mediator.page.getByRole("button", { name: `Put ${PROPOSAL.shown} to both sides` }).click();
    await confirmAct(mediator, `Put ${PROPOSAL.shown} to both sides`);
    for (const side of [claimant, respondent]) {
      await toast(side, "A proposal to answer").waitFor();
      expect(await toast(side, "A proposal to answer").textContent()).toContain(
        "The mediator put a proposal in Smith v. Acme: your side can accept or reject it.",
      );
      await expect.poll(() => side.page.title()).toMatch(/^\(1\) Step 3 — live bidding/);
      await expect
        .poll(() => notificationsOf(side))
        .toEqual([
          {
            title: "A proposal to answer",
            body: "The mediator put a proposal in Smith v. Acme: your side can accept or reject it.",
            tag: `${sessionId}:proposal`,
          },
        ]);
      await setHidden(side, false);
      await expect.poll(() => side.page.title()).toMatch(/^Step 3/);
    }
    expect(await notificationsOf(mediator), "the mediator is not told of its own proposal").toHaveLength(1);

    // ------------------------------------------------------------ the deal: the respondent's tab is hidden
    await claimant.page.getByRole("button", { name: `Accept ${PROPOSAL.shown}` }).click();
    await confirmAct(claimant, `Accept ${PROPOSAL.shown}`);
    await setHidden(respondent, true);
    await respondent.page.getByRole("button", { name: `Accept ${PROPOSAL.shown}` }).click();
    await confirmAct(respondent, `Accept ${PROPOSAL.shown}`);
    for (const p of [claimant, respondent, mediator]) {
      await toast(p, "Deal reached").waitFor();
      expect(await toast(p, "Deal reached").textContent()).toContain("A deal was made in Smith v. Acme.");
      expect(await p.page.getByTestId("deal-amount").textContent()).toBe(PROPOSAL.shown);
    }
    const dealToastAt = Date.now();
    await expect
      .poll(() => respondent.page.title())
      .toMatch(/^\(1\) Settled — a deal was made · Smith v\. Acme/);
    await expect
      .poll(async () => (await notificationsOf(respondent)).map((n) => n.title))
      .toEqual(["A proposal to answer", "Deal reached"]);
    expect((await notificationsOf(respondent))[1]).toEqual({
      title: "Deal reached",
      body: "A deal was made in Smith v. Acme.",
      tag: `${sessionId}:deal`,
    });
    // Visible pages were not sent a browser notification for the deal; and no notification holds the amount.
    expect((await notificationsOf(claimant)).map((n) => n.title)).toEqual(["A proposal to answer"]);
    for (const p of [claimant, respondent, mediator]) {
      const text = JSON.stringify(await notificationsOf(p));
      for (const m of PROPOSAL.marks) expect(text, `${p.name}'s notifications`).not.toContain(m);
    }
    await setHidden(respondent, false);
    await expect.poll(() => respondent.page.title()).toMatch(/^Settled/);
    await browsers.shoot(claimant, "deal-toast-desktop", { fullPage: false });

    // ------------------------------------------------------------ the deal banner stays in view, on a phone too
    const banner = claimant.page.getByTestId("deal-banner");
    const inView = async () => {
      const box = await banner.boundingBox();
      const amount = await claimant.page.getByTestId("deal-amount").boundingBox();
      const { innerHeight, scrollY } = await claimant.page.evaluate(() => ({
        innerHeight: window.innerHeight,
        scrollY: window.scrollY,
      }));
      return {
        scrolled: scrollY > 200,
        banner: !!box && box.y >= 0 && box.y + box.height <= innerHeight,
        amount: !!amount && amount.y >= 0 && amount.y + amount.height <= innerHeight,
      };
    };
    const all = { scrolled: true, banner: true, amount: true };
    for (const [size, label] of [
      [PHONE, "phone"],
      [DESKTOP, "desktop"],
    ] as const) {
      await claimant.page.setViewportSize(size);
      await claimant.page.getByRole("region", { name: "Rooms" }).scrollIntoViewIfNeeded();
      await claimant.page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await expect.poll(inView, { message: `deal banner at ${label} size` }).toEqual(all);
      await browsers.shoot(claimant, `deal-banner-scrolled-${label}`, { fullPage: false });
    }
    // Folded to one line, it is still there with the amount.
    await claimant.page.setViewportSize(PHONE);
    await claimant.page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await banner.getByRole("button", { name: "Fold" }).click();
    await expect.poll(inView).toEqual(all);
    const folded = await banner.boundingBox();
    expect(folded!.height).toBeLessThan(90);
    await browsers.shoot(claimant, "deal-banner-folded-phone", { fullPage: false });
    await banner.getByRole("button", { name: "Show details" }).click();
    await banner.getByText(/Made by both sides accepting the mediator's proposal/).waitFor();

    // The deal's toast stays until dismissed (the others leave after about 8 seconds).
    const waited = Date.now() - dealToastAt;
    if (waited < 9_000) await claimant.page.waitForTimeout(9_000 - waited);
    expect(await toast(claimant, "Deal reached").count()).toBe(1);
    await claimant.page.getByRole("button", { name: "Dismiss: Deal reached" }).click();
    await toast(claimant, "Deal reached").waitFor({ state: "detached" });

    // ------------------------------------------------------------ the notification settings page
    await claimant.page.setViewportSize(DESKTOP);
    await claimant.page.getByRole("link", { name: "Notifications", exact: true }).click();
    await claimant.page.getByRole("heading", { name: "Notifications", exact: true }).waitFor();
    const dealMail = claimant.page.getByRole("checkbox", { name: "A deal is made: mail" });
    await dealMail.waitFor();
    expect(await dealMail.isChecked()).toBe(true);
    // Only where the channel carries the kind: a knock never goes by mail.
    expect(
      await claimant.page.getByRole("checkbox", { name: "A side asks for the mediator: mail" }).count(),
    ).toBe(0);
    expect(
      await claimant.page.getByRole("checkbox", { name: "A side asks for the mediator: push" }).count(),
    ).toBe(1);
    await dealMail.uncheck();
    await expect.poll(() => dealMail.isEnabled()).toBe(true);
    await claimant.page.reload();
    await dealMail.waitFor();
    expect(await dealMail.isChecked(), "the server kept the choice").toBe(false);
    await claimant.page.getByText("No browser gets push messages yet.").waitFor();
    expect(await claimant.page.getByTestId("permission-line").textContent()).toContain(
      "Browser notifications are on for this site.",
    );
    // Turning on push: a real subscription needs the browser's push service, which this sandbox cannot reach; the
    // page says what happened either way, and never breaks.
    await claimant.page.getByRole("button", { name: "Turn on push for this browser" }).click();
    const pushForm = claimant.page.locator("form").filter({ hasText: "Name for this browser" });
    await expect
      .poll(
        async () =>
          (await pushForm.getByRole("alert").count()) + (await pushForm.getByText("Push is on").count()),
        // The page gives the browser's push service 15 seconds to answer.
        { timeout: 45_000 },
      )
      .toBe(1);
    const pushOutcome = (await pushForm.getByRole("alert").count())
      ? await pushForm.getByRole("alert").textContent()
      : await pushForm.getByText("Push is on").textContent();
    console.log(`Turning on push in headless Chromium: ${pushOutcome}`);
    await browsers.shoot(claimant, "settings-desktop");
    await claimant.page.setViewportSize(PHONE);
    await browsers.shoot(claimant, "settings-phone");

    // ------------------------------------------------------------ unsubscribing, without signing in
    const visitor = await browsers.open("visitor", { viewport: PHONE, expectedConsole: [/status of 40\d/] });
    const key = loadOrCreateMasterKey({
      masterKeyEnv: config!.masterKey,
      dataDir: config!.dataDir,
      log: () => {},
    });
    const token = createUnsubscribeTokens(unsubscribeKeyFrom(key)).sign({
      email: respondent.email!,
      channel: "mail",
      kind: "ended",
    });
    await visitor.page.goto(`${base}/unsubscribe?token=${encodeURIComponent(token)}`);
    await visitor.page.getByRole("heading", { name: "Unsubscribe" }).waitFor();
    expect(await visitor.page.getByTestId("unsubscribe-preview").textContent()).toBe(
      `This turns off mail about “a session ends without a deal” for ${respondent.email}. Nothing else changes.`,
    );
    await browsers.shoot(visitor, "unsubscribe-phone");
    await visitor.page.getByRole("button", { name: "Turn it off" }).click();
    await visitor.page
      .getByText(`You will no longer get mail about “a session ends without a deal” at ${respondent.email}.`)
      .waitFor();
    expect(new URL(visitor.page.url()).pathname).toBe("/unsubscribe");
    await browsers.shoot(visitor, "unsubscribed-phone");
    // A link that is not one: the server's sentence, on the page.
    await visitor.page.goto(`${base}/unsubscribe?token=${"x".repeat(40)}`);
    await visitor.page.getByRole("button", { name: "Turn it off" }).click();
    await expect
      .poll(() => visitor.page.getByRole("alert").textContent())
      .toContain("This unsubscribe link is not valid");

    for (const p of browsers.people) expect(p.pageErrors, `${p.name} page errors`).toEqual([]);
  }
});
