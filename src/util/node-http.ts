/**
 * node:http, loaded as CommonJS. An ES `import ... from 'node:http'` makes Node read every export of the
 * module, and three of them (WebSocket, CloseEvent, MessageEvent) are getters that load Node's bundled undici,
 * the one behind the global fetch: 2.6 MiB of heap and 15 MiB of RSS (Node 26.12) for an operator that uses
 * neither. `require` reads only what is used.
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';

export const http = createRequire(import.meta.url)('node:http') as typeof Http;
