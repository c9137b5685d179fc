/** Structured JSON logs (winston), Kubernetes style: capitalised past-tense messages with fields. */
import winston from 'winston';

/** What the rest of the code depends on; only this file knows winston. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A JSON logger writing to stdout. */
export function createLogger(level: LogLevel = 'info', stream?: NodeJS.WritableStream): Logger {
  const base = winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console()],
  });
  return wrap(base);
}

function wrap(w: winston.Logger): Logger {
  return {
    debug: (m, f) => void w.debug(m, f),
    info: (m, f) => void w.info(m, f),
    warn: (m, f) => void w.warn(m, f),
    error: (m, f) => void w.error(m, f),
    child: (fields) => lazyChild(w, fields),
  };
}

/**
 * A child logger made only when it first writes a line at an enabled level: every reconcile gets one (with
 * its key and id), and most write nothing at the default level, so most never cost a winston child.
 */
function lazyChild(w: winston.Logger, fields: Record<string, unknown>): Logger {
  let made: Logger | undefined;
  const real = (): Logger => (made ??= wrap(w.child(fields)));
  return {
    debug: (m, f) => void (w.isLevelEnabled('debug') && real().debug(m, f)),
    info: (m, f) => void (w.isLevelEnabled('info') && real().info(m, f)),
    warn: (m, f) => void (w.isLevelEnabled('warn') && real().warn(m, f)),
    error: (m, f) => void (w.isLevelEnabled('error') && real().error(m, f)),
    child: (more) => lazyChild(w, { ...fields, ...more }),
  };
}

/** A logger that drops everything (tests of pure parts). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
