/**
 * `npm run chaos -- --seed N --triggers 500`: the fault campaign (tools/chaos-campaign.ts). Two operator
 * replicas with leader election against a local control plane and two Milvus emulators; triggers and faults
 * (SIGKILL of the leader or the standby, kube-apiserver and etcd restarts, emulator restarts, Milvus
 * unreachable, RPC latency above the deadline, silent drops inside the persistence window, foreign jobs,
 * deletion mid-run, one collection under two addresses) drawn from the seed. Prints the figures and every
 * violation of the invariants; exits 1 when there is one.
 *
 *   npm run chaos -- [--seed 1] [--triggers 500] [--resources 12] [--emulators 2] [--fault-rate 0.15] [--out dir]
 *                    [--sabotage double-job]   (breaks an invariant on purpose: the run must report it)
 */
import { parseArgs } from 'node:util';
import { formatResult, runCampaign } from './chaos-campaign.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      triggers: { type: 'string', default: '500' },
      resources: { type: 'string', default: '12' },
      emulators: { type: 'string', default: '2' },
      'fault-rate': { type: 'string', default: '0.15' },
      out: { type: 'string' },
      sabotage: { type: 'string' },
    },
  });
  const seed = Number(values.seed);
  console.log(`chaos: seed ${seed} (replay with --seed ${seed})`);
  const result = await runCampaign({
    seed,
    triggers: Number(values.triggers),
    resources: Number(values.resources),
    emulators: Number(values.emulators),
    faultRate: Number(values['fault-rate']),
    ...(values.out ? { outDir: values.out } : {}),
    ...(values.sabotage === 'double-job' ? { sabotage: 'double-job' as const } : {}),
    log: (l) => console.log(l),
  });
  console.log(`\n${formatResult(result)}\nschedule, operator logs and the recorded history: ${result.outDir}`);
  if (result.check.violations.length > 0) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`chaos: ${err.stack ?? err.message}`);
  process.exit(1);
});
