/** The production start command, read from the Dockerfile: the benchmark and tests start Node the same way. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/**
 * How the image starts the operator: the Node flags of the Dockerfile's ENTRYPOINT (between the node binary
 * and dist/main.js) and the run stage's ENV. Every operator this benchmark starts runs with exactly these, so
 * what is measured is the production start command (deploy/ and the chart use the image's ENTRYPOINT).
 */
export function productionStart(dockerfile = join(REPO_ROOT, 'Dockerfile')): {
  nodeFlags: string[];
  env: Record<string, string>;
} {
  const lines = readFileSync(dockerfile, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const runStage = lines.slice(lines.findLastIndex((l) => l.startsWith('FROM ')));
  const entrypoint = JSON.parse(runStage.find((l) => l.startsWith('ENTRYPOINT '))!.slice(11)) as string[];
  const env: Record<string, string> = {};
  for (const l of runStage.filter((x) => x.startsWith('ENV '))) {
    const [, name, value] = /^ENV\s+([^=\s]+)[=\s](.*)$/.exec(l) ?? [];
    if (name) env[name] = value!.trim();
  }
  return { nodeFlags: entrypoint.slice(1, entrypoint.indexOf('dist/main.js')), env };
}
