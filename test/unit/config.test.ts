import { describe, expect, it } from 'vitest';
import { ConfigError, HELP, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has defaults a cluster install can run with', () => {
    expect(loadConfig([], {})).toMatchObject({
      workers: 4,
      pollIntervalMs: 5_000,
      submitGraceMs: 30_000,
      leaderElect: false,
      metricsBindAddress: ':8080',
      leaseDurationMs: 15_000,
    });
  });

  it('reads flags and ECR_* variables, flags first', () => {
    const c = loadConfig(['--poll-interval=2s', '--leader-elect'], {
      ECR_POLL_INTERVAL: '9s',
      ECR_WORKERS: '8',
      POD_NAMESPACE: 'ops',
    });
    expect(c).toMatchObject({ pollIntervalMs: 2_000, workers: 8, leaderElect: true, leaderElectionNamespace: 'ops' });
  });

  it.each([
    [['--workers=0'], '--workers: "0" must be an integer from 1 to 64'],
    [['--poll-interval=soon'], '--poll-interval: "soon" is not a duration'],
    [['--metrics-bind-address=localhost'], '--metrics-bind-address: "localhost" must be [host]:port, or 0 to disable'],
    [['--log-level=loud'], '--log-level: "loud" must be debug, info, warn or error'],
    [['--leader-elect-renew-deadline=20s'], '--leader-elect-lease-duration must exceed --leader-elect-renew-deadline'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--submit-grace=5s', '--rpc-timeout=10s'], '--submit-grace must be longer than --rpc-timeout'],
    [['--watch-inactivity-timeout=1s'], '--watch-inactivity-timeout: 1s is below the minimum of 10000ms'],
    [['--foreign-job-recheck=later'], '--foreign-job-recheck: "later" is not a duration'],
    [['--memory-reclaim-mib=-1'], '--memory-reclaim-mib: "-1" must be an integer from 0 to 4096'],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });

  it('has a flag for every tunable, with the documented defaults', () => {
    const c = loadConfig([], {})!;
    expect(c).toMatchObject({
      foreignJobRecheckMs: 20_000, // 4 x the 5 s poll interval
      observerBackoffMaxMs: 60_000,
      secretCacheTtlMs: 10_000,
      milvusClientIdleMs: 600_000,
      shutdownTimeoutMs: 30_000,
      watchBackoffMaxMs: 30_000,
      watchInactivityTimeoutMs: 150_000,
    });
    expect(c.memoryReclaimMiB).toBe(0); // off unless asked for: it costs CPU (docs/scale.md, fifth round)
    expect(loadConfig([], { ECR_MEMORY_RECLAIM_MIB: '16' })!.memoryReclaimMiB).toBe(16);
    expect(loadConfig(['--poll-interval=1s'], {})!.foreignJobRecheckMs).toBe(4_000);
    expect(loadConfig(['--poll-interval=1s'], { ECR_FOREIGN_JOB_RECHECK: '9s' })!.foreignJobRecheckMs).toBe(9_000);
    for (const flag of [
      'foreign-job-recheck',
      'observer-backoff-max',
      'secret-cache-ttl',
      'milvus-client-idle',
      'shutdown-timeout',
      'watch-backoff-max',
      'watch-inactivity-timeout',
    ]) {
      expect(HELP).toContain(`--${flag}`);
    }
  });
});
