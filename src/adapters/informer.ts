/**
 * A watch-backed cache of ExternalCollectionRefresh objects over ListWatch (list-watch.ts, client-node 2.0.1's
 * semantics on the operator's own HTTP client), made robust where that informer is not (docs/runtime.md):
 * - The watch re-arms its inactivity timer on every chunk and reconnects by itself after its client-side
 *   `TimeoutError`. We ask for watch bookmarks (about one a minute from the API server), give
 *   the inactivity timer room for them, and let the server end each watch after 5-10 min (client-go's
 *   randomised timeout), so a quiet but healthy watch is never aborted and a dead one is noticed within
 *   the inactivity timeout, with no relist.
 * - ListWatch stops on any other watch error (not 410): it is resumed from the last
 *   resourceVersion with exponential backoff (1 s -> 30 s); if resuming fails, a fresh list is taken.
 * - There is no resync: every resync period the cached keys are handed to `onKey` again (controller-runtime's
 *   resync), without a list call.
 * - The cache holds full objects, managedFields included. Each object is slimmed as it arrives (list pages
 *   and watch events alike): the fields the operator never reads are dropped (`slim`), which is most of a
 *   resource's size once kubectl and the operator have both written it.
 * - The list is paginated (500 a page), so a relist of 10,000 resources never holds one 30 MB answer.
 * - `labelSelector` restricts both the list and the watch (sharding by label, like Flux).
 * Every add, update, delete and relist hands the object's key to `onKey`.
 */
import { type ExternalCollectionRefresh, GROUP, PLURAL, VERSION, keyOf } from '../api/v1alpha1.js';
import type { Logger } from '../logger.js';
import { apiErrorMessage } from './kube.js';
import type { KubeHttp } from './kube-http.js';
import { type KubeList, type KubeObject as KubernetesObject, ListWatch, type Watcher } from './list-watch.js';
import { slim } from './slim.js';
import type { Echoes } from './echoes.js';
import { backoffMs } from '../util/backoff.js';

export interface InformerOptions {
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  /** Watch only objects with these labels (a label selector); all when undefined. */
  labelSelector?: string;
  /** Objects per list page (default 500). */
  pageSize?: number;
  /** Echoes of the operator's own status writes: cached, but not handed to `onKey` (echoes.ts). */
  echoes?: Echoes;
  /** Told of each version the cache takes in (an add or an update, echoes included), after it is stored. */
  onCached?: (key: string, obj: ExternalCollectionRefresh) => void;
  /** How often every cached key is handed to `onKey` again (no API call). */
  resyncPeriodMs: number;
  /** A watch that delivers nothing, not even a bookmark, for this long is treated as dead and reopened. */
  watchInactivityMs?: number;
  /** Longest delay between attempts to reopen a failed watch or list (default 30 s). */
  backoffMaxMs?: number;
  onKey: (key: string) => void;
  log: Logger;
  /** Informer (re)starts, for metrics: 'start', 'watch-error', 'relist'. */
  onRestart?: (reason: string) => void;
}

/**
 * The API server sends a bookmark about once a minute (seen here up to 2 min apart on a quiet resource); a
 * watch silent for longer than this is dead and is reopened from its resourceVersion, without a list.
 */
export const DEFAULT_WATCH_INACTIVITY_MS = 150_000;

export { slim } from './slim.js';

// Watch events carry raw JSON (timestamps are strings), so the cache holds plain KubernetesObjects that are
// ExternalCollectionRefresh-shaped; the cast happens here, once.
const asRefresh = (o: KubernetesObject | undefined): ExternalCollectionRefresh | undefined =>
  o as unknown as ExternalCollectionRefresh | undefined;

