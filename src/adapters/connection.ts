/**
 * ConnectionPort: turns spec.milvus and the Secrets it names into an Endpoint. Secret values go into the
 * Endpoint only; messages name the Secret and the key, never a value.
 */
import { createHash } from 'node:crypto';
import type { Reason } from '../api/reasons.js';
import type { ExternalCollectionRefresh } from '../api/v1alpha1.js';
import type { ConnectionPort, Endpoint, ExtfsSecret } from '../reconcile/ports.js';
import type { SecretData } from './kube.js';

type Resolved = { ok: true; endpoint: Endpoint; extfs?: ExtfsSecret } | { ok: false; reason: Reason; message: string };

export class Connections implements ConnectionPort {
  constructor(private readonly readSecret: (namespace: string, name: string) => Promise<SecretData>) {}

  private async extfs(ns: string, name: string): Promise<ExtfsSecret> {
    return extfsFrom(ns, name, await this.readSecret(ns, name));
  }

  async resolve(r: ExternalCollectionRefresh): Promise<Resolved> {
    const ns = r.metadata.namespace;
    const m = r.spec.milvus;
    let credentials: Endpoint['credentials'];
    if (m.credentialsSecretRef) {
      const name = m.credentialsSecretRef.name;
      const data = await this.readSecret(ns, name);
      if (!data) return missing(`Secret ${ns}/${name} (spec.milvus.credentialsSecretRef) does not exist`);
      if (data.token) credentials = { token: data.token };
      else if (data.username && data.password !== undefined)
        credentials = { username: data.username, password: data.password };
      else {
        return {
          ok: false,
          reason: 'InvalidSecret',
          message: `Secret ${ns}/${name} (spec.milvus.credentialsSecretRef) must have key "token", or keys "username" and "password"`,
        };
      }
    }
    let tls: Endpoint['tls'];
    if (m.tls?.enabled || m.tls?.caSecretRef || m.tls?.serverName || /^https:\/\//i.test(m.address)) {
      tls = {};
      if (m.tls?.serverName) tls.serverName = m.tls.serverName;
      if (m.tls?.caSecretRef) {
        const { name, key = 'ca.crt' } = m.tls.caSecretRef;
        const data = await this.readSecret(ns, name);
        if (!data) return missing(`Secret ${ns}/${name} (spec.milvus.tls.caSecretRef) does not exist`);
        const ca = data[key];
        if (!ca)
          return {
            ok: false,
            reason: 'InvalidSecret',
            message: `Secret ${ns}/${name} (spec.milvus.tls.caSecretRef) has no key "${key}"`,
          };
        tls.ca = ca;
      }
    }
    const database = m.database ?? 'default';
    const identity = JSON.stringify([m.address.toLowerCase(), tls ?? null, credentials ?? null]);
    const key = createHash('sha256').update(identity).digest('hex').slice(0, 16);
    const extfs = r.spec.externalSpecSecretRef ? await this.extfs(ns, r.spec.externalSpecSecretRef.name) : undefined;
    return {
      ok: true,
      ...(extfs ? { extfs } : {}),
      endpoint: { key, address: m.address, database, ...(credentials ? { credentials } : {}), ...(tls ? { tls } : {}) },
    };
  }
}

/** Keys of the extfs Secret are plain strings; values never appear in a message. */
function extfsFrom(ns: string, name: string, data: Record<string, string> | undefined): ExtfsSecret {
  const where = `Secret ${ns}/${name} (spec.externalSpecSecretRef)`;
  if (!data) return missing(`${where} does not exist`);
  const values = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== ''));
  if (Object.keys(values).length === 0) {
    return {
      ok: false,
      reason: 'InvalidSecret',
      message: `${where} has no keys; it should hold extfs keys such as access_key_id and access_key_value`,
    };
  }
  return { ok: true, values };
}

function missing(message: string): { ok: false; reason: Reason; message: string } {
  return { ok: false, reason: 'SecretNotFound', message: `${message}. Retrying with backoff.` };
}
