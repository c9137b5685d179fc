/** The memory reclaimer's decisions: when it collects and trims (scripted readings; real processes: test/integration). */
import { describe, expect, it } from 'vitest';
import { MemoryReclaimer, type MemorySample, reclaimTrigger } from '../../../src/runtime/memory-reclaim.js';

const MiB = 2 ** 20;

/** A reclaimer on a scripted memory reading and clock; records what it did. */
function scripted(stepMiB = 16) {
  const state: { usage: MemorySample; now: number } = { usage: { heapTotal: 60 * MiB, arrayBuffers: 2 * MiB }, now: 0 };
  const calls: string[] = [];
  const reclaimer = new MemoryReclaimer({
    stepBytes: stepMiB * MiB,
    minSpacingMs: 1_000,
    usage: () => ({ ...state.usage }),
    now: () => state.now,
    collect: () => {
      calls.push('collect');
      state.now += 40; // the collection takes 40 ms
    },
    trim: () => calls.push('trim'),
    onReclaim: (trigger, seconds) => calls.push(`${trigger} ${seconds}s`),
  });
  const set = (heapMiB: number, buffersMiB: number): void => {
    state.usage = { heapTotal: heapMiB * MiB, arrayBuffers: buffersMiB * MiB };
  };
  return { reclaimer, calls, set, state };
}

describe('reclaimTrigger', () => {
  it('names the kind of memory that grew by a step since the floor, received buffers first', () => {
    const floor = { heapTotal: 60 * MiB, arrayBuffers: 2 * MiB };
    expect(reclaimTrigger({ heapTotal: 75 * MiB, arrayBuffers: 17 * MiB }, floor, 16 * MiB)).toBeUndefined();
    expect(reclaimTrigger({ heapTotal: 60 * MiB, arrayBuffers: 18 * MiB }, floor, 16 * MiB)).toBe('buffers');
    expect(reclaimTrigger({ heapTotal: 76 * MiB, arrayBuffers: 2 * MiB }, floor, 16 * MiB)).toBe('heap');
    expect(reclaimTrigger({ heapTotal: 90 * MiB, arrayBuffers: 30 * MiB }, floor, 16 * MiB)).toBe('buffers');
  });
});

describe('MemoryReclaimer', () => {
  it('collects once received buffers grew a step; the next look, once V8 has freed them, starts a new floor', () => {
    const { reclaimer, calls, set, state } = scripted();
    expect(reclaimer.check()).toBeUndefined(); // the first look only sets the floor (60 MiB heap, 2 MiB buffers)
    set(62, 17);
    expect(reclaimer.check()).toBeUndefined();
    expect(calls).toEqual([]);
    set(62, 18);
    expect(reclaimer.check()).toBe('buffers');
    expect(calls).toEqual(['collect', 'buffers 0.04s']);
    set(55, 1); // what the collection freed
    state.now += 200;
    expect(reclaimer.check()).toBeUndefined(); // the new floor: 55 / 1 MiB
    state.now += 2_000;
    set(55, 16);
    expect(reclaimer.check()).toBeUndefined();
    set(55, 17);
    expect(reclaimer.check()).toBe('buffers'); // 16 MiB more than the new floor, wherever the last step was
    expect(calls.filter((c) => c === 'trim')).toEqual([]); // no trim while reclaims keep coming
  });

  it('trims the C heap once, a quiet while after the last reclaim', () => {
    const { reclaimer, calls, set, state } = scripted();
    reclaimer.check();
    set(60, 20);
    expect(reclaimer.check()).toBe('buffers');
    set(60, 2);
    for (let t = 0; t < 9_800; t += 200) {
      state.now += 200;
      expect(reclaimer.check()).toBeUndefined();
    }
    state.now += 400; // 10 s after the reclaim
    expect(reclaimer.check()).toBe('trimmed');
    state.now += 60_000;
    expect(reclaimer.check()).toBeUndefined(); // once
    expect(calls.filter((c) => c === 'trim')).toHaveLength(1);
  });

  it('follows V8’s own collections down: growth counts from the lowest reading since the last reclaim', () => {
    const { reclaimer, calls, set } = scripted();
    reclaimer.check(); // floor: 60 / 2
    set(70, 12);
    reclaimer.check();
    set(50, 1); // V8 collected by itself, and gave pages back
    reclaimer.check();
    set(64, 14); // 14 over the first floor, but 14 and 13 over the lowest: no step yet
    expect(reclaimer.check()).toBeUndefined();
    set(66, 14);
    expect(reclaimer.check()).toBe('heap'); // 16 MiB more heap than the lowest reading
    expect(calls[0]).toBe('collect');
  });

  it('keeps reclaims a least spacing apart, however fast memory grows', () => {
    const { reclaimer, calls, set, state } = scripted();
    reclaimer.check();
    set(60, 30);
    expect(reclaimer.check()).toBe('buffers');
    set(60, 2);
    expect(reclaimer.check()).toBeUndefined(); // the new floor
    set(60, 40);
    state.now += 500;
    expect(reclaimer.check()).toBeUndefined(); // 540 ms after the last one
    state.now += 500;
    expect(reclaimer.check()).toBe('buffers');
    expect(calls.filter((c) => c === 'collect')).toHaveLength(2);
  });

  it('works without a trim (no glibc, or no node:ffi): it collects, and never trims', () => {
    const calls: string[] = [];
    let usage = { heapTotal: 10 * MiB, arrayBuffers: 0 };
    let now = 0;
    const r = new MemoryReclaimer({
      stepBytes: MiB,
      usage: () => usage,
      now: () => now,
      collect: () => calls.push('collect'),
    });
    r.check();
    usage = { heapTotal: 10 * MiB, arrayBuffers: 2 * MiB };
    expect(r.check()).toBe('buffers');
    usage = { heapTotal: 10 * MiB, arrayBuffers: 0 };
    now += 60_000;
    expect(r.check()).toBeUndefined();
    expect(r.check()).toBeUndefined();
    expect(calls).toEqual(['collect']);
  });

  it('refuses a step that is not positive', () => {
    expect(() => new MemoryReclaimer({ stepBytes: 0, collect: () => undefined })).toThrow('stepBytes must be positive');
  });
});
