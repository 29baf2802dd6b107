// What the browser end-to-end tests share: finding Chromium (a missing one skips the tests with a warning, and
// fails them when CI=true or REQUIRE_BROWSER=1), building the client as users get it, starting the real server on
// an embedded database, one Chromium profile per participant, screenshots, and signing up.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll } from "vitest";
import { type Config, loadConfig } from "../../server/src/config";
import { type RunningServer, startServer } from "../../server/src/server";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const browserRequired = process.env.CI === "true" || process.env.REQUIRE_BROWSER === "1";
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (browserRequired) {
    throw new Error(`Chromium not found at ${CHROMIUM}: CI (or REQUIRE_BROWSER=1) requires the browser e2e`);
  }
  console.warn(`\n!!! SKIPPING browser e2e: Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)\n`);
}

const clientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

export interface Participant {
  name: string;
  context: BrowserContext;
  page: Page;
  /** problems seen by the page: script errors, and any forbidden text that ever appeared */
  pageErrors: string[];
  leaks: string[];
  /** the address it signed up with */
  email?: string;
}

export interface Stack {
  server: RunningServer;
  base: string;
  config: Config;
}

/** Every file the client's build reads (its sources, public files and config, and common's sources), hashed. */
function sourcesHash(): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else hash.update(full).update(readFileSync(full));
    }
  };
  for (const dir of [
    path.join(clientDir, "src"),
    path.join(clientDir, "public"),
    path.join(clientDir, "../common/src"),
  ])
    if (existsSync(dir)) walk(dir);
  for (const file of ["index.html", "vite.config.ts", "package.json"]) {
    const full = path.join(clientDir, file);
    if (existsSync(full)) hash.update(full).update(readFileSync(full));
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * The production build of the client (as users get it), built once per content: each browser test file runs in a
 * process of its own, and a build of unchanged sources is reused from the temporary folder (keyed by their hash).
 */
async function clientBuild(): Promise<string> {
  const dist = path.join(os.tmpdir(), `bc-e2e-client-${sourcesHash()}`);
  if (existsSync(path.join(dist, "index.html")) && statSync(dist).isDirectory()) return dist;
  const building = mkdtempSync(path.join(os.tmpdir(), "bc-e2e-building-"));
  // Vitest runs with NODE_ENV=test, which Vite and the React plugin would honour (a development build):
  // the browser must get the production build, as users do.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await build({
      root: clientDir,
      configFile: path.join(clientDir, "vite.config.ts"),
      logLevel: "warn",
      mode: "production",
      build: { outDir: building, emptyOutDir: true, sourcemap: false },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  try {
    renameSync(building, dist);
  } catch {
    // Another file's build of the same sources got there first: use it.
    rmSync(building, { recursive: true, force: true });
  }
  return dist;
}

/** Starts the real server on an embedded database in `tmp`/data, serving the client's production build. */
export async function startStack(tmp: string): Promise<Stack> {
  const dist = await clientBuild();
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: path.join(tmp, "data"),
    LOG_LEVEL: "silent",
    JWT_SECRET: randomBytes(32).toString("base64url"),
    MASTER_KEY: randomBytes(32).toString("base64"),
    ALLOWED_ORIGINS: `http://127.0.0.1:${port}`,
    CLIENT_DIST: dist,
  });
  const server = await startServer(config);
  return { server, base: server.url, config };
}

export interface OpenOptions {
  viewport?: { width: number; height: number };
  /** a phone: the meta viewport is honoured and touch events are on */
  isMobile?: boolean;
  hasTouch?: boolean;
  /** let the test inject scripts (axe-core) despite the app's Content-Security-Policy */
  bypassCSP?: boolean;
  /** the browser's time zone (an IANA name); the machine's when not given */
  timezoneId?: string;
  /** console errors the page may log (a refused request the test expects), besides a 401 before signing in */
  expectedConsole?: RegExp[];
}

/** One Chromium profile per participant, and the screenshots taken of them. */
export class Browsers {
  readonly people: Participant[] = [];
  readonly shotPaths: string[] = [];
  readonly shots: string;

  constructor(
    private readonly tmp: string,
    shotsPrefix = "bc-e2e-screens-",
  ) {
    this.shots = mkdtempSync(path.join(os.tmpdir(), shotsPrefix));
  }

