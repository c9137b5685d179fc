import { describe, expect, it } from 'vitest';
import { applyMergePatch, mergePatch } from '../../../src/util/merge-patch.js';
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
