import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (never a downloaded browser); CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

/**
 * Headless Chromium through playwright-core. The networking flags keep it from calling home:
 * this machine's closed network refuses those connections, many at a time.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of readdirSync(path)) t = Math.max(t, newestMtime(join(path, e)));
  return t;
}

/**
 * Builds clients/web when dist/index.html is missing or older than any source it is built from
 * (its own sources and the libraries it bundles). Returns the dist folder.
 */
export function ensureWebBuild(repoRoot: string, log?: (s: string) => void): string {
  const web = join(repoRoot, 'clients', 'web');
  const index = join(web, 'dist', 'index.html');
  const sources = Math.max(
    newestMtime(join(web, 'src')),
    newestMtime(join(web, 'index.html')),
    ...['crypto', 'protocol', 'client'].map((l) => newestMtime(join(repoRoot, 'libs', l, 'src'))),
  );
  if (!existsSync(index) || statSync(index).mtimeMs < sources) {
    log?.('building the web client…');
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], {
      cwd: web,
      stdio: log ? 'inherit' : 'pipe',
    });
  }
  return join(web, 'dist');
}
