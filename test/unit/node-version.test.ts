import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { checkNodeVersion, pinnedNodeVersion } from '../support/node-version.js';

describe('the pinned Node', () => {
  const pinned = pinnedNodeVersion(join(import.meta.dirname, '..', '..'));

  it('is the one these tests run on', () => {
    expect(process.version.split('.')[0]).toBe(`v${pinned.split('.')[0]}`);
  });

  it('refuses another major with a message naming both versions and the way out', () => {
    expect(() => checkNodeVersion('v20.20.2', '26.12.1')).toThrow(
      /Tests run on Node v20.20.2, but the project pins Node 26.12.1. Run them through npm/,
    );
    expect(() => checkNodeVersion('v26.0.0', '26.12.1')).not.toThrow();
  });
});
