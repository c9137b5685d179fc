/**
 * Node 26 refuses a TLS ServerName that is an IP address (ERR_INVALID_ARG_VALUE; Node 20-24 only warned
 * with DEP0123 and sent no SNI). grpc-js (1.14.7, used by the Milvus SDK) always sets `servername` to the
 * target host, so a TLS connection to Milvus by IP address would fail before the handshake. RFC 6066 allows
 * no IP address in SNI, so this drops such a `servername` before `tls.connect`, exactly what older Node
 * did: the certificate is then verified against the IP address (`host`), as before. Every other call is
 * passed through unchanged. Installed once, by the Milvus adapter.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';

let installed = false;

export function dropIpServerNames(): void {
  if (installed) return;
  installed = true;
  const original = tls.connect.bind(tls) as (...args: unknown[]) => tls.TLSSocket;
  (tls as { connect: (...args: unknown[]) => tls.TLSSocket }).connect = (...args: unknown[]) => {
    const options = args.find((a): a is tls.ConnectionOptions => typeof a === 'object' && a !== null);
    if (options?.servername !== undefined && isIP(options.servername) !== 0) {
      const { servername: _ip, ...rest } = options;
      return original(...args.map((a) => (a === options ? rest : a)));
    }
    return original(...args);
  };
}
