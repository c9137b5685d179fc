/**
 * The CustomResourceDefinition of ExternalCollectionRefresh: the single source for crds/*.yaml
 * (`npm run gen:crd` writes it; a unit test fails when the file is stale).
 */
import { CREDENTIAL_EXTFS_KEYS } from './secrets.js';
import { CATEGORIES, GROUP, KIND, MAX_HISTORY_LIMIT, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from './v1alpha1.js';

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
        {
          rule: "!self.matches(':[0-9]{1,5}$') || (int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535)",
          message: 'spec.milvus.address has a port outside 1-65535',
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
      {
        rule: "!(self.address.startsWith('http://') && has(self.tls) && (has(self.tls.caSecretRef) || has(self.tls.serverName)))",
        message:
          'spec.milvus.tls.caSecretRef and spec.milvus.tls.serverName need TLS, which an http:// address turns off; use https:// or host:port',
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
      'x-kubernetes-validations': [
        {
          rule: `![${CREDENTIAL_EXTFS_KEYS.map((k) => `'${k}'`).join(', ')}].exists(k, k in self)`,
          message: `spec.externalSpec.extfs must not hold credentials (${CREDENTIAL_EXTFS_KEYS.join(', ')}): put them in a Secret and name it in spec.externalSpecSecretRef, whose keys are merged into extfs only when Milvus is called`,
        },
      ],
    },
    columns: { description: 'Column mapping, passed through to Milvus.', 'x-kubernetes-preserve-unknown-fields': true },
    snapshot_id: {
      description:
        'Iceberg snapshot id. Iceberg ids are random 64-bit numbers: give ids beyond 2^53 as a string ("3051729675574597004"); they are sent to Milvus as an exact integer.',
      'x-kubernetes-int-or-string': true,
      'x-kubernetes-validations': [
        {
          rule: "type(self) == string ? self.matches('^-?[0-9]{1,19}$') : (self <= 9007199254740991 && self >= -9007199254740991)",
          message:
            'spec.externalSpec.snapshot_id beyond 2^53 must be quoted as a string, e.g. "3051729675574597004": JSON numbers that large lose digits; a string must hold only digits',
        },
      ],
    },
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
    externalSpecSecretRef: obj(
      'Secret whose keys (e.g. access_key_id, access_key_value) are merged into externalSpec.extfs only at the moment of the Milvus call: storage keys stay out of git and out of this object.',
      { name: secretName('with storage credentials for extfs') },
      { required: ['name'] },
    ),
    schedule: str(
      'When to refresh: a standard 5-field cron expression, or @hourly, @daily, @weekly, @monthly, @yearly.',
      {
        maxLength: 128,
        'x-kubernetes-validations': [
          {
            rule: "self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*,/?#-]+( +[0-9A-Za-z*,/?#-]+){4})$')",
            message:
              'spec.schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 2 * * *", or one of @hourly, @daily, @weekly, @monthly, @yearly',
          },
        ],
      },
    ),
    timeZone: str('IANA time zone of the schedule, e.g. Europe/Berlin (default UTC).', {
      maxLength: 64,
      'x-kubernetes-validations': [
        {
          rule: "self.matches('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$')",
          message: 'spec.timeZone must be an IANA time zone name such as Europe/Berlin or UTC',
        },
      ],
    }),
    startingDeadlineSeconds: int('A scheduled fire noticed later than this after its time is skipped, with an event.', {
      format: 'int64',
      minimum: 0,
      maximum: 31_536_000,
    }),
    suspend: {
      type: 'boolean',
      description: 'Start no new run while true; a running job is still followed to its end.',
    },
    backoffLimit: int(
      'After RefreshFailed, submit again up to this many times (10 s backoff, doubling, at most 5 min).',
      {
        minimum: 0,
        maximum: 20,
      },
    ),
    activeDeadlineSeconds: int(
      'Stop waiting for a job this long after its submission: Stalled with reason DeadlineExceeded (Milvus has no cancel, so the job keeps running and the next run waits for it).',
      { format: 'int64', minimum: 1, maximum: 31_536_000 },
    ),
    historyLimit: int('Earlier jobs kept in status.history.', { minimum: 0, maximum: MAX_HISTORY_LIMIT }),
  },
  {
    required: ['milvus', 'collectionName'],
    'x-kubernetes-validations': [
      {
        rule: 'has(self.externalSource) == has(self.externalSpec)',
        message: 'spec.externalSource and spec.externalSpec must be set together (both or neither)',
      },
      {
        rule: '!has(self.externalSpecSecretRef) || has(self.externalSpec)',
        message:
          'spec.externalSpecSecretRef needs spec.externalSource and spec.externalSpec: its keys are merged into spec.externalSpec.extfs',
      },
      {
        rule: '!has(self.timeZone) || has(self.schedule)',
        message: 'spec.timeZone applies to spec.schedule, which is not set',
      },
      {
        rule: '!has(self.startingDeadlineSeconds) || has(self.schedule)',
        message: 'spec.startingDeadlineSeconds applies to spec.schedule, which is not set',
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
    attempts: int("RefreshExternalCollection calls for the run's current job.", { minimum: 0 }),
    specHash: str('Digest of the spec fields that shape the Milvus job, when the run started.'),
    scheduledAt: time('The scheduled fire this run serves.'),
    failedJobs: int('Jobs of this run that failed (retried up to spec.backoffLimit).', { minimum: 0 }),
    refusedAt: time('When Milvus last refused the request outright; it is asked again only slowly.'),
    gaveUpAt: time(
      "When the operator stopped following the run's job (JobLost, DeadlineExceeded); a newer run waits for it if Milvus still runs it.",
    ),
  }),
  nextScheduleTime: time('When spec.schedule fires next (absent while suspended).'),
  lastScheduleTime: time('The last fire of spec.schedule that was taken (run, or skipped past its starting deadline).'),
  scheduleCursor: obj('Which fires of spec.schedule are consumed (operator bookkeeping).', {
    schedule: str('The schedule the cursor counts fires of.'),
    timeZone: str('Its time zone.'),
    consumedUntil: time('Fires at or before this time are consumed.'),
  }),
  history: {
    type: 'array',
    description: 'Earlier jobs, newest first.',
    maxItems: MAX_HISTORY_LIMIT,
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
            { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', priority: 1 },
            { name: 'Next Run', type: 'date', jsonPath: '.status.nextScheduleTime', priority: 1 },
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
