/** Where local tooling finds the repository and keeps what it builds or installs. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest directory above this file that holds scripts/build-control-plane.sh.
 * The tools run from tools/ (tests, through vitest) and from dist-tools/tools/ (compiled, npm run demo).
 */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts', 'build-control-plane.sh'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}

/** `$ECR_CACHE_DIR`, else `$XDG_CACHE_HOME/ecr-operator`, else `~/.cache/ecr-operator`: outside the repository. */
export function cacheDir(): string {
  // Empty values count as unset, as in the shell's ${XDG_CACHE_HOME:-...}.
  if (process.env.ECR_CACHE_DIR) return process.env.ECR_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ecr-operator');
}
