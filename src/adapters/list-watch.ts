/**
 * A list-then-watch cache with the semantics of @kubernetes/client-node 2.0.1's ListWatch (which the informer
 * used until the operator dropped client-node), kept so informer.ts works unchanged on top of it:
 * - start() lists (when there is no resourceVersion), replaces the cache (deleting what vanished), then
 *   watches from the list's resourceVersion; it emits 'error' and resolves when the list fails.
 * - A watch that ends cleanly is reopened from the last resourceVersion, after 1 s, 2 s, ... up to 30 s when
 *   it ends again without an event in between; a client-side TimeoutError (inactivity) reopens it at once;
 *   410 Gone (or an ERROR event with code 410) relists; any other error emits 'error' and stops.
 * - 'add', 'update' (a changed resourceVersion only) and 'delete' hand over the stored object; 'connect'
 *   fires before each list or watch.
 */
import type { WatchCallback, WatchDone } from './kube-http.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface KubeList<T> {
  metadata?: { resourceVersion?: string };
  items: T[];
}

/** Opens a watch of `path` with `queryParams`; resolves with what aborts it. */
export interface Watcher {
  watch(
    path: string,
    queryParams: Record<string, unknown>,
    callback: WatchCallback,
    done: WatchDone,
  ): Promise<{ abort(): void }>;
}

type Verb = 'add' | 'update' | 'delete' | 'error' | 'connect';

const BASE_RECONNECT_DELAY_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 30_000;

export class ListWatch<T extends KubeObject> {
  private objects = new Map<string, Map<string, T>>();
  private readonly callbacks: Record<Verb, ((arg: never) => void)[]> = {
    add: [],
    update: [],
    delete: [],
    error: [],
    connect: [],
  };
  private stopped = false;
  private reconnectDelayMs = 0;
  private hasConnected = false;
  private resourceVersion = '';
  private request: { abort(): void } | undefined;

  constructor(
    private readonly path: string,
    private readonly watcher: Watcher,
    private readonly listFn: () => Promise<KubeList<T>>,
    private readonly labelSelector?: string,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.reconnectDelayMs = 0;
    this.hasConnected = false;
    await this.doneHandler(null);
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.abort();
    return Promise.resolve();
  }

  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err: unknown) => void): void;
  on(verb: 'connect', cb: () => void): void;
  on(verb: Verb, cb: (arg: never) => void): void {
    this.callbacks[verb].push(cb);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  list(): T[] {
    const all: T[] = [];
    for (const ns of this.objects.values()) for (const o of ns.values()) all.push(o);
    return all;
  }

  latestResourceVersion(): string {
    return this.resourceVersion;
  }

  private emit(verb: Verb, arg?: unknown): void {
    for (const cb of this.callbacks[verb].slice()) (cb as (a: unknown) => void)(arg);
  }

  private abort(): void {
    this.request?.abort();
    this.request = undefined;
  }

  private async doneHandler(err: unknown): Promise<void> {
    this.abort();
    const e = err as { code?: unknown; statusCode?: unknown; name?: unknown } | null;
    if (e && (e.code === 410 || e.statusCode === 410)) {
      this.resourceVersion = '';
    } else if (e && e.name === 'TimeoutError') {
      // Client-side inactivity: reconnect from the last resourceVersion at once (the timeout itself throttled).
      this.reconnectDelayMs = 0;
    } else if (e) {
      this.emit('error', err);
      return;
    }
    if (this.stopped) return;
    this.emit('connect');
    if (!this.resourceVersion) {
      let list: KubeList<T>;
      try {
        list = await this.listFn();
      } catch (listErr) {
        this.emit('error', listErr);
        return;
      }
      this.replace(list.items);
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
    }
    const queryParams: Record<string, unknown> = { resourceVersion: this.resourceVersion };
    if (this.labelSelector !== undefined) queryParams.labelSelector = this.labelSelector;
    if (this.reconnectDelayMs > 0 && this.hasConnected) await new Promise((r) => setTimeout(r, this.reconnectDelayMs));
    if (this.hasConnected)
      this.reconnectDelayMs = Math.min(
        this.reconnectDelayMs > 0 ? this.reconnectDelayMs * 2 : BASE_RECONNECT_DELAY_MS,
        MAX_RECONNECT_DELAY_MS,
      );
    this.hasConnected = true;
    this.request = await this.watcher.watch(
      this.path,
      queryParams,
      (phase, obj) => this.watchHandler(phase, obj as T & { code?: number }),
      (doneErr) => void this.doneHandler(doneErr),
    );
  }

  private watchHandler(phase: string, obj: T & { code?: number }): void {
    switch (phase) {
      case 'ERROR':
        if (obj.code === 410) this.resourceVersion = '';
        return; // the watch ends by itself if it must
      case 'ADDED':
      case 'MODIFIED':
        this.addOrUpdate(obj);
        break;
      case 'DELETED':
        this.remove(obj);
        break;
      default: // BOOKMARK: only its resourceVersion counts
        break;
    }
    this.reconnectDelayMs = 0;
    this.resourceVersion = obj.metadata?.resourceVersion ?? '';
  }

  /** The cache becomes `items`; what is no longer there is deleted (and reported). */
  private replace(items: T[]): void {
    const fresh = new Map<string, Set<string>>();
    for (const o of items) {
      const ns = o.metadata?.namespace ?? '';
      let names = fresh.get(ns);
      if (!names) fresh.set(ns, (names = new Set()));
      names.add(o.metadata?.name ?? '');
    }
    for (const [ns, objects] of this.objects) {
      const names = fresh.get(ns);
      for (const [name, obj] of objects)
        if (!names?.has(name)) {
          objects.delete(name);
          this.emit('delete', obj);
        }
      if (objects.size === 0) this.objects.delete(ns);
    }
    for (const o of items) this.addOrUpdate(o);
  }

  private addOrUpdate(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    let objects = this.objects.get(ns);
    if (!objects) this.objects.set(ns, (objects = new Map<string, T>()));
    const name = obj.metadata?.name ?? '';
    const found = objects.get(name);
    if (!found) {
      objects.set(name, obj);
      this.emit('add', obj);
    } else if (
      found.metadata?.resourceVersion == null ||
      found.metadata.resourceVersion !== obj.metadata?.resourceVersion
    ) {
      objects.set(name, obj);
      this.emit('update', obj);
    }
  }

  private remove(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const objects = this.objects.get(ns);
    const name = obj.metadata?.name ?? '';
    if (!objects?.has(name)) return;
    objects.delete(name);
    if (objects.size === 0) this.objects.delete(ns);
    this.emit('delete', obj);
  }
}
