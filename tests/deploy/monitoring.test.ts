import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@hush/gateway';
import { repoRoot } from '@hush/testkit';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics the processes
// export, so a renamed metric cannot leave a panel empty or an alert silent.
const read = (...p: string[]) => readFileSync(join(repoRoot, ...p), 'utf8');
const declared = new Set(
  [read('services', 'gateway', 'src', 'metrics.ts'), read('libs', 'service-kit', 'src', 'metrics.ts')].flatMap((src) =>
    [...src.matchAll(/'(hush_[a-z0-9_]+)'/g)].map((m) => m[1]!),
  ),
);
const exported = async () => {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg, prefix: 'hush_' });
  const names = new Set([...declared, ...(await reg.getMetricsAsJSON()).map((m) => m.name)]);
  // Histograms are queried through their series.
  for (const n of [...names]) for (const s of ['_bucket', '_count', '_sum']) names.add(`${n}${s}`);
  return names;
};
const metricsIn = (expr: string) => [...expr.matchAll(/\b(hush_[a-z0-9_]+)/g)].map((m) => m[1]!);

interface Panel {
  title: string;
  targets?: { expr: string }[];
}
interface Rule {
  alert: string;
  expr: string;
  annotations?: { runbook?: string };
}

describe('deploy/ monitoring', () => {
  it('has a Grafana dashboard whose every panel queries exported metrics', async () => {
    const names = await exported();
    const dash = JSON.parse(read('deploy', 'grafana-dashboard.json')) as { panels: Panel[] };
    expect(dash.panels.length).toBeGreaterThan(5);
    for (const p of dash.panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(metricsIn(t.expr).length, t.expr).toBeGreaterThan(0);
        for (const m of metricsIn(t.expr)) expect(names.has(m), `${p.title}: ${m}`).toBe(true);
      }
    }
  });

  it('has alert rules for stream storage and backlog on exported metrics, each with a runbook in OPERATIONS.md', async () => {
    const names = await exported();
    const rules = (parse(read('deploy', 'alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    const ops = read('docs', 'OPERATIONS.md');
    const exprs = rules.map((r) => r.expr).join('\n');
    expect(exprs).toMatch(/hush_mailbox_stream_bytes/);
    expect(exprs).toMatch(/hush_mailbox_stream_messages/);
    for (const r of rules) {
      for (const m of metricsIn(r.expr)) expect(names.has(m), `${r.alert}: ${m}`).toBe(true);
      const anchor = r.annotations?.runbook?.split('#')[1];
      expect(anchor, r.alert).toBeTruthy();
      const headings = [...ops.matchAll(/^#+ (.+)$/gm)].map((h) =>
        h[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      );
      expect(headings, `${r.alert}: #${anchor}`).toContain(anchor);
    }
    // The storage alert divides by the gateway's default MAILBOX_MAX_BYTES.
    expect(exprs).toContain(`/ ${loadConfig({}).mailboxMaxBytes}`);
  });
});
