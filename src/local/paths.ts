/** Where local tooling keeps what it builds or installs: outside the repository, reused across clones. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$ECR_CACHE_DIR`, else `$XDG_CACHE_HOME/ecr-operator`, else `~/.cache/ecr-operator`. */
export function cacheDir(): string {
  // Empty values count as unset, as in the shell's ${XDG_CACHE_HOME:-...}.
  if (process.env.ECR_CACHE_DIR) return process.env.ECR_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ecr-operator');
}
