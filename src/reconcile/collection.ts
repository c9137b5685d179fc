/** Which Milvus collection a resource targets, and whether it currently holds it. Pure. */
import { type ExternalCollectionRefresh, isTerminal } from '../api/v1alpha1.js';
import { STALLED } from '../api/conditions.js';

/** The collection a resource targets, independent of credentials: address, database, name. */
export function collectionKeyOf(r: ExternalCollectionRefresh): string {
  const address = r.spec.milvus.address.replace(/^https?:\/\//, '').toLowerCase();
  return `${address}|${r.spec.milvus.database ?? 'default'}|${r.spec.collectionName}`;
}

/** Whether the resource's status shows it holding its collection: a job running, or a submission in doubt. */
export function holdsCollection(r: ExternalCollectionRefresh): boolean {
  const st = r.status;
  if (!st) return false;
  const lost = st.conditions?.some((c) => c.type === STALLED && c.status === 'True' && c.reason === 'JobLost') ?? false;
  if (st.jobId !== undefined) return !isTerminal(st.state) && !lost;
  return st.run?.submittedAt !== undefined;
}
