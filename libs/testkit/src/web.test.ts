import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isCI } from './web.js';

describe('the browser launcher', () => {
  it('reads CI the way CI services set it', () => {
    expect(isCI({ CI: 'true' })).toBe(true);
    expect(isCI({ CI: '1' })).toBe(true);
    expect(isCI({})).toBe(false);
    expect(isCI({ CI: 'false' })).toBe(false);
    expect(isCI({ CI: '0' })).toBe(false);
  });

  it('under CI, runs browser suites even without Chromium and fails them with a clear error', () => {
    const script = `import('./libs/testkit/src/web.ts').then(async (w) => {
      console.log(JSON.stringify({ available: w.chromiumAvailable }));
      await w.launchChromium().catch((e) => console.log(JSON.stringify({ error: e.message })));
    })`;
    const run = (env: Record<string, string>) =>
      execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
        env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium', ...env },
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ci = run({ CI: 'true' });
    expect(ci[0]).toEqual({ available: true });
    expect(String(ci[1]?.error)).toMatch(/Chromium not found at \/nonexistent\/chromium/);
    expect(run({ CI: '' })[0]).toEqual({ available: false });
    // Two fresh tsx processes: seconds each on a quiet machine, far more on a loaded one.
  }, 180_000);
});
