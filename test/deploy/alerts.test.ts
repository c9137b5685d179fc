/**
 * The chart's PrometheusRule under promtool: `promtool check rules` on the rendered rules, then
 * `promtool test rules` with test/deploy/alerts/rules_test.yaml (each alert firing when it should, and not
 * before, nor for a recovered resource, a hand-over or another namespace).
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { helmTemplate, run, tryRun } from '../support/manifests.js';
import { toolPaths } from '../support/tools.js';

const { helm, promtool } = toolPaths();
const dir = mkdtempSync(join(tmpdir(), 'ecr-alerts-'));

function renderRules(set: Record<string, string> = {}): {
  groups: { name: string; rules: Record<string, unknown>[] }[];
} {
  const rule = helmTemplate(helm, { set: { 'prometheusRule.enabled': 'true', ...set } }).find(
    (o) => o.kind === 'PrometheusRule',
  ) as unknown as { spec: { groups: { name: string; rules: Record<string, unknown>[] }[] } };
  return rule.spec;
}

describe('alerts', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are valid Prometheus rules (promtool check rules)', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify(renderRules()));
    expect(run(promtool, ['check', 'rules', join(dir, 'rules.yaml')])).toMatch(/SUCCESS: 6 rules found/);
  });

  it('fire when they should and only then (promtool test rules)', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify(renderRules()));
    copyFileSync(join(import.meta.dirname, 'alerts', 'rules_test.yaml'), join(dir, 'rules_test.yaml'));
    const res = tryRun(promtool, ['test', 'rules', join(dir, 'rules_test.yaml')]);
    expect(res.stdout + res.stderr).toContain('SUCCESS');
    expect(res.code).toBe(0);
  });

  it('take their thresholds from the values, and the unit tests notice a change', () => {
    const rules = renderRules({ 'prometheusRule.stalledFor': '10m', 'prometheusRule.scheduleGrace': '2h' });
    const byName = new Map(rules.groups[0]!.rules.map((r) => [r.alert as string, r]));
    expect(byName.get('MilvusRefreshStalled')?.for).toBe('10m');
    expect(byName.get('MilvusRefreshScheduledRefreshLate')?.expr).toContain('+ 7200');
    writeFileSync(join(dir, 'rules.yaml'), stringify(rules));
    copyFileSync(join(import.meta.dirname, 'alerts', 'rules_test.yaml'), join(dir, 'rules_test.yaml'));
    const res = tryRun(promtool, ['test', 'rules', join(dir, 'rules_test.yaml')]);
    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toMatch(/MilvusRefreshStalled|MilvusRefreshScheduledRefreshLate/);
  });

  it('append additionalRules to the group', () => {
    const rules = renderRules({
      'prometheusRule.additionalRules[0].alert': 'MyAlert',
      'prometheusRule.additionalRules[0].expr': 'vector(1)',
    });
    expect(rules.groups[0]!.rules.at(-1)).toEqual({ alert: 'MyAlert', expr: 'vector(1)' });
  });
});
