import { describe, expect, it } from 'vitest';
import {
  ASSUMED_COLLECTION_MS,
  MIN_ALL_JOBS_TO_SPLIT,
  MIN_ALL_MS_TO_SPLIT,
  REMEASURE_ALL_EVERY,
  chooseListStrategy,
  collectionListCap,
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

  it('keeps one all-jobs list while its answer is short, however slow a loaded machine makes it', () => {
    const costs = { allMs: 200, collectionMs: 1 };
    expect(chooseListStrategy({ ...base, collections: 5, costs: { ...costs, allJobs: 30 } })).toBe('all');
    expect(
      chooseListStrategy({ ...base, current: 'collection', collections: 5, costs: { ...costs, allJobs: 30 } }),
    ).toBe('all');
    expect(chooseListStrategy({ ...base, collections: 5, costs: { ...costs, allJobs: MIN_ALL_JOBS_TO_SPLIT } })).toBe(
      'collection',
    );
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

  it('caps the per-collection lists by measured cost, not by a fixed number', () => {
    // 27,000 retained jobs: 80 ms per all-jobs list; 2 ms per collection listed.
    const costs = { allMs: 80, collectionMs: 2 };
    expect(collectionListCap(costs, 'all')).toBe(9); // 9 x 2 < 20, 10 x 2 = 20 is not less
    expect(collectionListCap(costs, 'collection')).toBe(39); // 39 x 2 < 80
    // Far more than 16 when each list is cheap beside the all-jobs list (a fixed 16 chose 'all' here).
    const cheap = { allMs: 1_000, collectionMs: 1 };
    expect(chooseListStrategy({ ...base, collections: 200, costs: cheap })).toBe('collection');
    expect(chooseListStrategy({ ...base, current: 'collection', collections: 999, costs: cheap })).toBe('collection');
    expect(chooseListStrategy({ ...base, current: 'collection', collections: 1_000, costs: cheap })).toBe('all');
    expect(collectionListCap({ allMs: MIN_ALL_MS_TO_SPLIT - 1, collectionMs: 0.01 }, 'collection')).toBe(0);
    expect(collectionListCap({}, 'all')).toBe(0);
  });

  it("counts the lists new triggers' submissions make on their own when the all-jobs answer is not there", () => {
    const costs = { allMs: 80, collectionMs: 2 };
    expect(chooseListStrategy({ ...base, current: 'collection', collections: 30, costs })).toBe('collection');
    // 12 submissions a poll would each list their collection: 42 lists cost more than one all-jobs list.
    const busy = { ...costs, submissionsPerPoll: 12 };
    expect(collectionListCap(busy, 'collection')).toBe(27);
    expect(chooseListStrategy({ ...base, current: 'collection', collections: 30, costs: busy })).toBe('all');
    expect(collectionListCap({ ...costs, submissionsPerPoll: 50 }, 'all')).toBe(0);
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
