// End to end in a real browser: a mediator records conveyed demands and offers (and a drafted bracket) through the
// ledger's form; the offer tracker shows them by round, the convergence chart is there for people and screen
// readers, the CSV downloads, and the ledger section fits a desktop and a 390 px phone without sideways scrolling.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { browserSuite, fillSignUp, haveChromium, type Participant, signUpAndAccept } from "./harness";

const TITLE = 'Smith, "Acme" v. Jones/Widgets';

/**
 * How far the ledger section is wider than it shows (0 when nothing in it scrolls sideways), how far its right
 * edge is past the window's, and which of its elements reach past its right edge (to say what to fix). Elements
 * of the rest of the page are other panels' business: those are only reported (pageOffenders).
 */
async function overflow(page: Page): Promise<{ section: number; pastWindow: number; offenders: string[] }> {
  return page.evaluate(() => {
    const describe = (el: Element, edge: number) =>
      `${el.tagName.toLowerCase()}.${el.getAttribute("class") ?? ""} ${Math.round(el.getBoundingClientRect().right - edge)}px`;
    const section = document.querySelector("section.ledger") as HTMLElement;
    const right = section.getBoundingClientRect().right;
    const offenders = Array.from(section.querySelectorAll("*"))
      .filter((el) => el.getBoundingClientRect().right > right + 0.5)
      .slice(0, 8)
      .map((el) => describe(el, right));
    return {
      section: section.scrollWidth - section.clientWidth,
      pastWindow: Math.max(0, Math.round(right - document.documentElement.clientWidth)),
      offenders,
    };
  });
}

async function pageOffenders(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const edge = document.documentElement.clientWidth;
    return Array.from(document.body.querySelectorAll("*"))
      .filter((el) => el.getBoundingClientRect().right > edge + 0.5)
      .slice(0, 8)
      .map((el) => `${el.tagName.toLowerCase()}.${el.getAttribute("class") ?? ""}`);
  });
}

