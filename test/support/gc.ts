/** V8's garbage collector in a test process, which vitest does not start with --expose-gc. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Node's `gc()`: a full collection (the flag is set at run time; a new context then has the function). */
export function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The heap in use, in MiB, after two full collections. */
export function heapUsedMiB(): number {
  const gc = exposeGc();
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}
