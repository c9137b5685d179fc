/**
 * Vitest global setup for the conformance suite: a virtualenv with the pinned pymilvus, created once per
 * requirements file in the cache directory (never in the repository) and reused afterwards.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    python: string;
  }
}

const REQUIREMENTS = join(import.meta.dirname, '..', 'conformance', 'requirements.txt');

/**
 * `$ECR_CACHE_DIR`, else `$XDG_CACHE_HOME/ecr-operator`, else `~/.cache/ecr-operator`: the cache of the
 * milvus-refresh-operator repository this package comes from, so the virtualenv is shared with its CI.
 */
function cacheDir(): string {
  // Empty values count as unset, as in the shell's ${XDG_CACHE_HOME:-...}.
  if (process.env.ECR_CACHE_DIR) return process.env.ECR_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ecr-operator');
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

export default function setup(project: TestProject): void {
  const hash = createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex').slice(0, 12);
  const venv = join(cacheDir(), `pymilvus-venv-${hash}`);
  const python = join(venv, 'bin', 'python');
  const marker = join(venv, '.installed');
  if (!existsSync(marker)) {
    const started = Date.now();
    console.log(`[conformance] installing pinned pymilvus into ${venv} (first run only)`);
    rmSync(venv, { recursive: true, force: true });
    mkdirSync(cacheDir(), { recursive: true });
    run(process.env.PYTHON ?? 'python3', ['-m', 'venv', venv]);
    run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS]);
    run('touch', [marker]);
    console.log(`[conformance] pymilvus installed in ${Math.round((Date.now() - started) / 1000)}s`);
  }
  project.provide('python', python);
}
