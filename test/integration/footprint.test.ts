/**
 * What the compiled operator loads (dist/, built by the integration suite's setup), in a Node process of its
 * own: the modules it never uses cost memory in every replica (docs/scale.md).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/paths.js';

const run = promisify(execFile);

// Loaded before dist/main.js, which loads its whole module graph and, with --help, prints its usage and exits.
// The preload also loads the Milvus SDK as the first Milvus client does, and makes a client.
const PRELOAD = (dist: string): string => `
import { LEAN_JOB_LIST, loadSdk, shareSdkDefinitions } from ${JSON.stringify(pathToFileURL(join(dist, 'adapters/milvus-sdk.js')).href)};
const sdk = loadSdk();
shareSdkDefinitions();
const client = new sdk.MilvusClient({ address: '127.0.0.1:1', logLevel: 'error', telemetry: { enabled: false }, loaderOptions: LEAN_JOB_LIST });
client.connectPromise?.catch(() => undefined);
process.on('exit', () => {
  process.stderr.write('LOADED ' + JSON.stringify(process.moduleLoadList) + '\\n');
});
`;

describe('what the operator loads', () => {
  it('leaves out Node’s bundled undici (the global fetch and WebSocket): 2.6 MiB of heap, 15 MiB of RSS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecr-footprint-'));
    try {
      const preload = join(dir, 'preload.mjs');
      writeFileSync(preload, PRELOAD(join(REPO_ROOT, 'dist')));
      const { stdout, stderr } = await run(process.execPath, ['--import', preload, 'dist/main.js', '--help'], {
        cwd: REPO_ROOT,
      });
      expect(stdout).toContain('--memory-reclaim-mib'); // the usage: the whole module graph was loaded
      const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
      const loaded = JSON.parse(line!.slice('LOADED '.length)) as string[];
      expect(loaded).toContain('NativeModule http'); // it is used, as CommonJS
      expect(loaded).toContain('NativeModule http2'); // gRPC
      expect(loaded.filter((m) => m.includes('deps/undici'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
