/**
 * `npm run cluster -- up --kubeconfig <path>`: a local kube-apiserver + etcd (with this project's CRDs)
 * that runs until Ctrl-C, for `kubectl --kubeconfig <path> ...` in another terminal.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane } from './control-plane.js';

const HELP = `Usage: npm run cluster -- up [--kubeconfig <path>] [--crds <dir>]

Builds kube-apiserver and etcd from Go modules on first use (cached outside the repository), starts them
on 127.0.0.1 with RBAC, installs the CRDs and writes an admin kubeconfig. Ctrl-C stops everything and
removes the temporary data.

  --kubeconfig <path>   where to write the admin kubeconfig (default ./kubeconfig)
  --crds <dir>          CRD manifests to install (default: the repository's crds/)
`;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        kubeconfig: { type: 'string', default: 'kubeconfig' },
        crds: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    console.error(`cluster: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] !== 'up') {
    (values.help ? console.log : console.error)(HELP);
    process.exit(values.help ? 0 : 2);
  }
  const kubeconfigPath = resolve(values.kubeconfig);
  const cp = await startControlPlane({ kubeconfigPath, ...(values.crds ? { crdDir: resolve(values.crds) } : {}) });
  console.log(
    `\nControl plane running at ${cp.server} (this CLI on Node ${process.version}) (started in ${(cp.startupMs / 1000).toFixed(1)}s).`,
  );
  console.log(`  kubectl --kubeconfig ${kubeconfigPath} get ns`);
  console.log('Press Ctrl-C to stop.');
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the control plane...');
    void cp.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: Error) => {
  console.error(`cluster: ${err.message}`);
  process.exit(1);
});
