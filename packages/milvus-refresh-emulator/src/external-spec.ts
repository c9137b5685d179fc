/**
 * Validation and redaction of an external collection's (source, spec) pair, as Milvus'
 * pkg/util/externalspec does it. Pure functions; errors are ParameterInvalid input errors.
 */
import type { MilvusError } from './errors.js';
import { parameterInvalid, parameterMissing } from './errors.js';

/** URI schemes Milvus accepts for external_source. */
export const ALLOWED_SCHEMES = ['s3', 's3a', 'aws', 'minio', 'oss', 'cos', 'obs', 'gs', 'gcs', 'azure'] as const;
/** Values of `format` in the spec. */
export const FORMATS = ['parquet', 'lance-table', 'vortex', 'iceberg-table', 'milvus-table'] as const;
/** Values of `extfs.cloud_provider`. */
export const CLOUD_PROVIDERS = ['aws', 'gcp', 'aliyun', 'tencent', 'huawei', 'azure', 'minio'] as const;
const BOOLEAN_KEYS = ['use_ssl', 'use_iam', 'use_virtual_host', 'anonymous'];
/** extfs keys whose values never leave the server. */
export const SECRET_EXTFS_KEYS = ['access_key_id', 'access_key_value', 'ssl_ca_cert', 'external_id'];

/** Parsed form of a spec JSON string. */
export interface ExternalSpec {
  format: string;
  columns?: unknown;
  extfs: Record<string, string>;
  snapshot_id?: unknown;
}

const EXTFS_KEYS = [
  'access_key_id',
  'access_key_value',
  'anonymous',
  'azure_client_id',
  'azure_credential_endpoint',
  'azure_tenant_id',
  'bucket_name',
  'cloud_provider',
  'external_id',
  'gcp_target_service_account',
  'iam_endpoint',
  'load_frequency',
  'region',
  'role_arn',
  'session_name',
  'ssl_ca_cert',
  'storage_type',
  'use_iam',
  'use_ssl',
  'use_virtual_host',
];

/** A plain validation failure; validateSourceAndSpec turns it into a Milvus error with its prefix. */
class SpecError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
  }
}

/** ValidateExternalSource: scheme allowlist, no userinfo, a host. */
export function validateExternalSource(source: string): URL {
  if (source === '') throw new SpecError('external_source is empty');
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(source);
  if (!match) throw new SpecError('external_source must have an explicit scheme (e.g. s3://, aws://, gs://)');
  const scheme = match[1]!.toLowerCase();
  if (!(ALLOWED_SCHEMES as readonly string[]).includes(scheme)) {
    throw new SpecError(
      `external_source scheme ${JSON.stringify(scheme)} is not allowed; allowed schemes: ${[...ALLOWED_SCHEMES].sort().join(', ')}`,
    );
  }
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new SpecError('invalid external_source URL');
  }
  if (url.username || url.password) {
    throw new SpecError(
      'external_source must not embed credentials in the URL (use extfs.access_key_id / extfs.access_key_value instead)',
    );
  }
  if (!url.hostname) {
    throw new SpecError(
      'external_source must have a non-empty host (e.g. s3://bucket/key, s3://endpoint/bucket/key, or minio://endpoint/bucket/key)',
    );
  }
  return url;
}

