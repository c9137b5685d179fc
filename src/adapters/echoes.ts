/**
 * The watch event that echoes the operator's own status write. After a write the reconciler has already
 * decided what comes next (a timer, or waiting for the job observer), so reconciling the echo again finds
 * nothing to do; in a burst it would be a reconcile per write. The status writer notes the resourceVersion
 * its write produced; the informer stores the echo in its cache as usual but does not queue the key for it.
 * Only writes of a run still under way are noted: the echo of a final write (the job ended) is reconciled as
 * any other change, which also lets the reconciler drop its copy of what it wrote. A resourceVersion names one write, so another client's change is never
 * mistaken for an echo.
 */
export class Echoes {
  private readonly pending = new Map<string, string>();

  constructor(private readonly limit = 50_000) {}

  /** `key`'s status write produced `resourceVersion`. */
  wrote(key: string, resourceVersion: string | undefined): void {
    if (!resourceVersion) return;
    if (this.pending.size >= this.limit) this.pending.clear(); // echoes lost in a relist: start over
    this.pending.set(key, resourceVersion);
  }

  /** Whether this version of `key` is the echo of a noted write (forgotten once seen). */
  isEcho(key: string, resourceVersion: string | undefined): boolean {
    const noted = this.pending.get(key);
    if (noted === undefined) return false;
    this.pending.delete(key);
    return noted === resourceVersion;
  }

  /** A newer write supersedes the noted one; a failed or final write leaves nothing to skip. */
  forget(key: string): void {
    this.pending.delete(key);
  }

  get size(): number {
    return this.pending.size;
  }
}
