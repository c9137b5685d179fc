/** Which Milvus collection a resource targets. Pure. */
import type { ExternalCollectionRefresh } from '../api/v1alpha1.js';

/**
 * One spelling per Milvus address: no scheme, lower case, no trailing dot, and Kubernetes Service names
 * completed the way cluster DNS completes them from the resource's namespace, so `milvus:19530`,
 * `milvus.milvus:19530`, `milvus.milvus.svc:19530` and `milvus.milvus.svc.cluster.local:19530` (seen
 * from namespace milvus) are one Milvus. Other names and IP addresses stay as they are.
 */
export function canonicalAddress(address: string, namespace: string): string {
  const hostPort = address.replace(/^https?:\/\//i, '').toLowerCase();
  const colon = hostPort.lastIndexOf(':');
  const host = (colon > 0 ? hostPort.slice(0, colon) : hostPort).replace(/\.$/, '');
  const port = colon > 0 ? hostPort.slice(colon) : '';
  if (host.startsWith('[') || /^\d+(\.\d+){3}$/.test(host)) return `${host}${port}`;
  const labels = host.split('.');
  const svc = labels.indexOf('svc');
  let full = host;
  if (labels.length === 1) full = `${host}.${namespace.toLowerCase()}.svc.cluster.local`;
  else if (labels.length === 2) full = `${host}.svc.cluster.local`;
  else if (svc === 2 && labels.length === 3) full = `${host}.cluster.local`;
  return `${full}${port}`;
}

/** The collection a resource targets, independent of credentials: canonical address, database, name. */
export function collectionKeyOf(r: ExternalCollectionRefresh): string {
  const address = canonicalAddress(r.spec.milvus.address, r.metadata.namespace);
  return `${address}|${r.spec.milvus.database ?? 'default'}|${r.spec.collectionName}`;
}