  async open(name: string, opts: OpenOptions = {}): Promise<Participant> {
    const context = await chromium.launchPersistentContext(path.join(this.tmp, `profile-${name}`), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: opts.viewport ?? { width: 1280, height: 900 },
      ...(opts.isMobile ? { isMobile: true, deviceScaleFactor: 2 } : {}),
      ...(opts.hasTouch ? { hasTouch: true } : {}),
      ...(opts.bypassCSP ? { bypassCSP: true } : {}),
      ...(opts.timezoneId ? { timezoneId: opts.timezoneId } : {}),
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const p: Participant = { name, context, page, pageErrors: [], leaks: [] };
    const expected = opts.expectedConsole ?? [];
    page.on("pageerror", (err) => p.pageErrors.push(err.message));
    page.on("console", (msg) => {
      // The browser logs every refused request; a 401 from /api/me before signing in is expected.
      const text = msg.text();
      if (msg.type() === "error" && !text.includes("status of 401") && !expected.some((re) => re.test(text)))
        p.pageErrors.push(text);
    });
    this.people.push(p);
    return p;
  }

  /** A PNG of the page (the whole page, or only what the viewport shows), kept for the end of the run. */
  async shoot(p: Participant, moment: string, opts: { fullPage?: boolean } = {}): Promise<string> {
    const file = path.join(
      this.shots,
      `${String(this.shotPaths.length + 1).padStart(2, "0")}-${p.name}-${moment}.png`,
    );
    const fullPage = opts.fullPage ?? true;
    // A whole-page picture from the top: a sticky banner (the deal's) is drawn where the viewport is scrolled to.
    if (fullPage) await p.page.evaluate(() => window.scrollTo(0, 0));
    await p.page.screenshot({ path: file, fullPage, animations: "disabled" });
    this.shotPaths.push(file);
    return file;
  }

  /** On a failure: each page as it was, and what its console said. */
  async evidence(): Promise<void> {
    for (const p of this.people) {
      await this.shoot(p, "at-failure").catch(() => {});
      if (p.pageErrors.length > 0) console.error(`${p.name} page errors:\n  ${p.pageErrors.join("\n  ")}`);
    }
  }

  async closeAll(): Promise<void> {
    for (const p of this.people) await p.context.close().catch(() => {});
  }

  printShots(title: string): void {
    if (this.shotPaths.length > 0)
      console.log(`\n${title}:\n${this.shotPaths.map((s) => `  ${s}`).join("\n")}\n`);
  }
}

/** Fills the sign-up form the page shows and sends it; returns the address used. */
export async function fillSignUp(p: Participant, displayName: string): Promise<string> {
  const email = `${p.name}-${randomBytes(3).toString("hex")}@example.test`;
  await p.page.getByLabel("Your name").fill(displayName);
  await p.page.getByLabel("Email").fill(email);
  await p.page.getByLabel("Password").fill("correct horse battery");
  await p.page.getByRole("button", { name: "Create account" }).click();
  p.email = email;
  return email;
}

/** Opens an invitation link, signs up from it and accepts: the page lands on the session. */
export async function signUpAndAccept(p: Participant, link: string, displayName: string): Promise<void> {
  await p.page.goto(link);
  await p.page.getByRole("heading", { name: /You're invited/ }).waitFor();
  await p.page.getByRole("link", { name: "Create an account" }).click();
  await fillSignUp(p, displayName);
  await p.page.getByRole("button", { name: "Accept invitation" }).click();
  await p.page.waitForURL(/\/sessions\//);
}

/**
 * A binding act's confirm dialog: waits for it (it must appear before anything is committed), returns its text,
 * and presses its confirm button (`confirm`: the button's name); the dialog closes.
 */
export async function confirmAct(p: Participant, confirm: string | RegExp): Promise<string> {
  const dialog = p.page.getByRole("dialog");
  await dialog.waitFor();
  const text = (await dialog.textContent()) ?? "";
  await dialog.getByRole("button", { name: confirm }).click();
  await dialog.waitFor({ state: "detached" });
  return text;
}

/** The New session form's required "You are" choice. */
export async function chooseCreatorRole(
  p: Participant,
  role: "claimant" | "respondent" | "mediator",
): Promise<void> {
  const label = {
    claimant: /On the claimant side/,
    respondent: /On the respondent side/,
    mediator: /The mediator/,
  };
  await p.page.getByRole("radio", { name: label[role] }).check();
}

/** A browser suite's stack: the server and its address once beforeAll has run, and the suite's browsers. */
export interface BrowserSuite {
  tmp: string;
  browsers: Browsers;
  server: RunningServer | undefined;
  base: string;
}

/**
 * Registers a browser suite's hooks (call inside its describe): before all, the client build and the real server in a
 * fresh folder; after all, the browsers and the server closed, the folder removed and the screenshots' paths printed.
 */
export function browserSuite(name: string, shotsTitle: string): BrowserSuite {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `bc-e2e-${name}-`));
  const suite: BrowserSuite = {
    tmp,
    browsers: new Browsers(tmp, `bc-e2e-${name}-screens-`),
    server: undefined,
    base: "",
  };
  beforeAll(async () => {
    if (!haveChromium) return;
    const stack = await startStack(tmp);
    suite.server = stack.server;
    suite.base = stack.base;
  });
  afterAll(async () => {
    await suite.browsers.closeAll();
    await suite.server?.close();
    rmSync(tmp, { recursive: true, force: true });
    suite.browsers.printShots(shotsTitle);
  });
  return suite;
}
