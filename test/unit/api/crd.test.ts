import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILE, renderCrdYaml } from '../../../src/crdgen.js';

describe('CRD', () => {
  it('crds/ holds exactly what src/api/crd.ts generates (run npm run gen:crd after changing the API)', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', '..', '..', 'crds', CRD_FILE), 'utf8');
    expect(committed).toBe(renderCrdYaml());
  });

  it('declares the fixed field names the contract promises', () => {
    const crd = parse(renderCrdYaml()) as {
      spec: {
        versions: {
          schema: {
            openAPIV3Schema: {
              properties: {
                spec: { properties: Record<string, { properties?: Record<string, unknown> }> };
                status: { properties: Record<string, unknown> };
              };
            };
          };
        }[];
      };
    };
    const schema = crd.spec.versions[0]!.schema.openAPIV3Schema.properties;
    expect(Object.keys(schema.spec.properties)).toEqual(
      expect.arrayContaining(['milvus', 'collectionName', 'externalSource', 'externalSpec']),
    );
    expect(Object.keys(schema.spec.properties.milvus!.properties!)).toEqual(
      expect.arrayContaining(['address', 'database', 'credentialsSecretRef', 'tls']),
    );
    expect(Object.keys(schema.status.properties)).toEqual(
      expect.arrayContaining([
        'jobId',
        'collectionName',
        'state',
        'progress',
        'reason',
        'externalSource',
        'startTime',
        'endTime',
        'observedGeneration',
        'conditions',
      ]),
    );
  });
});
