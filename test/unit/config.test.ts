import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

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
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });
});
