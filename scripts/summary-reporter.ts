import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the slowest test files (the CI run must stay well under 15 minutes, and this says where
 * the time goes), then one plain closing line, `tests: N passed, N failed, N skipped`, after
 * vitest's own summary, so CI logs carry a runner-neutral count.
 */
const SLOWEST = 12;

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed++;
        else skipped++;
      }
      // A file that failed to load has no tests but must count as a failure.
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    const slowest = testModules
      .map((m) => {
        const d = m.diagnostic();
        return { file: m.relativeModuleId, s: (d.collectDuration + d.duration) / 1000 };
      })
      .sort((a, b) => b.s - a.s)
      .slice(0, SLOWEST);
    process.stdout.write(
      `\nslowest files (import + tests, seconds):\n${slowest.map((x) => `  ${x.s.toFixed(1).padStart(6)}  ${x.file}`).join('\n')}\n`,
    );
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
