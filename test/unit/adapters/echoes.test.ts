import { describe, expect, it } from 'vitest';
import { Echoes } from '../../../src/adapters/echoes.js';

describe('Echoes', () => {
  it('recognises the watch event of a noted write once, and nothing else', () => {
    const e = new Echoes();
    e.wrote('ns/a', '10');
    expect(e.isEcho('ns/b', '10')).toBe(false);
    expect(e.isEcho('ns/a', '10')).toBe(true);
    expect(e.isEcho('ns/a', '10')).toBe(false); // forgotten once seen
    e.wrote('ns/a', '11');
    expect(e.isEcho('ns/a', '12')).toBe(false); // another client's change: reconciled, and the note dropped
    expect(e.size).toBe(0);
    e.wrote('ns/a', '13');
    e.forget('ns/a');
    expect(e.isEcho('ns/a', '13')).toBe(false);
  });

  it('starts over when too many echoes were never seen (a relist)', () => {
    const e = new Echoes(3);
    for (const k of ['a', 'b', 'c', 'd']) e.wrote(`ns/${k}`, '1');
    expect(e.size).toBe(1);
  });
});
