/** Composition root: configuration, logger, manager; exit codes only. */
import { ConfigError, HELP, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { Manager } from './runtime/manager.js';

let config;
try {
  config = loadConfig(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`milvus-refresh-operator: ${err.message}\n\nRun with --help for usage.\n`);
  process.exit(2);
}
if (!config) {
  process.stdout.write(HELP);
  process.exit(0);
}
const log = createLogger(config.logLevel);
log.info('Starting milvus-refresh-operator', {
  node: process.version,
  platform: `${process.platform}/${process.arch}`,
  pid: process.pid,
});
const manager = new Manager(config, log);
let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (++signals > 1) process.exit(1);
    void manager.stop().then(() => process.exit(0));
  });
}
process.on('unhandledRejection', (reason) => {
  log.error('Unhandled promise rejection', { error: reason instanceof Error ? reason.message : String(reason) });
});
manager.start().catch((err: unknown) => {
  log.error('Operator failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
