/**
 * The CustomResourceDefinition of ExternalCollectionRefresh: the single source for crds/*.yaml
 * (`npm run gen:crd` writes it; a unit test fails when the file is stale).
 */
import { CATEGORIES, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './v1alpha1.js';

/** An OpenAPI v3 schema in its wire spelling (x-kubernetes-* keys included). */
export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  required?: string[];
  [keyword: string]: unknown;
}

/** The CRD in its wire form (what `kubectl apply` sends). */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: Record<string, unknown> & { versions: Record<string, unknown>[] };
}

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string, extra: Schema = {}): Schema => ({ type: 'integer', description, ...extra });
const obj = (description: string, properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  description,
  properties,
  ...extra,
});

/** Milvus' allowed external_source schemes (pkg/util/externalspec). */
const SCHEMES = 'aws|azure|cos|gcs|gs|minio|obs|oss|s3|s3a';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const secretName = (what: string): Schema =>
  str(`Name of a Secret in the resource's namespace ${what}.`, {
    minLength: 1,
    maxLength: 253,
    pattern: DNS_SUBDOMAIN,
  });

const milvusSpec = obj(
  'How to reach Milvus.',
  {
    address: str('Milvus gRPC endpoint: host:port, or http(s)://host:port (https implies TLS).', {
      minLength: 1,
      maxLength: 512,
      'x-kubernetes-validations': [
        {
          rule: "self.matches('^(https?://)?(\\\\[[0-9A-Fa-f:.]+\\\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):[0-9]{1,5}$')",
          message: 'spec.milvus.address must be host:port or http(s)://host:port, e.g. milvus.milvus.svc:19530',
        },
      ],
    }),
    database: str('Database of the collection ("default" when omitted).', {
      maxLength: 255,
      'x-kubernetes-validations': [
        {
          rule: "self.matches('^[A-Za-z_][A-Za-z0-9_]*$')",
          message:
            'spec.milvus.database must start with a letter or underscore and contain only letters, digits and underscores',
        },
      ],
    }),
    credentialsSecretRef: obj(
      'Secret holding either key `token`, or keys `username` and `password`.',
      { name: secretName('with the Milvus credentials') },
      { required: ['name'] },
    ),
    tls: obj('TLS towards Milvus.', {
      enabled: { type: 'boolean', description: 'Use TLS (implied by an https:// address).' },
      caSecretRef: obj(
        "CA bundle that signed Milvus' certificate.",
        {
          name: secretName('with the CA bundle'),
          key: str('Key in the Secret (default ca.crt).', { minLength: 1, maxLength: 253 }),
        },
        { required: ['name'] },
      ),
      serverName: str("Name to verify in Milvus' certificate when it differs from the address host.", {
        maxLength: 253,
      }),
    }),
  },
  {
    required: ['address'],
    'x-kubernetes-validations': [
      {
        rule: "!(has(self.tls) && has(self.tls.enabled) && self.tls.enabled && self.address.startsWith('http://'))",
        message: 'spec.milvus.tls.enabled contradicts an http:// address; use https:// or host:port',
      },
    ],
  },
);

const externalSpec = obj(
  "Override of the collection's external spec, sent to Milvus as JSON together with externalSource. Keep storage keys out of git.",
  {
    format: str('Data format.', { enum: ['parquet', 'lance-table', 'vortex', 'iceberg-table', 'milvus-table'] }),
    extfs: {
      type: 'object',
      description: 'Storage options (cloud_provider, region, ...). Values are strings; booleans are "true"/"false".',
      additionalProperties: { type: 'string' },
      maxProperties: 64,
    },
    columns: { description: 'Column mapping, passed through to Milvus.', 'x-kubernetes-preserve-unknown-fields': true },
    snapshot_id: { description: 'Iceberg snapshot id.', 'x-kubernetes-int-or-string': true },
  },
);