export class RefreshInformer {
  private informer: ListWatch<KubernetesObject> | undefined;
  private generation = 0;
  private failures = 0;
  private synced = false;
  private watching = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private resync: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly http: KubeHttp,
    private readonly options: InformerOptions,
  ) {}

  /** Resolves after the first successful list. Keeps retrying until then (or until stop()). */
  async start(): Promise<void> {
    await this.open('start');
    this.resync = setInterval(() => {
      for (const r of this.list()) this.options.onKey(keyOf(r));
    }, this.options.resyncPeriodMs);
    this.resync.unref();
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
    if (this.resync) clearInterval(this.resync);
    await this.informer?.stop();
  }

  /** Lists page by page (one consistent snapshot), slimming each object as its page arrives. */
  private listFn = async (): Promise<KubeList<KubernetesObject>> => {
    const items: KubernetesObject[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    do {
      const page = await this.http.json<KubeList<KubernetesObject>>('GET', this.listPath(token));
      for (const item of page.items ?? []) items.push(slim(item));
      resourceVersion ??= page.metadata?.resourceVersion;
      const meta: Record<string, unknown> = { ...page.metadata };
      const next = meta.continue;
      token = typeof next === 'string' && next !== '' ? next : undefined;
    } while (token);
    return { metadata: resourceVersion !== undefined ? { resourceVersion } : {}, items };
  };

  /** A list page's URL. */
  private listPath(token: string | undefined): string {
    const ns = this.options.namespace;
    const base = ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    const q = new URLSearchParams({ limit: String(this.options.pageSize ?? 500) });
    if (token) q.set('continue', token);
    if (this.options.labelSelector) q.set('labelSelector', this.options.labelSelector);
    return `${base}?${q.toString()}`;
  }

  /** The watch URL path: bookmarks on, and a randomised server-side timeout like client-go's reflector. */
  private watchPath(): string {
    const ns = this.options.namespace;
    const base = ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    // ListWatch appends its own parameters to this URL with URLSearchParams, so these survive.
    return `${base}?allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}`;
  }

  /** Opens watches over the operator's HTTP client, with the inactivity timeout. */
  private watcher(): Watcher {
    const inactivity = this.options.watchInactivityMs ?? DEFAULT_WATCH_INACTIVITY_MS;
    return { watch: (path, params, cb, done) => this.http.watch(path, params, cb, done, inactivity) };
  }

  /** Opens a fresh informer (a full list, then a watch); on failure retries with backoff. */
  private async open(reason: string): Promise<void> {
    const previous = this.informer;
    const generation = ++this.generation;
    const informer = new ListWatch<KubernetesObject>(
      this.watchPath(),
      this.watcher(),
      this.listFn,
      this.options.labelSelector,
    );
    const keyOfObject = (obj: KubernetesObject): string => keyOf({ metadata: obj.metadata ?? {} });
    const touch = (key: string): void => {
      if (generation === this.generation) this.options.onKey(key);
    };
    // ListWatch stores the very object it hands to these callbacks: slimming it here slims the cache. The
    // version the cache now holds is told to onCached; the key is returned.
    const take = (obj: KubernetesObject): string => {
      slim(obj);
      const key = keyOfObject(obj);
      if (generation === this.generation) this.options.onCached?.(key, asRefresh(obj)!);
      return key;
    };
    informer.on('add', (obj: KubernetesObject) => touch(take(obj)));
    informer.on('update', (obj: KubernetesObject) => {
      const key = take(obj);
      if (this.options.echoes?.isEcho(key, obj.metadata?.resourceVersion)) return;
      touch(key);
    });
    informer.on('delete', (obj: KubernetesObject) => touch(keyOfObject(obj)));
    informer.on('connect', () => {
      this.watching = true;
    });
    // ListWatch's start() does not reject when the list fails: it emits 'error' and resolves. Errors
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
      const delay = backoffMs(this.failures - 1, 1_000, this.options.backoffMaxMs ?? 30_000);
      this.options.log.warn('Watch of ExternalCollectionRefresh failed; restarting', {
        error: apiErrorMessage(err),
        retryInMs: delay,
      });
      this.options.onRestart?.('watch-error');
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
      const delay = backoffMs(this.failures - 1, 1_000, this.options.backoffMaxMs ?? 30_000);
      this.options.log.warn('Listing ExternalCollectionRefresh failed; retrying', {
        error: apiErrorMessage(listError),
        retryInMs: delay,
      });
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
    if (previous) {
      await previous.stop();
      // Objects that vanished between the two lists: their keys still need a (cleanup) reconcile.
      const key = (o: KubernetesObject): string => keyOf({ metadata: o.metadata ?? {} });
      const now = new Set(informer.list().map(key));
      for (const obj of previous.list()) if (!now.has(key(obj))) this.options.onKey(key(obj));
    }
  }

  private async resume(informer: ListWatch<KubernetesObject>, generation: number): Promise<void> {
    if (this.stopped || generation !== this.generation) return;
    try {
      await informer.start(); // resumes the watch from the last resourceVersion (relists on 410)
      // A failed reconnect has already reported an error (and cleared `watching`) by now.
      if (this.watching) this.failures = 0;
    } catch (err) {
      this.options.log.warn('Restarting the watch failed; relisting', { error: apiErrorMessage(err) });
      if (!this.stopped) await this.open('relist');
    }
  }
}
