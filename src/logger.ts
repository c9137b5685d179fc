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
    child: (fields) => wrap(w.child(fields)),
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
