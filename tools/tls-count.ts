/**
 * A preload for benchmarks (`node --import dist-tools/tools/tls-count.js ...`): counts the TLS connections this
 * process opens, per remote port, and writes them as JSON to $ECR_TLS_COUNT_FILE every second and at exit.
 * Both the old HTTP stack (https.Agent) and undici open TLS connections through `tls.connect`, so the same
 * count works for every client-node version; nothing in the operator depends on it. The file is written a
 * second after a count changes (not every second: an idle operator must not pay for its own benchmark).
 */
import { writeFileSync } from 'node:fs';
import tls from 'node:tls';

const file = process.env.ECR_TLS_COUNT_FILE;
if (file) {
  const counts: Record<string, number> = {};
  const original = tls.connect.bind(tls) as (...args: unknown[]) => tls.TLSSocket;
  const port = (args: unknown[]): string => {
    const [a, b] = args;
    const of = (o: unknown): string => String((o as { port?: number | string } | undefined)?.port ?? '?');
    if (typeof a === 'number' || typeof a === 'string') return String(a);
    return typeof a === 'object' && a !== null ? of(a) : of(b);
  };
  (tls as { connect: (...args: unknown[]) => tls.TLSSocket }).connect = (...args: unknown[]) => {
    const key = port(args);
    counts[key] = (counts[key] ?? 0) + 1;
    pending ??= setTimeout(dump, 1_000).unref();
    return original(...args);
  };
  let pending: ReturnType<typeof setTimeout> | undefined;
  const dump = (): void => {
    pending = undefined;
    writeFileSync(file, JSON.stringify(counts));
  };
  dump();
  process.on('exit', dump);
}