describe.skipIf(!haveChromium)("browser: the ledger as an offer tracker", () => {
  const suite = browserSuite("ledger", "Ledger e2e screenshots");
  const { browsers, tmp } = suite;

  it("rounds table, chart and CSV from conveyed items; no sideways overflow at 1280x800 and 390x844", {
    timeout: 90_000,
  }, async () => {
    const mediator = await browsers.open("mediator", { viewport: { width: 1280, height: 800 } });
    try {
      await scenario(mediator);
    } catch (err) {
      await browsers.evidence();
      throw err;
    }
  });

  async function scenario(mediator: Participant): Promise<void> {
    const { page } = mediator;
    await page.goto(`${suite.base}/signup`);
    await fillSignUp(mediator, "Mia Mediator");
    await page.getByRole("heading", { name: "New session" }).waitFor();
    await page.getByLabel("Title").fill(TITLE);
    await page.getByLabel(/The mediator/).check();
    await page.getByRole("button", { name: "Create session" }).click();
    await page.waitForURL(/\/sessions\//);
    await page.getByRole("heading", { name: TITLE }).waitFor();

    const ledger = page.locator("section.ledger");
    const record = async (from: "claimant" | "respondent", amount: string) => {
      await ledger.getByLabel("Kind", { exact: true }).selectOption("conveyed");
      await ledger.getByLabel("From", { exact: true }).selectOption(from);
      await ledger.getByLabel(/Amount conveyed/).fill(amount);
      await ledger.getByRole("button", { name: "Record in the ledger" }).click();
      await expect.poll(() => ledger.getByLabel(/Amount conveyed/).inputValue()).toBe("");
    };
    await record("claimant", "500,000");
    await record("respondent", "50,000");
    await record("claimant", "350,000");
    await record("respondent", "125,000.50");
    await record("respondent", "150,000");
    // A drafted bracket: in the ledger list, never in the tracker.
    await ledger.getByLabel("Kind", { exact: true }).selectOption("bracket");
    await ledger.getByLabel("From", { exact: true }).selectOption("claimant");
    await ledger.getByLabel(/We go to/).fill("300,000");
    await ledger.getByLabel(/If you go to/).fill("200,000");
    await ledger.getByRole("button", { name: "Record in the ledger" }).click();
    await ledger.getByText(/we go to \$300,000\.00 if you go to \$200,000\.00/).waitFor();

    const table = ledger.locator("table.rounds");
    const rows = table.locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.nth(0).textContent()).toMatch(/\$500,000\.00[\s\S]*\$50,000\.00[\s\S]*\$450,000\.00/);
    expect(await rows.nth(1).textContent()).toMatch(/\$350,000\.00[\s\S]*\$125,000\.50[\s\S]*\$224,999\.50/);
    // The respondent moves again: a third round, waiting for the answer, the demand unchanged.
    expect(await rows.nth(2).textContent()).toMatch(/\$350,000\.00 \(unchanged\)[\s\S]*\$150,000\.00/);
    expect(await table.textContent()).not.toContain("300,000");
    expect(await table.textContent()).toMatch(/signal only/);

    const chart = ledger.locator('svg[role="img"]');
    await chart.waitFor();
    const tableId = await table.getAttribute("id");
    expect(await chart.getAttribute("aria-describedby")).toBe(tableId);
    expect(await chart.locator("title").textContent()).toMatch(/Convergence/);
    expect(await chart.locator("desc").textContent()).toMatch(/from \$500,000\.00 to \$350,000\.00/);
    expect(await chart.locator("circle").count()).toBe(2);
    expect(await chart.locator("rect").count()).toBe(3);
    // No text in the chart is drawn under 12 px.
    const fontSizes = async () =>
      chart.evaluate((svg) =>
        Array.from(svg.querySelectorAll("text")).map((t) => {
          const scale = svg.getBoundingClientRect().width / (svg as SVGSVGElement).viewBox.baseVal.width;
          return Number.parseFloat(getComputedStyle(t).fontSize) * scale;
        }),
      );
    expect(Math.min(...(await fontSizes()))).toBeGreaterThanOrEqual(12);

    // The CSV.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      ledger.getByRole("button", { name: "Download CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("Smith, Acme v. Jones Widgets ledger.csv");
    const csvPath = path.join(tmp, "ledger.csv");
    await download.saveAs(csvPath);
    const csv = readFileSync(csvPath, "utf8").replace(/^\uFEFF/, "");
    const lines = csv.split("\r\n");
    expect(lines).toHaveLength(5); // header, 3 rounds, and the final CRLF
    expect(lines[2]).toMatch(/^2,Claimant,350000\.00,\d{4}-\d\d-\d\dT[\d:.]+Z,conveyed,,125000\.50,/);
    expect(csv).not.toContain("300000");

    expect(await overflow(page)).toEqual({ section: 0, pastWindow: 0, offenders: [] });
    const others = await pageOffenders(page);
    if (others.length > 0) console.warn(`outside the ledger, wider than the window: ${others.join(", ")}`);
    await ledger.scrollIntoViewIfNeeded();
    console.log(`desktop: ${await browsers.shoot(mediator, "ledger-1280x800")}`);
    const sectionShot = path.join(browsers.shots, "ledger-section-1280.png");
    await ledger.screenshot({ path: sectionShot });
    console.log(`desktop ledger section: ${sectionShot}`);

    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => rows.count()).toBe(3);
    await chart.waitFor();
    expect(Math.min(...(await fontSizes()))).toBeGreaterThanOrEqual(12);
    expect(await overflow(page)).toEqual({ section: 0, pastWindow: 0, offenders: [] });
    const othersPhone = await pageOffenders(page);
    if (othersPhone.length > 0)
      console.warn(`outside the ledger, wider than the window: ${othersPhone.join(", ")}`);
    const chartBox = await chart.boundingBox();
    expect(chartBox!.width).toBeLessThanOrEqual(390);
    console.log(`phone: ${await browsers.shoot(mediator, "ledger-390x844")}`);
    const phoneSection = path.join(browsers.shots, "ledger-section-390.png");
    await ledger.screenshot({ path: phoneSection });
    console.log(`phone ledger section: ${phoneSection}`);
    const phoneTracker = path.join(browsers.shots, "ledger-tracker-390.png");
    await ledger.locator(".offer-tracker").screenshot({ path: phoneTracker });
    console.log(`phone offer tracker: ${phoneTracker}`);
    expect(mediator.pageErrors).toEqual([]);

    // The respondent side, on a desktop: the same rounds (its ledger sits in the narrower side column, as cards);
    // the claimant's drafted bracket is nowhere on its page.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByLabel("Invite", { exact: true }).selectOption("respondent");
    await page.getByRole("button", { name: "Create invitation link" }).click();
    const link = await page.getByLabel("Invitation link for the respondent side").inputValue();
    const respondent = await browsers.open("respondent", { viewport: { width: 1280, height: 800 } });
    await signUpAndAccept(respondent, link, "Ray Respondent");
    const theirLedger = respondent.page.locator("section.ledger");
    await expect.poll(() => theirLedger.locator("table.rounds tbody tr").count()).toBe(3);
    await theirLedger.locator('svg[role="img"]').waitFor();
    expect(await respondent.page.locator("body").textContent()).not.toContain("300,000");
    expect(await overflow(respondent.page)).toEqual({ section: 0, pastWindow: 0, offenders: [] });
    const sideShot = path.join(browsers.shots, "ledger-tracker-respondent-1280.png");
    await theirLedger.locator(".offer-tracker").screenshot({ path: sideShot });
    console.log(`respondent's offer tracker at 1280: ${sideShot}`);
    expect(respondent.pageErrors).toEqual([]);
  }
});
