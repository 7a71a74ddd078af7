import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// How a process logs by LOG_FORMAT, seen from outside as an operator sees it: a child process
// whose stdout is a pipe, or a terminal (util-linux `script` gives it a pseudo-terminal).
const logger = new URL('./logger.ts', import.meta.url).pathname;
const program = (format: string) =>
  `import { createLogger } from ${JSON.stringify(logger)}; createLogger({ format: '${format}', base: { svc: 'demo' } }).info('hello operator');`;
const viaPipe = (format: string) =>
  execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program(format)], {
    encoding: 'utf8',
  });
const viaTerminal = (format: string) =>
  execFileSync(
    'script',
    [
      '-qec',
      `${process.execPath} --import tsx --input-type=module -e "${program(format).replace(/"/g, '\\"')}"`,
      '/dev/null',
    ],
    { encoding: 'utf8' },
  );

describe('createLogger', () => {
  it('writes JSON lines to a pipe by default (LOG_FORMAT=auto), for log collectors', () => {
    const line = viaPipe('auto').trim();
    expect(JSON.parse(line)).toMatchObject({ level: 30, svc: 'demo', msg: 'hello operator' });
  });

  it('writes readable pino-pretty lines on a terminal, and when LOG_FORMAT=pretty', () => {
    for (const out of [viaTerminal('auto'), viaPipe('pretty')]) {
      expect(out).toMatch(/INFO.*hello operator/);
      expect(out.trim().startsWith('{')).toBe(false);
    }
  });

  it('writes JSON on a terminal when LOG_FORMAT=json', () => {
    const out = viaTerminal('json').trim();
    expect(JSON.parse(out)).toMatchObject({ msg: 'hello operator' });
  });
});
