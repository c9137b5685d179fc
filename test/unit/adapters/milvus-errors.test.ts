/**
 * Milvus failure classification, table-driven over Milvus' own texts (merr wrapping, the proxy's and
 * DataCoord's messages, the SDK's gRPC errors). The kind decides whether the operator waits, adopts,
 * backs off or stalls, so a wrong kind is a wrong status for the user.
 */
import { describe, expect, it } from 'vitest';
import { type Status, classifyStatus, classifyThrown } from '../../../src/adapters/milvus-errors.js';

const status = (code: number, reason: string, extra: Partial<Status> = {}): Status => ({
  code,
  reason,
  error_code:
    code === 100 ? 'CollectionNotExists' : code >= 1100 && code < 1200 ? 'IllegalArgument' : 'UnexpectedError',
  ...extra,
});

describe('classifyStatus: in-band statuses', () => {
  const cases: [string, Status, string][] = [
    [
      'a refresh while a job runs (e2e expectation: 1100 "in progress")',
      status(1100, 'refresh job 470804829245014016 is already in progress for collection products: invalid parameter'),
      'duplicate',
    ],
    [
      'the ack callback duplicate text (703, TaskDuplicate)',
      status(
        703,
        'refresh job 470804829245014016 is already in progress for collection products, please wait for it to complete or cancel it first: task duplicate',
      ),
      'duplicate',
    ],
    [
      'an ordinary collection',
      status(1100, 'collection products is not an external collection: invalid parameter', {
        extra_info: { is_input_error: 'true' },
      }),
      'notExternal',
    ],
    [
      'an unknown collection (code 100)',
      status(100, "can't find collection[database=default][collection=nope]: collection not found"),
      'collectionNotFound',
    ],
    [
      'an unknown collection, legacy error_code only',
      { error_code: 'CollectionNotExists', reason: 'collection nope not found' },
      'collectionNotFound',
    ],
    ['an unknown database (code 800)', status(800, 'database not found[database=nodb]'), 'databaseNotFound'],
    ['the proxy not ready (code 1)', status(1, 'service not ready'), 'unavailable'],
    ['wrong credentials', status(1402, 'auth check failure, please check username and password are correct'), 'auth'],
    ['missing privilege', status(65535, 'PrivilegeRefreshExternalCollection: permission denied'), 'auth'],
    [
      'both-or-neither source/spec (1100)',
      status(
        1100,
        'external_source and external_spec must be both provided or both omitted on refresh (got source="s3://x/", spec=""): invalid parameter',
      ),
      'invalid',
    ],
    [
      'a deferred collection refreshed without a source',
      status(
        1100,
        'collection products has no persisted external_source/external_spec; provide both in the refresh request to initialize: invalid parameter',
      ),
      'invalid',
    ],
    ['a missing parameter (1101)', status(1101, 'cloud_provider is required: missing parameter'), 'invalid'],
    [
      'an input error without a known code',
      status(65535, 'no files found in external source', { extra_info: { is_input_error: 'true' } }),
      'invalid',
    ],
    ['anything else', status(65535, 'rpc error: code = Internal desc = etcd leader changed'), 'other'],
  ];
  it.each(cases)('%s', (_name, s, kind) => {
    expect(classifyStatus(s, []).kind).toBe(kind);
  });

  it('keeps the code, and says so when Milvus gives no reason', () => {
    expect(classifyStatus({ code: 1100, error_code: 'IllegalArgument' }, [])).toEqual({
      kind: 'invalid',
      message: 'error code 1100',
      code: 1100,
    });
  });

  it('scrubs the secrets the operator sent out of the message', () => {
    const f = classifyStatus(status(1100, 'access_key_value AKIASECRET rejected: invalid parameter'), ['AKIASECRET']);
    expect(f.message).not.toContain('AKIASECRET');
    expect(f.message).toContain('***');
  });
});

describe('classifyThrown: gRPC errors from the SDK', () => {
  const grpc = (code: number, details: string): unknown =>
    Object.assign(new Error(`${code} ${details}`), { code, details });
  const cases: [string, unknown, string][] = [
    [
      'connection refused',
      grpc(14, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:19530'),
      'unavailable',
    ],
    ['deadline exceeded', grpc(4, 'Deadline exceeded after 10.001s'), 'unavailable'],
    ['cancelled', grpc(1, 'Cancelled on client'), 'unavailable'],
    ['resource exhausted', grpc(8, 'Received message larger than max'), 'unavailable'],
    [
      "Milvus' auth interceptor",
      grpc(16, 'auth check failure, please check username and password are correct'),
      'auth',
    ],
    ['permission denied', grpc(7, 'permission denied'), 'auth'],
    [
      'unimplemented (a server without the refresh RPCs)',
      grpc(12, 'unknown method RefreshExternalCollection'),
      'unsupported',
    ],
    ['internal', grpc(13, 'Received RST_STREAM with code 2'), 'unavailable'],
    [
      'a transport error without a gRPC code (DNS, TLS)',
      new Error('getaddrinfo ENOTFOUND milvus.example'),
      'unavailable',
    ],
    ['invalid argument from gRPC itself', grpc(3, 'bad request'), 'other'],
  ];
  it.each(cases)('%s', (_name, err, kind) => {
    expect(classifyThrown(err, []).kind).toBe(kind);
  });

  it('drops grpc-js\'s empty "Resolution note" from a connection error, and keeps a real one', () => {
    const empty = grpc(
      14,
      'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:19530. Resolution note: ',
    );
    expect(classifyThrown(empty, []).message).toBe(
      'unavailable: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:19530',
    );
    const note = grpc(14, 'No connection established. Last error: x. Resolution note: DNS lookup failed for milvus');
    expect(classifyThrown(note, []).message).toContain('Resolution note: DNS lookup failed for milvus');
  });

  it('says "deadline exceeded" for a timeout and scrubs secrets', () => {
    const f = classifyThrown(grpc(4, 'Deadline exceeded for token root:S3cret'), ['root:S3cret']);
    expect(f.message).toMatch(/^deadline exceeded: /);
    expect(f.message).not.toContain('S3cret');
  });
});
