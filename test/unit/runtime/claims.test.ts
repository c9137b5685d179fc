/** The claims table: one resource of this operator per Milvus collection at a time. */
import { describe, expect, it } from 'vitest';
import { collectionKeyOf } from '../../../src/reconcile/collection.js';
import { Claims } from '../../../src/runtime/claims.js';
import { aRefresh, id, submitted } from '../../support/builders.js';

describe('Claims', () => {
  it('lets one owner hold a collection; others see the holder and its job, and cannot acquire it', () => {
    const c = new Claims();
    expect(c.acquire('m|default|p', 'ns/a')).toBe(true);
    c.set('m|default|p', 'ns/a', id(1));
    expect(c.acquire('m|default|p', 'ns/b')).toBe(false);
    expect(c.holder('m|default|p', 'ns/b')).toEqual({ owner: 'ns/a', jobId: id(1) });
    expect(c.holder('m|default|p', 'ns/a')).toBeUndefined(); // never its own holder
    expect(c.acquire('m|default|p', 'ns/a')).toBe(true); // re-entrant
  });

  it('frees the collection on release, and moves an owner that changed collection', () => {
    const c = new Claims();
    c.set('m|default|old', 'ns/a');
    c.set('m|default|new', 'ns/a');
    expect(c.holder('m|default|old', 'ns/b')).toBeUndefined();
    expect(c.release('ns/a')).toBe('m|default|new');
    expect(c.acquire('m|default|new', 'ns/b')).toBe(true);
    expect(c.release('ns/nobody')).toBeUndefined();
  });

  it('first come, first served: set() never takes a collection from another owner', () => {
    const c = new Claims();
    c.set('k', 'ns/a', id(1));
    c.set('k', 'ns/b', id(2));
    expect(c.holder('k', 'ns/c')).toEqual({ owner: 'ns/a', jobId: id(1) });
  });

  it('is rebuilt at start-up from stored statuses: jobs running and submissions in doubt hold, ended runs do not', () => {
    const running = aRefresh({
      name: 'running',
      collectionName: 'c1',
      status: { jobId: id(1), state: 'RefreshInProgress', run: submitted(0).run },
    });
    const doubt = aRefresh({ name: 'doubt', collectionName: 'c2', status: submitted(0) });
    const done = aRefresh({
      name: 'done',
      collectionName: 'c3',
      status: { jobId: id(2), state: 'RefreshCompleted', run: submitted(0).run },
    });
    const fresh = aRefresh({ name: 'fresh', collectionName: 'c4' });
    const c = new Claims();
    c.seed([running, doubt, done, fresh]);
    expect(c.holder(collectionKeyOf(running), 'x')).toEqual({ owner: 'search/running', jobId: id(1) });
    expect(c.holder(collectionKeyOf(doubt), 'x')).toEqual({ owner: 'search/doubt' });
    expect(c.holder(collectionKeyOf(done), 'x')).toBeUndefined();
    expect(c.holder(collectionKeyOf(fresh), 'x')).toBeUndefined();
  });

  it('keys collections by address (scheme and case aside), database and name, not by credentials', () => {
    const a = aRefresh({ address: 'https://Milvus:19530', collectionName: 'p' });
    const b = aRefresh({ address: 'milvus:19530', collectionName: 'p', database: 'default' });
    const other = aRefresh({ address: 'milvus:19530', collectionName: 'p', database: 'analytics' });
    expect(collectionKeyOf(a)).toBe(collectionKeyOf(b));
    expect(collectionKeyOf(other)).not.toBe(collectionKeyOf(b));
  });
});
