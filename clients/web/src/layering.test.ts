import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering rules of clients/web/README.md, checked on every source file: core is pure, the
 * engine sees only core and its ports, views see only the engine's public face, and no file grows
 * past the size one reader can hold.
 */
const SRC = new URL('.', import.meta.url).pathname;
const MAX_LINES = 300;

function files(dir: string, ext = /\.tsx?$/): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );
}
const sources = files(SRC).filter((f) => !/\.test\.tsx?$/.test(f));
const imports = (f: string) =>
  [...readFileSync(f, 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]!);

/** Allowed import targets per layer: a folder of src/ ('core/'), a package, or a sibling. */
const RULES: Record<string, RegExp> = {
  core: /^(\.\/[\w-]+\.js|@hush\/protocol)$/,
  engine: /^(\.\/[\w-]+\.js|\.\.\/core\/[\w-]+\.js|@hush\/protocol)$/,
  ui: /^(\.\/[\w-]+\.js|\.\.\/engine\/index\.js|preact(\/hooks)?|qrcode-generator|jsqr)$/,
};
/** Files allowed to break a rule (none today). */
const EXEMPT = new Set<string>();

describe('web client layering', () => {
  for (const [layer, allowed] of Object.entries(RULES)) {
    it(`${layer}/ imports only what its layer may`, () => {
      const bad: string[] = [];
      for (const f of sources) {
        const rel = relative(SRC, f);
        if (!rel.startsWith(`${layer}/`) || EXEMPT.has(rel)) continue;
        for (const spec of imports(f)) if (!allowed.test(spec)) bad.push(`${rel} -> ${spec}`);
      }
      expect(bad).toEqual([]);
    });
  }

  it(`keeps every source file under ${MAX_LINES} lines`, () => {
    const long = files(SRC, /\.(tsx?|css)$/)
      .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });
});
