/**
 * crds/ holds CRD manifests only (kubectl apply -f crds/, Helm's crds/ convention), and its copies for
 * kustomize (deploy/crds/) and for the chart are the same files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/paths.js';
import { kustomize, parseStream } from '../support/manifests.js';

const files = readdirSync(join(REPO_ROOT, 'crds'));

describe('crds/', () => {
  it('holds only CustomResourceDefinition manifests', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(f).toMatch(/\.ya?ml$/);
      const docs = parseStream(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'));
      expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
        'apiextensions.k8s.io/v1 CustomResourceDefinition',
      ]);
    }
  });

  it.each([['deploy/crds'], ['charts/milvus-refresh-operator/crds']])(
    '%s has the same files (after npm run gen:crd, run scripts/sync-crds.sh)',
    (dir) => {
      const copies = readdirSync(join(REPO_ROOT, dir)).filter((f) => f !== 'kustomization.yaml');
      expect(copies.sort()).toEqual([...files].sort());
      for (const f of files)
        expect({ f, text: readFileSync(join(REPO_ROOT, dir, f), 'utf8') }).toEqual({
          f,
          text: readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'),
        });
    },
  );

  it('is what both kustomize overlays install', () => {
    for (const overlay of ['deploy/cluster-wide', 'deploy/namespaced']) {
      const crds = kustomize(overlay).filter((o) => o.kind === 'CustomResourceDefinition');
      expect(crds.map((o) => o.metadata.name)).toEqual(['externalcollectionrefreshes.milvus.io']);
    }
  });
});
