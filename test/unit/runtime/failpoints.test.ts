import { describe, expect, it } from 'vitest';
import { parseFailpoints } from '../../../src/runtime/failpoints.js';

describe('ECR_FAILPOINTS', () => {
  it('is off unless set, and names submission steps', () => {
    expect(parseFailpoints(undefined)).toBeUndefined();
    expect(parseFailpoints(' , ')).toBeUndefined();
    expect([...parseFailpoints('after-intent, after-record')!]).toEqual(['after-intent', 'after-record']);
  });

  it('refuses a name that is no step, so a typo cannot silently disable a crash test', () => {
    expect(() => parseFailpoints('after-intnet')).toThrow(
      /unknown failpoint "after-intnet" \(known: after-intent, after-refresh, after-record\)/,
    );
  });
});
