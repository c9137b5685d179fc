/**
 * Which resource of this operator is refreshing which Milvus collection. Milvus allows one active job per
 * collection and its duplicate check misses jobs it has not persisted yet, so the operator never lets two
 * of its resources submit for the same collection at once; the others wait their turn.
 */
import type { ExternalCollectionRefresh } from '../api/v1alpha1.js';
import { collectionKeyOf } from '../reconcile/collection.js';
import type { Claim } from '../reconcile/model.js';
import { holdsCollection } from '../reconcile/phase.js';
import type { ClaimsPort } from '../reconcile/ports.js';

export class Claims implements ClaimsPort {
  private readonly byCollection = new Map<string, { owner: string; jobId?: string }>();
  private readonly byOwner = new Map<string, string>();

  /** Rebuilds the table from resources as stored (at start-up, before any reconcile). */
  seed(resources: Iterable<ExternalCollectionRefresh>): void {
    for (const r of resources) {
      if (holdsCollection(r, Date.now()))
        this.set(collectionKeyOf(r), `${r.metadata.namespace}/${r.metadata.name}`, r.status?.jobId);
    }
  }

  /** The claim of another owner on `collection`, if any. */
  holder(collection: string, self: string): Claim | undefined {
    const c = this.byCollection.get(collection);
    return c && c.owner !== self ? { ...c } : undefined;
  }

  acquire(collection: string, owner: string): boolean {
    const existing = this.byCollection.get(collection);
    if (existing && existing.owner !== owner) return false;
    this.set(collection, owner, existing?.jobId);
    return true;
  }

  /** `owner` holds `collection` (possibly with a known job). Moves an earlier claim of the owner. */
  set(collection: string, owner: string, jobId?: string): void {
    const previous = this.byOwner.get(owner);
    if (previous !== undefined && previous !== collection) this.byCollection.delete(previous);
    const existing = this.byCollection.get(collection);
    if (existing && existing.owner !== owner) return; // first come, first served
    this.byCollection.set(collection, jobId ? { owner, jobId } : { owner });
    this.byOwner.set(owner, collection);
  }

  /** `owner` holds nothing. Returns the collection it held. */
  release(owner: string): string | undefined {
    const collection = this.byOwner.get(owner);
    if (collection === undefined) return undefined;
    this.byOwner.delete(owner);
    if (this.byCollection.get(collection)?.owner === owner) this.byCollection.delete(collection);
    return collection;
  }
}
