/** kubectl for tests: the project's runner, plus a namespace name per test file. */
import { randomBytes } from 'node:crypto';

export { type KubectlResult, kubectl, kubectlOk } from '../../tools/kubectl.js';

/** A fresh namespace name for one test file. */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}
