/**
 * `npm run demo`: the operator on its embedded default. Starts a local control plane (real kube-apiserver and
 * etcd), the Milvus refresh emulator with an external collection, and the operator; applies a sample
 * ExternalCollectionRefresh and prints its state and progress as they move, like the pymilvus docs loop.
 * Keeps running so `kubectl --kubeconfig ./demo.kubeconfig get externalcollectionrefreshes -A` works.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { startEmulator } from 'milvus-refresh-emulator';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ExternalCollectionRefresh, GROUP, PLURAL, VERSION } from '../src/api/v1alpha1.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { Manager } from '../src/runtime/manager.js';
import { startControlPlane } from './control-plane.js';
import { kubectlOk } from './kubectl.js';
import { cacheDir } from './paths.js';

const NAMESPACE = 'demo';

async function main(): Promise<void> {
  const kubeconfigPath = resolve(process.env.DEMO_KUBECONFIG ?? 'demo.kubeconfig');
  const logDir = join(cacheDir(), 'demo');
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, 'operator.log');

  console.log(`milvus-refresh-operator demo on Node ${process.version}`);
  console.log(
    'Starting a local Kubernetes control plane (kube-apiserver + etcd; the first run builds them from Go modules)...',
  );
  const cp = await startControlPlane({ kubeconfigPath, log: (l) => console.log(`  ${l}`) });

  const emulator = await startEmulator({ timings: { job: { durationMs: 10_000, pendingMs: 1_500 } } });
  emulator.seedCollection({
    name: 'products',
    source: 's3://lake/products/',
    spec: { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2', anonymous: 'true' } },
  });
  console.log(`Milvus refresh emulator listening on ${emulator.address} with external collection "products".`);

  const config = loadConfig([
    `--kubeconfig=${kubeconfigPath}`,
    '--poll-interval=1s',
    '--metrics-bind-address=0',
    '--health-probe-bind-address=0',
  ])!;
  const manager = new Manager(config, createLogger('info', createWriteStream(logPath, { flags: 'a' })));
  void manager.start().catch((err: Error) => console.error(`operator failed: ${err.message}`));
  console.log(`Operator running (JSON logs in ${logPath}).`);

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the operator, the emulator and the control plane...');
    await manager.stop();
    await emulator.close();
    await cp.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());

  const manifest = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'ExternalCollectionRefresh',
    metadata: { name: 'products', namespace: NAMESPACE },
    spec: { milvus: { address: emulator.address }, collectionName: 'products' },
  };
  await kubectlOk(kubeconfigPath, ['create', 'namespace', NAMESPACE]);
  await kubectlOk(kubeconfigPath, ['apply', '-f', '-'], JSON.stringify(manifest));
  console.log(`\nApplied ExternalCollectionRefresh ${NAMESPACE}/products. Its status, as the operator writes it:\n`);

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const api = kc.makeApiClient(CustomObjectsApi);
  let last = '';
  let told = false;
  for (;;) {
    if (stopping) return;
    const r = (await api
      .getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural: PLURAL,
        name: 'products',
      })
      .catch(() => undefined)) as ExternalCollectionRefresh | undefined;
    const st = r?.status;
    const ready = st?.conditions?.find((c) => c.type === 'Ready');
    const line = st?.state
      ? `${st.state}: ${st.progress ?? 0}%  (job ${st.jobId})`
      : ready
        ? `${ready.reason}: ${ready.message}`
        : 'Waiting for the operator';
    if (line !== last) {
      console.log(`  ${new Date().toISOString().slice(11, 19)}  ${line}`);
      last = line;
    }
    if (!told && (st?.state === 'RefreshCompleted' || st?.state === 'RefreshFailed')) {
      told = true;
      console.log(`
Done. Everything keeps running; in another terminal:
  kubectl --kubeconfig ${kubeconfigPath} get externalcollectionrefreshes -A -o wide
  kubectl --kubeconfig ${kubeconfigPath} -n ${NAMESPACE} describe ecr products
  kubectl --kubeconfig ${kubeconfigPath} -n ${NAMESPACE} annotate ecr products milvus.io/refresh-requested-at="$(date -Is)" --overwrite
The last command starts another refresh; its progress appears here. Press Ctrl-C to stop everything.
`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().catch((err: Error) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
