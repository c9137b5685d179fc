/** CreateCollection schema rules that matter for external collections (design doc 20260105 §3). */
import { illegalSchema, parameterInvalid } from './errors.js';

/** A decoded `milvus.proto.schema.FieldSchema` (the fields the emulator reads). */
export interface DecodedField {
  fieldID?: string;
  name: string;
  is_primary_key: boolean;
  description?: string;
  data_type: string;
  type_params?: { key: string; value: string }[];
  autoID: boolean;
  is_partition_key: boolean;
  is_clustering_key: boolean;
  is_function_output?: boolean;
  nullable?: boolean;
  external_field: string;
  [key: string]: unknown;
}

/** A decoded `milvus.proto.schema.CollectionSchema`. */
export interface DecodedSchema {
  name: string;
  description: string;
  autoID: boolean;
  fields: DecodedField[];
  enable_dynamic_field: boolean;
  external_source: string;
  external_spec: string;
  enable_namespace?: boolean;
  [key: string]: unknown;
}

/** The primary key Milvus injects into every external collection. */
export const VIRTUAL_PK = '__virtual_pk__';

/** External: it names a source or spec, or maps a field to an external column. */
export function isExternalSchema(schema: DecodedSchema): boolean {
  return (
    schema.external_source !== '' || schema.external_spec !== '' || schema.fields.some((f) => f.external_field !== '')
  );
}

/** Rejects what Milvus rejects at CreateCollection. */
export function checkCreateSchema(name: string, schema: DecodedSchema, shardsNum: number): void {
  if (schema.fields.length === 0) throw illegalSchema(name, 'schema does not contain any field');
  const seen = new Set<string>();
  for (const field of schema.fields) {
    if (seen.has(field.name)) throw illegalSchema(name, `duplicated field name ${field.name}`);
    seen.add(field.name);
  }
  if (!isExternalSchema(schema)) {
    const pks = schema.fields.filter((f) => f.is_primary_key);
    if (pks.length !== 1)
      throw illegalSchema(
        name,
        pks.length === 0 ? 'primary key is not specified' : 'there are more than one primary key',
      );
    return;
  }
  if ((schema.external_source === '') !== (schema.external_spec === '')) {
    throw parameterInvalid('external_source and external_spec must be both set or both empty');
  }
  const isMilvusTable = /"format"\s*:\s*"milvus-table"/.test(schema.external_spec);
  if (schema.autoID || schema.fields.some((f) => f.autoID)) {
    throw parameterInvalid('external collection does not support auto id');
  }
  if (!isMilvusTable && schema.fields.some((f) => f.is_primary_key)) {
    throw parameterInvalid(`external collection does not support user-defined primary key; ${VIRTUAL_PK} is generated`);
  }
  if (schema.enable_dynamic_field) throw parameterInvalid('external collection does not support dynamic field');
  if (schema.enable_namespace) throw parameterInvalid('external collection does not support namespace');
  if (schema.fields.some((f) => f.is_partition_key))
    throw parameterInvalid('external collection does not support partition key');
  if (schema.fields.some((f) => f.is_clustering_key))
    throw parameterInvalid('external collection does not support clustering key');
  if (shardsNum > 1) throw parameterInvalid('external collection does not support multiple shards');
  const mapped = new Map<string, string>();
  for (const field of schema.fields) {
    if (field.is_function_output) continue;
    if (field.external_field === '') {
      throw parameterInvalid(`field ${field.name} of external collection must set external_field`);
    }
    const other = mapped.get(field.external_field);
    if (other)
      throw parameterInvalid(
        `external field ${field.external_field} is mapped by multiple fields: ${other}, ${field.name}`,
      );
    mapped.set(field.external_field, field.name);
  }
}
