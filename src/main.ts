/** Composition root: configuration, logger, failpoints, manager. The only place that exits the process. */
import { ConfigError, HELP, loadConfig } from './config.js';
import { KubeconfigError } from './adapters/kubeconfig.js';
import { createLogger } from './logger.js';
import { parseFailpoints } from './runtime/failpoints.js';
import { Manager } from './runtime/manager.js';

let config;
let failpoints;
try {
  config = loadConfig(process.argv.slice(2));
  failpoints = parseFailpoints(process.env.ECR_FAILPOINTS);
} catch (err) {
  if (!(err instanceof ConfigError) && !(err instanceof Error && err.message.startsWith('ECR_FAILPOINTS'))) throw err;
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
let manager: Manager;
try {
  manager = new Manager(config, log, {
    // Like controller-runtime: no draining, no new work. In-flight submissions are safe to cut short (their
    // intent is recorded); the new leader adopts or resubmits by the in-doubt rules.
    onLeadershipLost: () => process.exit(1),
    ...(failpoints
      ? {
          step: (name) => {
            if (!failpoints.has(name)) return;
            process.stderr.write(`failpoint ${name}: killing the process\n`);
            process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
} catch (err) {
  // A kubeconfig that cannot be used (missing, unsupported auth): say which field, and stop.
  if (!(err instanceof KubeconfigError)) throw err;
  log.error('Operator failed to start', { error: err.message });
  process.exit(1);
}
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
