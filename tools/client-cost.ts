/**
 * What one more Milvus client costs in memory, measured in a process of its own (the benchmark runs it):
 *
 *   node --expose-gc dist-tools/tools/client-cost.js <address> <clients> [operator|sdk]
 *
 * `operator` opens the clients through the operator's Milvus adapter (shared SDK definitions), `sdk` through
 * the SDK as is. Each client is for another database of the emulator at <address> (db1, db2, ...; the
 * benchmark creates them) and makes one list call. Prints JSON: heap and RSS after one client and after
 * all of them, and the cost per extra client.
 */
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { MilvusClients } from '../src/adapters/milvus.js';
import { silentLogger } from '../src/logger.js';

const gc = (globalThis as { gc?: () => void }).gc;

function measure(): { rssMiB: number; heapMiB: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rssMiB: m.rss / 1048576, heapMiB: m.heapUsed / 1048576 };
}

async function main(): Promise<void> {
  const [address, countText, mode = 'operator'] = process.argv.slice(2);
  const count = Number(countText ?? 21);
  if (!address || !Number.isInteger(count) || count < 2)
    throw new Error('usage: client-cost <address> <clients> [operator|sdk]');
  const open: (i: number) => Promise<void> =
    mode === 'sdk'
      ? async (i) => {
          const c = new MilvusClient({
            address,
            database: `db${i}`,
            maxRetries: 0,
            logLevel: 'error',
            telemetry: { enabled: false },
          });
          await c.listRefreshExternalCollectionJobs({ collection_name: 'none' }); // a short (error) answer
          keep.push(c);
        }
      : (() => {
          const pool = new MilvusClients({ rpcTimeoutMs: 10_000, log: silentLogger });
          return async (i: number) => {
            // A short answer (the collection does not exist): the client, not a long list, is measured.
            await pool.listJobs({ key: `e${i}`, address, database: `db${i}` }, 'none').catch(() => undefined);
          };
        })();
  const keep: unknown[] = [];
  await open(1);
  const one = measure();
  for (let i = 2; i <= count; i++) await open(i);
  const all = measure();
  const extra = count - 1;
  console.log(
    JSON.stringify({
      mode,
      clients: count,
      one,
      all,
      perClientRssMiB: (all.rssMiB - one.rssMiB) / extra,
      perClientHeapMiB: (all.heapMiB - one.heapMiB) / extra,
      kept: keep.length,
    }),
  );
  process.exit(0);
}

main().catch((err: Error) => {
  console.error(`client-cost: ${err.message}`);
  process.exit(1);
});
