import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/adapters/rate-limit.js';

describe('TokenBucket', () => {
  it('lets a burst through, then one request per 1/qps, first come first served', () => {
    let now = 0;
    const b = new TokenBucket(100, 3, () => now);
    expect([b.reserve(), b.reserve(), b.reserve()]).toEqual([0, 0, 0]);
    expect(b.reserve()).toBeCloseTo(10);
    expect(b.reserve()).toBeCloseTo(20);
    now = 100; // refilled (up to the burst), minus the two reserved ahead
    expect(b.reserve()).toBe(0);
  });
});
