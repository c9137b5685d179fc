/** Which Milvus collection a resource targets. Pure. */
import type { ExternalCollectionRefresh } from '../api/v1alpha1.js';

/** The collection a resource targets, independent of credentials: address, database, name. */
export function collectionKeyOf(r: ExternalCollectionRefresh): string {
  const address = r.spec.milvus.address.replace(/^https?:\/\//, '').toLowerCase();
  return `${address}|${r.spec.milvus.database ?? 'default'}|${r.spec.collectionName}`;
}