/** ParseExternalSpec: JSON object, known format, allowed extfs keys, string booleans. */
export function parseExternalSpec(spec: string): ExternalSpec {
  if (spec === '') return { format: 'parquet', extfs: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(spec);
  } catch (err) {
    throw new SpecError(`parse external spec: invalid external spec JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SpecError('parse external spec: invalid external spec JSON: not an object');
  }
  const obj = raw as Record<string, unknown>;
  const format = obj.format === undefined || obj.format === '' ? 'parquet' : obj.format;
  if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format)) {
    throw new SpecError(
      `parse external spec: unsupported format ${JSON.stringify(format)}, supported formats: ${[...FORMATS].sort().join(', ')}`,
    );
  }
  const extfsRaw = obj.extfs ?? {};
  if (typeof extfsRaw !== 'object' || extfsRaw === null || Array.isArray(extfsRaw)) {
    throw new SpecError('parse external spec: extfs must be a JSON object');
  }
  const extfs: Record<string, string> = {};
  for (const [key, value] of Object.entries(extfsRaw as Record<string, unknown>)) {
    if (!EXTFS_KEYS.includes(key)) {
      throw new SpecError(
        `parse external spec: extfs key ${JSON.stringify(key)} is not allowed; allowed keys: ${EXTFS_KEYS.join(', ')}`,
      );
    }
    if (typeof value !== 'string')
      throw new SpecError(`parse external spec: extfs key ${JSON.stringify(key)} must be a string`);
    if (BOOLEAN_KEYS.includes(key) && value !== 'true' && value !== 'false') {
      throw new SpecError(
        `parse external spec: extfs key ${JSON.stringify(key)} must be "true" or "false", got ${JSON.stringify(value)}`,
      );
    }
    extfs[key] = value;
  }
  return { format, columns: obj.columns, extfs, snapshot_id: obj.snapshot_id };
}

/** ValidateExtfsComplete: provider, exactly one credential mode, region for AWS-family schemes. */
export function validateExtfsComplete(spec: ExternalSpec, source: URL): void {
  const extfs = spec.extfs;
  const scheme = source.protocol.replace(/:$/, '').toLowerCase();
  const providers = `[${CLOUD_PROVIDERS.join(', ')}]`;
  let provider = extfs.cloud_provider ?? '';
  if (provider !== provider.toLowerCase()) {
    throw new SpecError(
      `extfs.cloud_provider=${JSON.stringify(provider)} must use the canonical lowercase value ${JSON.stringify(provider.toLowerCase())}`,
    );
  }
  if (provider === '') {
    if (scheme !== 'minio') {
      throw new SpecError(
        `extfs.cloud_provider is required: one of ${providers}; inferring from URI scheme is ambiguous (e.g. s3:// matches both AWS S3 and self-hosted MinIO)`,
        true,
      );
    }
    provider = 'minio';
  }
  if (!(CLOUD_PROVIDERS as readonly string[]).includes(provider)) {
    throw new SpecError(
      `extfs.cloud_provider=${JSON.stringify(provider)} is not supported: must be one of ${providers}`,
    );
  }
  if (scheme === 'minio' && provider !== 'minio') {
    throw new SpecError(`scheme=minio requires extfs.cloud_provider="minio", got ${JSON.stringify(provider)}`);
  }
  if ((extfs.access_key_id === undefined) !== (extfs.access_key_value === undefined)) {
    throw new SpecError(
      'extfs.access_key_id and extfs.access_key_value must be set together (found one without the other)',
      true,
    );
  }
  const modes = credentialModes(extfs);
  if (modes.length === 0) {
    throw new SpecError(
      'extfs credential mode missing: set exactly one of {access_key_id+access_key_value}, role_arn, use_iam=true, gcp_target_service_account, Azure credential broker, or anonymous=true',
    );
  }
  if (modes.length > 1) {
    throw new SpecError(
      'extfs credential modes are mutually exclusive: set exactly one of AK/SK, role_arn, use_iam=true, gcp_target_service_account, Azure credential broker, or anonymous=true',
    );
  }
  if (['s3', 's3a', 'aws'].includes(scheme) && !extfs.region) {
    throw new SpecError(
      `extfs.region is required for scheme ${JSON.stringify(scheme)} (AWS-family schemes need region for SigV4 signing)`,
      true,
    );
  }
}

function credentialModes(extfs: Record<string, string>): string[] {
  const modes: string[] = [];
  const azureBroker = extfs.azure_client_id !== undefined || extfs.azure_tenant_id !== undefined;
  if (extfs.access_key_id !== undefined && !azureBroker) modes.push('access keys');
  if (extfs.role_arn !== undefined) modes.push('role_arn');
  if (extfs.use_iam === 'true') modes.push('use_iam');
  if (extfs.gcp_target_service_account !== undefined) modes.push('gcp_target_service_account');
  if (azureBroker) modes.push('azure broker');
  if (extfs.anonymous === 'true') modes.push('anonymous');
  return modes;
}

/**
 * ValidateSourceAndSpec: the source, then the spec, each failure prefixed with what was invalid and
 * reported as ParameterInvalid (1100), or ParameterMissing (1101) for a missing required key.
 */
export function validateSourceAndSpec(source: string, spec: string): ExternalSpec {
  let url: URL;
  try {
    url = validateExternalSource(source);
  } catch (err) {
    throw toMilvus('external_source is invalid: ', err);
  }
  try {
    const parsed = parseExternalSpec(spec);
    validateExtfsComplete(parsed, url);
    return parsed;
  } catch (err) {
    throw toMilvus('external_spec is invalid: ', err);
  }
}

function toMilvus(prefix: string, err: unknown): MilvusError {
  if (!(err instanceof SpecError)) throw err;
  return err.missing ? parameterMissing(prefix + err.message) : parameterInvalid(prefix + err.message);
}

/**
 * RedactExternalSpec: secret extfs values become "***", the JSON is re-marshalled with sorted keys (as Go
 * marshals maps), snapshot_id becomes a string, and unparsable input becomes "<invalid spec>".
 */
export function redactExternalSpec(spec: string): string {
  if (spec === '') return '';
  let raw: unknown;
  try {
    raw = JSON.parse(spec);
  } catch {
    return '<invalid spec>';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return '<invalid spec>';
  const obj = { ...(raw as Record<string, unknown>) };
  const extfs = obj.extfs;
  if (typeof extfs === 'object' && extfs !== null && !Array.isArray(extfs)) {
    const copy: Record<string, unknown> = { ...(extfs as Record<string, unknown>) };
    for (const key of SECRET_EXTFS_KEYS) if (key in copy) copy[key] = '***';
    obj.extfs = copy;
  }
  if (typeof obj.snapshot_id === 'number') obj.snapshot_id = String(obj.snapshot_id);
  return JSON.stringify(sortKeys(obj));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
