import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (never a downloaded browser); CHROMIUM_PATH overrides. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** True when the environment says it is CI (CI=true or any non-empty value but "0"/"false"). */
export const isCI = (env: NodeJS.ProcessEnv = process.env): boolean =>
  env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI.toLowerCase() !== 'false';

/**
 * Whether browser suites should run. On a developer machine without Chromium they are skipped;
 * under CI they always run, so a missing Chromium fails them (in `launchChromium`) instead of
 * turning the whole browser suite into a silent skip.
 */
export const chromiumAvailable = existsSync(CHROMIUM) || isCI();

/**
 * Headless Chromium through playwright-core. The networking flags keep it from calling home:
 * this machine's closed network refuses those connections, many at a time.
 */
/** Debian's Chromium, headless; `extraArgs` are appended (e.g. a host-resolver rule). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    return Promise.reject(
      new Error(
        `Chromium not found at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH (required under CI)`,
      ),
    );
  }
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
      ...extraArgs,
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
    newestMtime(join(web, 'public')),
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
