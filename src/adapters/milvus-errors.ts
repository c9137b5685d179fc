/**
 * How Milvus failures are classified: an in-band `common.Status` (the call succeeded at the gRPC level) or a
 * thrown gRPC error. The kinds decide what the operator does next (wait, back off, stall, adopt), so the
 * texts matched here are Milvus' own (docs: shared reference "Milvus refresh API", section 1.5 and 2).
 */
import type { MilvusFailure, MilvusFailureKind } from '../reconcile/types.js';
import { scrub } from '../util/scrub.js';

/** Milvus' `common.Status`, as the Node SDK delivers it (enums as names, so `error_code` is a string). */
export interface Status {
  error_code?: string | number;
  code?: number;
  reason?: string;
  extra_info?: Record<string, string>;
}

const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

/** The failure an in-band status describes; `secrets` are scrubbed from its message. */
export function classifyStatus(status: Status, secrets: string[]): MilvusFailure {
  const message = scrub(status.reason ?? '', secrets) || `error code ${status.code ?? status.error_code}`;
  const code = status.code;
  const base = { message, ...(code !== undefined ? { code } : {}) };
  const kind = ((): MilvusFailureKind => {
    if (/in progress/i.test(message)) return 'duplicate';
    if (/is not an external collection/i.test(message)) return 'notExternal';
    if (code === 800 || /database not found/i.test(message)) return 'databaseNotFound';
    if (
      code === 100 ||
      /collection not found|can't find collection/i.test(message) ||
      status.error_code === 'CollectionNotExists'
    )
      return 'collectionNotFound';
    if (code === 1 || code === 2) return 'unavailable';
    if (
      (code !== undefined && code >= 1400 && code < 1500) ||
      /permission denied|not authenticated|auth check failure/i.test(message)
    )
      return 'auth';
    if (code === 1100 || code === 1101 || code === 1102 || status.extra_info?.is_input_error === 'true')
      return 'invalid';
    return 'other';
  })();
  return { kind, ...base };
}

/** The failure a thrown SDK/gRPC error describes; `secrets` are scrubbed from its message. */
export function classifyThrown(err: unknown, secrets: string[]): MilvusFailure {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  // grpc-js appends ". Resolution note: " to connection errors even when its resolver left no note.
  const text = scrub(String(e?.details ?? e?.message ?? err), secrets).replace(/\.? Resolution note: ?\.?$/, '');
  switch (code) {
    case GRPC.UNAVAILABLE:
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.CANCELLED:
    case GRPC.RESOURCE_EXHAUSTED:
      return {
        kind: 'unavailable',
        message: `${code === GRPC.DEADLINE_EXCEEDED ? 'deadline exceeded' : 'unavailable'}: ${text}`,
      };
    case GRPC.UNAUTHENTICATED:
    case GRPC.PERMISSION_DENIED:
      return { kind: 'auth', message: text };
    case GRPC.UNIMPLEMENTED:
      return { kind: 'unsupported', message: text };
    default:
      // Errors without a gRPC code come from the transport (DNS, TLS, a closed pool): the call may not have run.
      return {
        kind: code === undefined || code === GRPC.INTERNAL || code === GRPC.UNKNOWN ? 'unavailable' : 'other',
        message: text,
      };
  }
}
