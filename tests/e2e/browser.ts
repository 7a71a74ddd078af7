import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { ensureWebBuild, launchChromium, repoRoot, type Stack, startStack } from '@hush/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export { CHROMIUM, chromiumAvailable, ensureWebBuild, launchChromium as launch } from '@hush/testkit';

export interface Person {
  context: BrowserContext;
  page: Page;
  username: string;
  /** Content-Security-Policy violations the page reported. */
  csp: string[];
  /** JavaScript dialogs (alert, confirm) the page opened: an XSS would show here. */
  dialogs: string[];
  /** "Leave site?" prompts (beforeunload) the page raised; each was answered "Leave". */
  leaveWarnings?: string[];
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

export async function openPage(
  context: BrowserContext,
  url: string,
  p?: Pick<Person, 'csp' | 'dialogs'> & Partial<Pick<Person, 'leaveWarnings'>>,
) {
  const page = await context.newPage();
  const csp = p?.csp ?? [];
  const dialogs = p?.dialogs ?? [];
  const leaveWarnings = p?.leaveWarnings ?? [];
  page.on('dialog', (d) => {
    // The page asks before it closes with messages still in its outbox: the tests go ahead.
    if (d.type() === 'beforeunload') {
      leaveWarnings.push(page.url());
      void d.accept();
      return;
    }
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.exposeFunction('__cspViolation', (v: string) => csp.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { __cspViolation: (v: string) => void }).__cspViolation(
        `${e.violatedDirective} ${e.blockedURI}`,
      ),
    );
  });
  await page.goto(url);
  return { page, csp, dialogs, leaveWarnings };
}

export async function person(browser: Browser, url: string, username: string, viewport = DESKTOP): Promise<Person> {
  const context = await browser.newContext({ viewport });
  const { page, csp, dialogs, leaveWarnings } = await openPage(context, url);
  return { context, page, username, csp, dialogs, leaveWarnings };
}

export async function register(p: Person, password: string, mode: 'Register' | 'Sign in' = 'Register') {
  // Creating an account is its own form (password typed twice).
  if (mode === 'Register') await p.page.getByRole('button', { name: 'Create account', exact: true }).click();
  await p.page.getByLabel('Username', { exact: true }).fill(p.username);
  await p.page.getByLabel('Password', { exact: true }).fill(password);
  if (mode === 'Register') await p.page.getByLabel('Confirm password', { exact: true }).fill(password);
  await p.page.getByRole('button', { name: mode, exact: true }).click();
  await p.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 20_000 });
}

/**
 * Opens the settings page (the gear atop the conversation list: Dark theme, What the server sees,
 * App lock, Linked devices, Backup, Sign out, …). On a phone in a chat it goes back to the list first.
 */
export async function openSettings(p: Pick<Person, 'page'>) {
  const title = p.page.getByRole('heading', { level: 2, name: 'Settings', exact: true });
  if (await title.isVisible()) return;
  const gear = p.page.getByRole('button', { name: /^Settings \(signed in as / });
  const back = p.page.getByRole('button', { name: 'Chats', exact: true });
  if (!(await gear.isVisible()) && (await back.isVisible())) await back.click();
  await gear.click();
  await title.waitFor();
}

/** Back from the settings page to the conversation list (nothing happens when it is not open). */
export async function closeSettings(p: Pick<Person, 'page'>) {
  const close = p.page.getByRole('button', { name: 'Close settings', exact: true });
  if (await close.isVisible()) await close.click();
}

export async function startChat(p: Person, peer: string) {
  await closeSettings(p);
  await p.page.getByRole('button', { name: 'New chat', exact: true }).click();
  await p.page.getByLabel('Contact username').fill(peer);
  await p.page.getByRole('button', { name: 'Start chat' }).click();
  await p.page.getByRole('heading', { level: 2, name: peer }).waitFor();
}

export async function openChat(p: Person, peer: string) {
  const heading = p.page.getByRole('heading', { level: 2, name: peer, exact: true });
  // On a phone the settings page covers an open chat: close it first, then look.
  await closeSettings(p);
  if (await heading.isVisible()) return;
  await p.page.locator(`.convs button[data-peer="${peer}"]`).click();
  await heading.waitFor();
}

export async function send(p: Person, text: string) {
  await p.page.getByLabel('Message', { exact: true }).fill(text);
  await p.page.getByRole('button', { name: 'Send', exact: true }).click();
}

/** Texts of the bubbles in the open chat, in display order. */
export async function bubbles(page: Page): Promise<string[]> {
  return page.locator('[data-testid="message"] .bubble').allTextContents();
}

export async function waitFor(page: Page, cond: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Frames the page sends on its WebSockets (opened from now on); `sends()` lists "send" frames since `mark()`. */
export function wsFrames(page: Page) {
  const sent: string[] = [];
  let from = 0;
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  return {
    mark() {
      from = sent.length;
    },
    sends: () => sent.slice(from).filter((f) => f.includes('"type":"send"')),
  };
}

export function screenshotDir(repoRoot: string): string {
  const d = join(repoRoot, 'test-artifacts', 'screenshots');
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * Resolves once no CSS transition or finite animation runs (a theme switch fades colours for
 * 120 ms); endless ones (a recording's pulsing dot) never end, so they do not count.
 */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity),
  );
}

/**
 * Screenshots of what the page shows now, in both colour schemes (and at phone and desktop width
 * when `sizes` is set), as `<prefix>-<name>[-<size>]-<scheme>.png` in the screenshot folder. Each
 * picture is taken after the theme's fade, and the page is left light and at desktop width.
 */
export async function shootThemes(
  page: Page,
  dir: string,
  prefix: string,
  name: string,
  opts: { sizes?: boolean } = {},
): Promise<void> {
  const sizes = opts.sizes ? (['desktop', 'phone'] as const) : ([undefined] as const);
  for (const size of sizes) {
    if (size) await page.setViewportSize(size === 'phone' ? PHONE : DESKTOP);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await settled(page);
      const file = size ? `${prefix}-${name}-${size}-${scheme}.png` : `${prefix}-${name}-${scheme}.png`;
      await page.screenshot({ path: join(dir, file) });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (opts.sizes) await page.setViewportSize(DESKTOP);
}

/** axe-core's serious and critical violations on the page, read after transitions end. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await settled(page);
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The usual world of a browser test: a private stack serving the web client, one Chromium, two people. */
export interface ChatPair {
  stack: Stack;
  browser: Browser;
  url: string;
  alice: Person;
  bob: Person;
}

/**
 * Starts a stack (testkit `startStack`, real NATS and Redis) and Chromium (`launchArgs` appended),
 * registers `aliceName` and `bobName`, and opens alice's chat with bob. Stop it with `stopPair`.
 */
export async function startPair(
  aliceName: string,
  bobName: string,
  password: string,
  launchArgs: string[] = [],
): Promise<ChatPair> {
  const stack = await startStack({ webRoot: ensureWebBuild(repoRoot) });
  const url = stack.gatewayUrls[0]!;
  const browser = await launchChromium(launchArgs);
  const alice = await person(browser, url, aliceName);
  const bob = await person(browser, url, bobName);
  await register(alice, password);
  await register(bob, password);
  await startChat(alice, bobName);
  return { stack, browser, url, alice, bob };
}

export async function stopPair(p: Partial<ChatPair> | undefined): Promise<void> {
  await p?.browser?.close();
  await p?.stack?.stop();
}
