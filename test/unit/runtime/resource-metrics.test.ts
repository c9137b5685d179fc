/** The per-condition and per-scheduled-resource gauges the chart's alerts and dashboard query. */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/http/metrics.js';
import { conditionCounts, scheduledResources } from '../../../src/runtime/manager.js';
import { aRefresh } from '../../support/builders.js';

const t = '2026-11-29T00:00:00.000Z';
const cond = (type: string, status: 'True' | 'False', reason: string) => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: t,
});

describe('resource metrics', () => {
  const stalled = aRefresh({
    name: 'a',
    status: { conditions: [cond('Ready', 'False', 'SecretNotFound'), cond('Stalled', 'True', 'SecretNotFound')] },
  });
  const ready = aRefresh({
    name: 'b',
    status: { conditions: [cond('Ready', 'True', 'RefreshCompleted'), cond('Stalled', 'False', 'Succeeded')] },
  });
  const nightly = aRefresh({ name: 'nightly', status: { lastSuccessfulTime: '2026-11-29T01:00:00.000Z' } });
  nightly.spec.schedule = '0 2 * * *';
  nightly.spec.timeZone = 'Europe/Berlin';

  it('counts resources per True condition and reason', () => {
    expect(conditionCounts([stalled, ready, stalled])).toEqual(
      expect.arrayContaining([
        { condition: 'Stalled', reason: 'SecretNotFound', count: 2 },
        { condition: 'Ready', reason: 'RefreshCompleted', count: 1 },
      ]),
    );
  });

  it('exports last success and schedule interval for scheduled resources only, under resource_* labels', async () => {
    const m = new Metrics({
      states: () => ({}),
      endpoints: () => 0,
      conditions: () => conditionCounts([stalled]),
      scheduled: () => scheduledResources([nightly, ready], Date.parse('2026-11-30T12:00:00Z')),
    });
    const text = await m.registry.metrics();
    expect(text).toContain('milvus_refresh_resource_conditions{condition="Stalled",reason="SecretNotFound"} 1');
    expect(text).toContain(
      `milvus_refresh_last_success_time_seconds{resource_namespace="search",resource_name="nightly"} ${Date.parse('2026-11-29T01:00:00Z') / 1000}`,
    );
    expect(text).toContain(
      'milvus_refresh_schedule_interval_seconds{resource_namespace="search",resource_name="nightly"} 86400',
    );
    expect(text).not.toContain('resource_name="b"');
  });
});