const spec = obj(
  'What to refresh, and from where.',
  {
    milvus: milvusSpec,
    collectionName: str('The external collection to refresh (Milvus collection name rules).', {
      minLength: 1,
      maxLength: 255,
      'x-kubernetes-validations': [
        {
          rule: "self.matches('^[A-Za-z_][A-Za-z0-9_]*$')",
          message:
            'spec.collectionName must start with a letter or underscore and contain only letters, digits and underscores',
        },
      ],
    }),
    externalSource: str(
      "Override of the collection's source URI, e.g. s3://lake/products/. Both-or-neither with externalSpec.",
      {
        maxLength: 2048,
        'x-kubernetes-validations': [
          {
            rule: `self.matches('^(${SCHEMES})://[^/@]+(/.*)?$')`,
            message: `spec.externalSource must be <scheme>://<host>/<path> with scheme one of ${SCHEMES.split('|').join(', ')}, and no credentials in the URL`,
          },
        ],
      },
    ),
    externalSpec,
  },
  {
    required: ['milvus', 'collectionName'],
    'x-kubernetes-validations': [
      {
        rule: 'has(self.externalSource) == has(self.externalSpec)',
        message: 'spec.externalSource and spec.externalSpec must be set together (both or neither)',
      },
    ],
  },
);

const time = (description: string): Schema => str(description, { format: 'date-time' });

const jobFields: Record<string, Schema> = {
  jobId: str('Milvus job id (int64, as a decimal string).'),
  state: str('Milvus job state.', {
    enum: ['RefreshPending', 'RefreshInProgress', 'RefreshCompleted', 'RefreshFailed'],
  }),
  progress: int('Progress in percent.', { minimum: 0, maximum: 100 }),
  reason: str("Milvus' reason: the failure when state is RefreshFailed, a transient cause while pending."),
  startTime: time('When Milvus started the job.'),
  endTime: time('When the job ended.'),
};

const condition = obj(
  'metav1.Condition',
  {
    type: str('Ready, Reconciling or Stalled.', { maxLength: 316 }),
    status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
    observedGeneration: int('metadata.generation the condition was set for.', { format: 'int64', minimum: 0 }),
    lastTransitionTime: time('When status last changed.'),
    reason: str('CamelCase reason.', { maxLength: 1024, minLength: 1 }),
    message: str('Human-readable details.', { maxLength: 32768 }),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);

const status = obj('What Milvus reports, and what the operator owes its users.', {
  observedGeneration: int('The metadata.generation this status reflects.', { format: 'int64' }),
  ...jobFields,
  collectionName: str('Collection of the job, as Milvus reports it.'),
  externalSource: str('Source the job used, as Milvus reports it.'),
  externalSpec: str('Spec the job used, as Milvus reports it (secrets redacted).'),
  lastSuccessfulTime: time('End of the last job that completed.'),
  lastHandledRequestedAt: str('Value of milvus.io/refresh-requested-at whose run has ended.'),
  run: obj('The run serving the current trigger (operator bookkeeping for crash safety).', {
    generation: int('metadata.generation the run serves.', { format: 'int64' }),
    requestedAt: str('milvus.io/refresh-requested-at value the run serves.'),
    trigger: str('What started the run.'),
    submittedAt: str('When RefreshExternalCollection was last called for the run (RFC 3339).'),
    baselineJobId: str('Highest job id of the collection before that call.'),
    attempts: int('RefreshExternalCollection calls for the run.', { minimum: 0 }),
  }),
  history: {
    type: 'array',
    description: 'Earlier jobs, newest first.',
    maxItems: 20,
    items: obj('An earlier job.', { ...jobFields, trigger: str('What started it.') }, { required: ['jobId'] }),
  },
  conditions: {
    type: 'array',
    description: 'Ready, Reconciling, Stalled (kstatus).',
    items: condition,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  },
});

/** The CRD object. */
export function externalCollectionRefreshCrd(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
        listKind: `${KIND}List`,
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Collection', type: 'string', jsonPath: '.spec.collectionName' },
            { name: 'State', type: 'string', jsonPath: '.status.state' },
            { name: 'Progress', type: 'integer', jsonPath: '.status.progress' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', priority: 1 },
            { name: 'Job ID', type: 'string', jsonPath: '.status.jobId', priority: 1 },
            { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: obj(
              'A Milvus external collection kept refreshed from its data lake: now, and whenever asked.',
              { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec, status },
              { required: ['spec'] },
            ),
          },
        },
      ],
    },
  };
}
