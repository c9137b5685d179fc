/** LeaseClient (runtime/leader-election.ts) over the operator's HTTP client: coordination.k8s.io/v1 Leases. */
import { ConflictError } from '../reconcile/ports.js';
import type { Lease, LeaseClient } from '../runtime/leader-election.js';
import { KubeApiError, type KubeHttp } from './kube-http.js';

const path = (namespace: string, name?: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

export class HttpLeaseClient implements LeaseClient {
  constructor(private readonly http: KubeHttp) {}

  async read(namespace: string, name: string): Promise<Lease | undefined> {
    try {
      return await this.http.json<Lease>('GET', path(namespace, name));
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  create(lease: Lease): Promise<void> {
    return this.write('POST', path(lease.metadata.namespace), lease);
  }

  /** A PUT carrying the read Lease's resourceVersion: 409 when it changed since. */
  replace(lease: Lease): Promise<void> {
    return this.write('PUT', path(lease.metadata.namespace, lease.metadata.name), lease);
  }

  private async write(method: string, to: string, lease: Lease): Promise<void> {
    try {
      await this.http.json(method, to, { ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 409)
        throw new ConflictError(`Lease ${lease.metadata.namespace}/${lease.metadata.name} changed: ${err.message}`);
      throw err;
    }
  }
}
