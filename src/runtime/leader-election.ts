/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's timings (lease 15 s, renew deadline
 * 10 s, retry 2 s) and its rule of judging expiry by the local time at which the lease was last seen to
 * change, not by the holder's clock. Like client-go it does not fence: the operator's Milvus-side checks
 * (list before submit, adopt on doubt) are what keep two short-lived leaders from submitting twice.
 */
import type { Logger } from '../logger.js';
import { ConflictError } from '../reconcile/ports.js';

/** A coordination.k8s.io/v1 Lease, as far as leader election reads and writes it. */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown };
  spec?: LeaseSpec;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** metav1.MicroTime: RFC 3339 with microseconds. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [k: string]: unknown;
}

/**
 * Lease reads and writes (adapters/lease.ts over the operator's HTTP client). `replace` carries the read
 * Lease's resourceVersion; a write that lost a race (409) throws ConflictError.
 */
export interface LeaseClient {
  /** The Lease, or undefined when it does not exist. */
  read(namespace: string, name: string): Promise<Lease | undefined>;
  create(lease: Lease): Promise<void>;
  replace(lease: Lease): Promise<void>;
}

/** Now as a metav1.MicroTime (RFC 3339 with microseconds). */
const microNow = (): string => `${new Date().toISOString().slice(0, -1)}000Z`;

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onLeading?: (leading: boolean) => void;
}

export class LeaderElector {
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly api: LeaseClient,
    private readonly options: LeaderElectionOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Resolves once this process leads. Then keeps renewing; calls `onLost` once if a renewal does not
   * succeed within the renew deadline (the caller should stop working, as controller-runtime exits).
   */
  async acquire(onLost: () => void): Promise<boolean> {
    const o = this.options;
    o.log.info('Waiting to become the leader', { lease: `${o.namespace}/${o.name}`, identity: o.identity });
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) break;
      await this.sleep(o.retryPeriodMs);
    }
    if (this.stopped) return false;
    this.setLeading(true);
    o.log.info('Became the leader', { lease: `${o.namespace}/${o.name}`, identity: o.identity });
    void this.renewLoop(onLost);
    return true;
  }

  /** Stops renewing and, if leading, gives the lease up so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.api.read(this.options.namespace, this.options.name);
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      const { holderIdentity: _gone, ...rest } = lease.spec;
      lease.spec = { ...rest, leaseDurationSeconds: 1, renewTime: microNow() };
      await this.api.replace(lease);
      this.options.log.info('Released the leader lease', { lease: `${this.options.namespace}/${this.options.name}` });
    } catch (err) {
      this.options.log.warn('Could not release the leader lease', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  private async renewLoop(onLost: () => void): Promise<void> {
    const o = this.options;
    let lastRenew = Date.now();
    while (!this.stopped) {
      await this.sleep(o.retryPeriodMs);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > o.renewDeadlineMs) {
        this.setLeading(false);
        o.log.error('Lost the leader lease', { lease: `${o.namespace}/${o.name}` });
        onLost();
        return;
      }
    }
  }

  /** One attempt, bounded by the renew deadline: a hung API call must not keep a stale leader working. */
  private tryAcquireOrRenew(): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.options.log.warn('Leader lease request timed out', { timeoutMs: this.options.renewDeadlineMs });
        resolve(false);
      }, this.options.renewDeadlineMs);
    });
    return Promise.race([this.attempt(), timeout]).finally(() => clearTimeout(timer));
  }

  private async attempt(): Promise<boolean> {
    const o = this.options;
    const now = microNow();
    const durationSeconds = Math.ceil(o.leaseDurationMs / 1000);
    try {
      const lease = await this.api.read(o.namespace, o.name);
      if (!lease) {
        await this.api.create({
          metadata: { name: o.name, namespace: o.namespace },
          spec: {
            holderIdentity: o.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        });
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
      if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
      const holder = spec.holderIdentity;
      const held = holder !== undefined && holder !== '' && holder !== o.identity;
      const expired = this.observed.at + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 < Date.now();
      if (held && !expired) return false;
      const takeover = holder !== o.identity;
      lease.spec = {
        ...spec,
        holderIdentity: o.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      };
      await this.api.replace(lease);
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError)) {
        o.log.warn('Leader lease update failed', { error: err instanceof Error ? err.message : String(err) });
      }
      return false;
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.options.onLeading?.(leading);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
