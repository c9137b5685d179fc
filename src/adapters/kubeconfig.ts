/**
 * A KubeConfig whose API calls share one connection pool.
 *
 * client-node 2.0.1 builds a new undici Agent inside every `applySecurityAuthentication()` call whenever the
 * cluster has TLS material (a CA, a client certificate): every request and every watch opens its own TCP
 * connection and TLS handshake, and the agent is dropped afterwards. This subclass keeps the first agent it
 * sees for a given set of TLS settings and hands that one to every later request, so calls reuse keep-alive
 * connections. Headers (the bearer token, re-read from its file by client-node) are still applied per request.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { channel } from 'node:diagnostics_channel';

type Context = Parameters<KubeConfig['applySecurityAuthentication']>[0];
type Dispatcher = NonNullable<ReturnType<Context['getDispatcher']>>;

export class PooledKubeConfig extends KubeConfig {
  private shared: { fingerprint: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: Context): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return; // plain http or no TLS material: undici's global pool is shared already
    const fingerprint = this.tlsFingerprint();
    if (this.shared?.fingerprint !== fingerprint) {
      const previous = this.shared?.dispatcher;
      this.shared = { fingerprint, dispatcher: fresh };
      // Connections of the previous settings finish their requests, then close.
      void (previous as { close?: () => Promise<void> } | undefined)?.close?.().catch(() => undefined);
      return;
    }
    context.setDispatcher(this.shared.dispatcher);
  }

  /** What the TLS settings of an agent depend on: the cluster's CA and the user's client certificate. */
  private tlsFingerprint(): string {
    const c = this.getCurrentCluster();
    const u = this.getCurrentUser();
    return JSON.stringify([
      c?.server,
      c?.caFile,
      c?.caData,
      c?.skipTLSVerify,
      c?.tlsServerName,
      c?.proxyUrl,
      u?.certFile,
      u?.certData,
      u?.keyFile,
      u?.keyData,
    ]);
  }
}

/** Loads a kubeconfig file, or the default chain ($KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path?: string): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/**
 * Calls `onConnect` for every new connection that client-node's HTTP client (undici) opens, so metrics can
 * show connection churn. Returns an unsubscribe function.
 */
export function onApiConnection(onConnect: (origin: string) => void): () => void {
  const ch = channel('undici:client:connected');
  const listener = (message: unknown): void => {
    const p = (message as { connectParams?: { protocol?: string; hostname?: string; port?: string | number } })
      .connectParams;
    onConnect(p ? `${p.protocol ?? ''}//${p.hostname ?? ''}:${p.port ?? ''}` : 'unknown');
  };
  ch.subscribe(listener);
  return () => ch.unsubscribe(listener);
}
