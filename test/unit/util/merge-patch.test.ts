import { describe, expect, it } from 'vitest';
import { applyMergePatch, jsonCopy, jsonEqual, mergePatch } from '../../../src/util/merge-patch.js';
import { extfsSecrets, scrub, secretForms } from '../../../src/util/scrub.js';

describe('mergePatch', () => {
  it('nulls removed keys, recurses into objects, replaces arrays, omits unchanged values', () => {
    const from = { jobId: '1', run: { submittedAt: 't', attempts: 1 }, conditions: [{ type: 'Ready' }], progress: 5 };
    const to = { run: { attempts: 2 }, conditions: [{ type: 'Ready' }, { type: 'Stalled' }], progress: 5 };
    const patch = mergePatch(from, to);
    expect(patch).toEqual({
      jobId: null,
      run: { submittedAt: null, attempts: 2 },
      conditions: [{ type: 'Ready' }, { type: 'Stalled' }],
    });
    expect(applyMergePatch(from, patch)).toEqual(to);
  });
});

describe('jsonEqual', () => {
  it('compares JSON values deeply, whatever the key order, and leaves unchanged conditions out of a patch', () => {
    const ready = { type: 'Ready', status: 'True', reason: 'RefreshCompleted' };
    const reordered = { reason: 'RefreshCompleted', type: 'Ready', status: 'True' };
    expect(jsonEqual([ready], [reordered])).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([ready], [{ ...ready, status: 'False' }])).toBe(false);
    expect(jsonEqual([ready], [ready, ready])).toBe(false);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual('5', 5)).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(mergePatch({ conditions: [ready], progress: 5 }, { conditions: [reordered], progress: 6 })).toEqual({
      progress: 6,
    });
  });
});

describe('jsonCopy', () => {
  it('copies as a JSON round trip would: undefined fields dropped, undefined items and NaN as null', () => {
    const status = {
      jobId: '7',
      state: undefined,
      progress: 40,
      run: { attempts: 1, submittedAt: undefined, baselineJobId: '3' },
      conditions: [{ type: 'Ready', status: 'False', observedGeneration: 2 }],
      history: [{ jobId: '3', progress: Number.NaN }, undefined],
      suspended: false,
      note: null,
    };
    const copy = jsonCopy(status);
    expect(copy).toStrictEqual(JSON.parse(JSON.stringify(status)));
    expect(Object.keys(copy)).not.toContain('state');
    // A copy, not the same objects: the status written stays as it was decided.
    copy.run.attempts = 2;
    copy.conditions[0]!.status = 'True';
    expect(status.run.attempts).toBe(1);
    expect(status.conditions[0]!.status).toBe('False');
  });
});

describe('scrub', () => {
  it('replaces every secret, longest first, and ignores very short values', () => {
    expect(scrub('auth root:pw-123456 failed for pw-123456 (a)', ['pw-123456', 'root:pw-123456', 'a'])).toBe(
      'auth *** failed for *** (a)',
    );
  });

  it('finds credentials in extfs, in plain and JSON-escaped form, and leaves ordinary settings alone', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const secrets = secretForms(
      extfsSecrets({ cloud_provider: 'aws', region: 'us-west-2', access_key_id: 'AKIA1234', ssl_ca_cert: pem }),
    );
    const text = `403 for AKIA1234 in us-west-2 with ${JSON.stringify({ ca: pem })}`;
    expect(scrub(text, secrets)).toBe('403 for *** in us-west-2 with {"ca":"***"}');
  });
});
