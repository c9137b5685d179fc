/**
 * A watch-backed cache of ExternalCollectionRefresh objects, made robust where client-node's informer is not:
 * - the informer stops on any watch error but 410: it is restarted with exponential backoff (1 s -> 30 s);
 * - it never asks for bookmarks and never relists: a watchdog relists every resync period and whenever the
 *   watch has been silent too long, so a missed event cannot leave a resource unreconciled.
 * Every add, update, delete and relist hands the object's key to `onKey`.
 */
import {
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  makeInformer,
} from '@kubernetes/client-node';
import { type ExternalCollectionRefresh, GROUP, PLURAL, VERSION, keyOf } from '../api/v1alpha1.js';
import type { Logger } from '../logger.js';
import { apiErrorMessage } from './kube.js';
import { backoffMs } from '../util/backoff.js';

export interface InformerOptions {
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  /** Full relist period. */
  resyncPeriodMs: number;
  /** Relist when the watch delivered nothing (not even a reconnect) for this long. */
  silenceMs?: number;
  onKey: (key: string) => void;
  log: Logger;
  /** Informer (re)starts, for metrics. */
  onRestart?: (reason: string) => void;
}

// Watch events carry raw JSON (timestamps are strings), so the cache holds plain KubernetesObjects that are
// ExternalCollectionRefresh-shaped; the cast happens here, once.
type Cache = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
const asRefresh = (o: KubernetesObject | undefined): ExternalCollectionRefresh | undefined => o as unknown as ExternalCollectionRefresh | undefined;

export class RefreshInformer {
  private informer: Cache | undefined;
  private generation = 0;
  private failures = 0;
  private lastActivity = Date.now();
  private lastRelist = Date.now();
  private synced = false;
  private watching = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private readonly api: CustomObjectsApi;

  constructor(
    private readonly kc: KubeConfig,
    private readonly options: InformerOptions,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /** Resolves after the first successful list. Keeps retrying until then (or until stop()). */
  async start(): Promise<void> {
    await this.open('start');
    const silenceMs = this.options.silenceMs ?? Math.min(this.options.resyncPeriodMs, 5 * 60_000);
    this.watchdog = setInterval(() => {
      const now = Date.now();
      if (now - this.lastRelist >= this.options.resyncPeriodMs) void this.relist('resync period');
      else if (this.watching && now - this.lastActivity >= silenceMs) void this.relist(`watch silent for ${Math.round(silenceMs / 1000)}s`);
    }, Math.min(10_000, this.options.resyncPeriodMs));
    this.watchdog.unref();
  }

  /** Whether the cache is listed and its watch open. */
  get healthy(): boolean {
    return this.synced && this.watching && !this.stopped;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): ExternalCollectionRefresh | undefined {
    const slash = key.indexOf('/');
    return asRefresh(this.informer?.get(key.slice(slash + 1), key.slice(0, slash)));
  }

  list(): ExternalCollectionRefresh[] {
    return (this.informer?.list() ?? []).map((o) => asRefresh(o)!);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    await this.informer?.stop();
  }

  private listFn = (): Promise<KubernetesListObject<KubernetesObject>> => {
    const ns = this.options.namespace;
    const req = { group: GROUP, version: VERSION, plural: PLURAL };
    return (ns ? this.api.listNamespacedCustomObject({ ...req, namespace: ns }) : this.api.listCustomObjectForAllNamespaces(req)) as Promise<
      KubernetesListObject<KubernetesObject>
    >;
  };

  /** Opens a fresh informer (a full list, then a watch); on failure retries with backoff. */
  private async open(reason: string): Promise<void> {
    const ns = this.options.namespace;
    const path = ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    const previous = this.informer;
    const generation = ++this.generation;
    const informer = makeInformer<KubernetesObject>(this.kc, path, this.listFn);
    const touch = (obj: KubernetesObject): void => {
      this.lastActivity = Date.now();
      if (generation === this.generation) this.options.onKey(keyOf({ metadata: obj.metadata ?? {} }));
    };
    informer.on('add', touch);
    informer.on('update', touch);
    informer.on('delete', touch);
    informer.on('connect', () => {
      this.lastActivity = Date.now();
      this.watching = true;
    });
    // client-node's start() does not reject when the list fails: it emits 'error' and resolves. Errors
    // while listing fail the attempt below; errors after it (the watch) restart the watch with backoff.
    let listing = true;
    let listError: unknown;
    informer.on('error', (err: unknown) => {
      if (generation !== this.generation || this.stopped) return;
      if (listing) {
        listError = err ?? new Error('list failed');
        return;
      }
      this.watching = false;
      this.failures += 1;
      const delay = backoffMs(this.failures - 1, 1_000, 30_000);
      this.options.log.warn('Watch of ExternalCollectionRefresh failed; restarting', { error: describe(err), retryInMs: delay });
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.resume(informer, generation), delay);
    });
    this.options.onRestart?.(reason);
    for (;;) {
      listError = undefined;
      try {
        await informer.start();
      } catch (err) {
        listError = err;
      }
      if (this.stopped) return;
      if (listError === undefined) break;
      this.failures += 1;
      const delay = backoffMs(this.failures - 1, 1_000, 30_000);
      this.options.log.warn('Listing ExternalCollectionRefresh failed; retrying', { error: describe(listError), retryInMs: delay });
      await informer.stop();
      await new Promise((r) => setTimeout(r, delay));
    }
    listing = false;
    if (generation !== this.generation) {
      await informer.stop();
      return;
    }
    this.informer = informer;
    this.synced = true;
    this.watching = true;
    this.lastActivity = Date.now();
    this.lastRelist = Date.now();
    if (previous) {
      await previous.stop();
      // Objects that vanished between the two lists: their keys still need a (cleanup) reconcile.
      const key = (o: KubernetesObject): string => keyOf({ metadata: o.metadata ?? {} });
      const now = new Set(informer.list().map(key));
      for (const obj of previous.list()) if (!now.has(key(obj))) this.options.onKey(key(obj));
    }
  }

  private async resume(informer: Cache, generation: number): Promise<void> {
    if (this.stopped || generation !== this.generation) return;
    try {
      await informer.start(); // resumes the watch from the last resourceVersion (relists on 410)
      this.failures = 0;
    } catch (err) {
      this.options.log.warn('Restarting the watch failed; relisting', { error: describe(err) });
      await this.relist('watch restart failed');
    }
  }

  private async relist(reason: string): Promise<void> {
    if (this.stopped) return;
    this.options.log.debug('Relisting ExternalCollectionRefresh', { reason });
    await this.open(reason);
  }
}

function describe(err: unknown): string {
  return apiErrorMessage(err);
}
