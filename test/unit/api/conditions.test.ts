/** Ready / Reconciling / Stalled as kstatus, Argo CD and `kubectl wait` read them. */
import { describe, expect, it } from 'vitest';
import { conditionsFor, findCondition, setCondition } from '../../../src/api/conditions.js';
import type { Condition } from '../../../src/api/v1alpha1.js';

const T0 = '2026-11-29T12:00:00.000Z';
const T1 = '2026-11-29T12:05:00.000Z';

describe('conditionsFor', () => {
  it('a ready situation: Ready=True, the other two False with reason Succeeded', () => {
    const c = conditionsFor([], { kind: 'ready', reason: 'RefreshCompleted', message: 'done' }, 3, T0);
    expect(c.map((x) => [x.type, x.status, x.reason, x.observedGeneration])).toEqual([
      ['Ready', 'True', 'RefreshCompleted', 3],
      ['Reconciling', 'False', 'Succeeded', 3],
      ['Stalled', 'False', 'Succeeded', 3],
    ]);
  });

  it('a progressing situation: Reconciling=True and Ready=False share reason and message', () => {
    const c = conditionsFor([], { kind: 'progressing', reason: 'RefreshInProgress', message: '40%' }, 1, T0);
    expect(findCondition(c, 'Ready')).toMatchObject({ status: 'False', reason: 'RefreshInProgress', message: '40%' });
    expect(findCondition(c, 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'RefreshInProgress',
      message: '40%',
    });
    expect(findCondition(c, 'Stalled')).toMatchObject({ status: 'False', message: 'Not stalled' });
  });

  it('a stalled situation: Stalled=True, Reconciling=False, Ready=False, all saying why', () => {
    const c = conditionsFor([], { kind: 'stalled', reason: 'RefreshFailed', message: 'no files' }, 2, T0);
    expect(c.map((x) => [x.type, x.status, x.reason])).toEqual([
      ['Ready', 'False', 'RefreshFailed'],
      ['Reconciling', 'False', 'RefreshFailed'],
      ['Stalled', 'True', 'RefreshFailed'],
    ]);
  });

  it('keeps lastTransitionTime while a status stays the same, moves it when the status flips', () => {
    const first = conditionsFor([], { kind: 'progressing', reason: 'RefreshPending', message: 'p' }, 1, T0);
    const same = conditionsFor(first, { kind: 'progressing', reason: 'RefreshInProgress', message: 'q' }, 1, T1);
    expect(findCondition(same, 'Reconciling')?.lastTransitionTime).toBe(T0);
    const flipped = conditionsFor(same, { kind: 'ready', reason: 'RefreshCompleted', message: 'r' }, 1, T1);
    expect(findCondition(flipped, 'Ready')?.lastTransitionTime).toBe(T1);
    expect(findCondition(flipped, 'Stalled')?.lastTransitionTime).toBe(T0); // False before and after
  });
});

describe('setCondition', () => {
  it('orders Ready, Reconciling, Stalled and keeps foreign condition types after them', () => {
    const other: Condition = { type: 'Custom', status: 'True', reason: 'X', message: '', lastTransitionTime: T0 };
    const c = setCondition([other], { type: 'Stalled', status: 'False', reason: 'R', message: '' }, T0);
    const d = setCondition(c, { type: 'Ready', status: 'True', reason: 'R', message: '' }, T0);
    expect(d.map((x) => x.type)).toEqual(['Ready', 'Stalled', 'Custom']);
  });

  it('does not change its input', () => {
    const input: Condition[] = [{ type: 'Ready', status: 'False', reason: 'A', message: '', lastTransitionTime: T0 }];
    setCondition(input, { type: 'Ready', status: 'True', reason: 'B', message: '' }, T1);
    expect(input[0]).toMatchObject({ status: 'False', reason: 'A' });
  });
});
