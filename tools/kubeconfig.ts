/** Kubeconfig files for the local control plane, built as objects and written with the yaml library. */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

/** A user that authenticates with a bearer token against one API server, trusting one CA. */
export interface TokenKubeconfig {
  /** https://host:port */
  server: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  caPem: string | Buffer;
  token: string;
  /** Names of the cluster, the user and the context (the current one). */
  clusterName: string;
  userName: string;
  contextName: string;
  /** Default namespace of the context. */
  namespace?: string;
}

/** The kubeconfig YAML for `k`. */
export function renderTokenKubeconfig(k: TokenKubeconfig): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: k.clusterName,
        cluster: { server: k.server, 'certificate-authority-data': Buffer.from(k.caPem).toString('base64') },
      },
    ],
    users: [{ name: k.userName, user: { token: k.token } }],
    contexts: [
      {
        name: k.contextName,
        context: { cluster: k.clusterName, user: k.userName, ...(k.namespace ? { namespace: k.namespace } : {}) },
      },
    ],
    'current-context': k.contextName,
  });
}

/** Writes the kubeconfig for `k` to `path`, readable by its owner only (it holds a token). */
export function writeTokenKubeconfig(path: string, k: TokenKubeconfig): void {
  writeFileSync(path, renderTokenKubeconfig(k), { mode: 0o600 });
}
