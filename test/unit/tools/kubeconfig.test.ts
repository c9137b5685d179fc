import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderTokenKubeconfig } from '../../../tools/kubeconfig.js';

describe('renderTokenKubeconfig', () => {
  it('writes a kubeconfig that kubectl and client-node read back as given', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const text = renderTokenKubeconfig({
      server: 'https://127.0.0.1:6443',
      caPem: pem,
      token: 'abc: #not-a-comment',
      clusterName: 'ecr-local',
      userName: 'ecr-admin',
      contextName: 'ecr-local',
      namespace: 'default',
    });
    expect(parse(text)).toEqual({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'ecr-local',
          cluster: {
            server: 'https://127.0.0.1:6443',
            'certificate-authority-data': Buffer.from(pem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'ecr-admin', user: { token: 'abc: #not-a-comment' } }],
      contexts: [{ name: 'ecr-local', context: { cluster: 'ecr-local', user: 'ecr-admin', namespace: 'default' } }],
      'current-context': 'ecr-local',
    });
  });

  it('leaves the namespace out when none is given', () => {
    const text = renderTokenKubeconfig({
      server: 'https://127.0.0.1:6443',
      caPem: Buffer.from('pem'),
      token: 't',
      clusterName: 'local',
      userName: 'operator',
      contextName: 'operator',
    });
    expect((parse(text) as { contexts: { context: object }[] }).contexts[0]!.context).toEqual({
      cluster: 'local',
      user: 'operator',
    });
  });
});
