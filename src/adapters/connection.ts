/**
 * ConnectionPort: turns spec.milvus and the Secrets it names into an Endpoint. Secret values go into the
 * Endpoint only; messages name the Secret and the key, never a value.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Reason } from '../api/reasons.js';
import type { ExternalCollectionRefresh } from '../api/v1alpha1.js';
import type { ConnectionPort, Endpoint, ExtfsSecret } from '../reconcile/ports.js';
import type { SecretData } from './kube.js';

type Resolved = { ok: true; endpoint: Endpoint; extfs?: ExtfsSecret } | { ok: false; reason: Reason; message: string };

export class Connections implements ConnectionPort {
  /** Per-process HMAC key: endpoint keys are unlinkable to the credentials across processes and logs. */
  private readonly hmacKey = randomBytes(32);
  /**
   * Endpoint key by identity, so an HMAC is computed once per connection rather than once per reconcile. The
   * identities hold credentials, as the Secret cache does; they stay in this process and are never logged.
   * Bounded: it starts over when full (rotated credentials leave old identities behind).
   */
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly readSecret: (namespace: string, name: string) => Promise<SecretData>,
    /** Describes a failed read (the API server's status and message; never Secret data). */
    private readonly describe: (err: unknown) => string = (err) => (err instanceof Error ? err.message : String(err)),
  ) {}

  /** The Secret, undefined when it does not exist, or why it cannot be read (403, timeout, ...). */
  private async read(ns: string, name: string, field: string): Promise<SecretData | { unreadable: string }> {
    try {
      return await this.readSecret(ns, name);
    } catch (err) {
      return {
        unreadable: `Cannot read Secret ${ns}/${name} (${field}): ${this.describe(err)}. Retrying with backoff.`,
      };
    }
  }

  private async extfs(ns: string, name: string): Promise<ExtfsSecret> {
    const data = await this.read(ns, name, 'spec.externalSpecSecretRef');
    if (data && 'unreadable' in data) return { ok: false, reason: 'SecretUnreadable', message: data.unreadable };
    return extfsFrom(ns, name, data);
  }

  async resolve(r: ExternalCollectionRefresh): Promise<Resolved> {
    const ns = r.metadata.namespace;
    const m = r.spec.milvus;
    let credentials: Endpoint['credentials'];
    if (m.credentialsSecretRef) {
      const name = m.credentialsSecretRef.name;
      const data = await this.read(ns, name, 'spec.milvus.credentialsSecretRef');
      if (data && 'unreadable' in data) return { ok: false, reason: 'SecretUnreadable', message: data.unreadable };
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
        const data = await this.read(ns, name, 'spec.milvus.tls.caSecretRef');
        if (data && 'unreadable' in data) return { ok: false, reason: 'SecretUnreadable', message: data.unreadable };
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
    const key = this.keyOf(identity);
    const extfs = r.spec.externalSpecSecretRef ? await this.extfs(ns, r.spec.externalSpecSecretRef.name) : undefined;
    return {
      ok: true,
      ...(extfs ? { extfs } : {}),
      endpoint: { key, address: m.address, database, ...(credentials ? { credentials } : {}), ...(tls ? { tls } : {}) },
    };
  }

  private keyOf(identity: string): string {
    let key = this.keys.get(identity);
    if (key === undefined) {
      key = createHmac('sha256', this.hmacKey).update(identity).digest('hex').slice(0, 16);
      if (this.keys.size >= MAX_KEYS) this.keys.clear();
      this.keys.set(identity, key);
    }
    return key;
  }
}

/** Distinct connections remembered (each a few hundred bytes); far more than a cluster's Milvus endpoints. */
const MAX_KEYS = 1_000;

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
