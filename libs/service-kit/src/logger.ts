import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import pretty from 'pino-pretty';

/** Header carrying the HTTP request id over NATS, so one id follows a request through services. */
export const REQUEST_ID_HEADER = 'Hush-Request-Id';

/**
 * The process logger: human-readable (pino-pretty) when LOG_FORMAT is `pretty`, or `auto` and
 * stdout is a terminal; JSON lines otherwise (what log collectors want).
 */
export function createLogger(opts: LoggerOptions & { format?: string }, dest?: DestinationStream): Logger {
  const { format = 'auto', ...rest } = opts;
  if (dest) return pino(rest, dest);
  const wantPretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  return wantPretty ? pino(rest, pretty({ colorize: process.stdout.isTTY === true, sync: true })) : pino(rest);
}

/** The service's logger tagged `svc: name`, unless it already is (run.ts sets it in the base). */
export function serviceLog(log: Logger, name: string): Logger {
  return log.bindings().svc === name ? log : log.child({ svc: name });
}
