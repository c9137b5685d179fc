/**
 * The Go tools of the packaging tests (helm, promtool, the Argo CD health and kstatus harnesses), built from Go
 * modules by scripts/build-tools.sh into a cache outside the repository.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../tools/paths.js';

export interface ToolPaths {
  helm: string;
  promtool: string;
  'argo-health': string;
  kstatus: string;
}

const SCRIPT = join(REPO_ROOT, 'scripts', 'build-tools.sh');

function parse(out: string): ToolPaths {
  const paths = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Partial<ToolPaths>;
  for (const name of ['helm', 'promtool', 'argo-health', 'kstatus'] as const)
    if (!paths[name]) throw new Error(`scripts/build-tools.sh printed no path for ${name}`);
  return paths as ToolPaths;
}

/** Runs the build script (idempotent: under a second when cached) and returns the binaries' paths. */
export function buildTools(log: (line: string) => void = (l) => console.log(l)): Promise<ToolPaths> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) log(line);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(parse(out));
      else reject(new Error(`scripts/build-tools.sh failed (exit code ${code}): see its output above`));
    });
  });
}

/** The paths, checking that each binary exists (a clear failure instead of ENOENT deep in a test). */
export function toolPaths(): ToolPaths {
  const res = spawnSync('bash', [SCRIPT, '--print-paths'], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`scripts/build-tools.sh --print-paths failed: ${res.stderr}`);
  const paths = parse(res.stdout);
  const missing = Object.entries(paths as unknown as Record<string, string>).filter(([, p]) => !existsSync(p));
  if (missing.length)
    throw new Error(
      `missing ${missing.map(([n, p]) => `${n} (${p})`).join(', ')}: run scripts/build-tools.sh (builds them from Go modules)`,
    );
  return paths;
}
