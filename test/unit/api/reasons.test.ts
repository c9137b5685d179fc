/** The condition reasons are an API: the docs' table must list exactly the reasons the code writes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_REASONS, REASONS } from '../../../src/api/reasons.js';

function docsTable(): Map<string, string> {
  const text = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'design.md'), 'utf8');
  const section = text.split('## Condition reasons')[1]?.split('\n## ')[0] ?? '';
  const rows = section.split('\n').filter((l) => /^\| `[A-Za-z]+` \|/.test(l));
  return new Map(rows.map((l) => [/`([A-Za-z]+)`/.exec(l)![1]!, l.split('|')[2]!.trim()]));
}

describe('condition reasons', () => {
  it('docs/design.md lists every reason, and no other, with the condition it sets', () => {
    const table = docsTable();
    expect([...table.keys()].sort()).toEqual([...ALL_REASONS].sort());
    const word = { ready: 'Ready', progressing: 'Reconciling', stalled: 'Stalled', suspended: 'none' } as const;
    for (const reason of ALL_REASONS) expect(table.get(reason), reason).toBe(word[REASONS[reason].kind]);
  });
});
