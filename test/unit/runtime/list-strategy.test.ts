import { describe, expect, it } from 'vitest';
import {
  ASSUMED_COLLECTION_MS,
  MAX_COLLECTION_LISTS,
  MIN_ALL_MS_TO_SPLIT,
  REMEASURE_ALL_EVERY,
  chooseListStrategy,
  smoothCost,
} from '../../../src/runtime/list-strategy.js';

describe('chooseListStrategy', () => {
  const base = { current: 'all' as const, pollsSinceAll: 0 };

  it('lists all jobs until the all-jobs list has been measured, or when a collection is unknown', () => {
    expect(chooseListStrategy({ ...base, collections: 3, costs: {} })).toBe('all');
    expect(chooseListStrategy({ ...base, collections: undefined, costs: { allMs: 500 } })).toBe('all');
    expect(chooseListStrategy({ ...base, collections: 0, costs: { allMs: 500 } })).toBe('all');
  });

  it('keeps one all-jobs list while it is cheap, however few collections are watched', () => {
    expect(
      chooseListStrategy({ ...base, collections: 1, costs: { allMs: MIN_ALL_MS_TO_SPLIT - 1, collectionMs: 0.1 } }),
    ).toBe('all');
  });

  it('tries per-collection lists when even an optimistic guess makes the few of them cheaper', () => {
    // 24,000 retained jobs: 30 ms per all-jobs list; 5 watched collections at an assumed 0.5 ms each.
    expect(chooseListStrategy({ ...base, collections: 5, costs: { allMs: 30 } })).toBe('collection');
    // 100 collections could never beat it: 100 x 0.5 ms > a quarter of 30 ms.
    expect(chooseListStrategy({ ...base, collections: 100, costs: { allMs: 30 } })).toBe('all');
    expect(5 * ASSUMED_COLLECTION_MS).toBeLessThan(0.25 * 30);
  });

  it('decides by measured costs, with a gap between switching over and back', () => {
    const costs = { allMs: 30, collectionMs: 3 };
    expect(chooseListStrategy({ ...base, collections: 2, costs })).toBe('collection'); // 6 < 7.5
    expect(chooseListStrategy({ ...base, collections: 7, costs })).toBe('all'); // 21 >= 7.5: not worth switching
    expect(chooseListStrategy({ ...base, current: 'collection', collections: 7, costs })).toBe('collection'); // 21 < 30
    expect(chooseListStrategy({ ...base, current: 'collection', collections: 11, costs })).toBe('all'); // 33 >= 30
  });

  it('never lists more than MAX_COLLECTION_LISTS collections one by one per poll', () => {
    const costs = { allMs: 1_000, collectionMs: 1 };
    expect(chooseListStrategy({ ...base, collections: MAX_COLLECTION_LISTS, costs })).toBe('collection');
    expect(chooseListStrategy({ ...base, collections: MAX_COLLECTION_LISTS + 1, costs })).toBe('all');
  });

  it('measures the all-jobs list again now and then while listing per collection', () => {
    const input = { current: 'collection' as const, collections: 2, costs: { allMs: 30, collectionMs: 2 } };
    expect(chooseListStrategy({ ...input, pollsSinceAll: REMEASURE_ALL_EVERY - 1 })).toBe('collection');
    expect(chooseListStrategy({ ...input, pollsSinceAll: REMEASURE_ALL_EVERY })).toBe('all');
  });

  it('smooths costs', () => {
    expect(smoothCost(undefined, 10)).toBe(10);
    expect(smoothCost(10, 20)).toBeCloseTo(13);
  });
});
