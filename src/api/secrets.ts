/**
 * The extfs keys Milvus treats as credentials (it redacts their values to "***" in every answer:
 * externalspec.RedactExternalSpec). They are rejected in spec.externalSpec.extfs at apply time and belong
 * in the Secret named by spec.externalSpecSecretRef.
 */
export const CREDENTIAL_EXTFS_KEYS = ['access_key_id', 'access_key_value', 'ssl_ca_cert', 'external_id'] as const;
