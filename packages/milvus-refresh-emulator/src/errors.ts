/**
 * Milvus errors as the server reports them: a modern `code`, the deprecated `error_code` enum, a reason
 * built the way Milvus' merr package wraps errors ("<message>: <base error text>"), and retriability.
 * Sources: milvus-io/milvus pkg/util/merr/{errors,utils}.go (see README.md).
 */

/** The modern merr codes the emulator produces. */
export const Code = {
  Success: 0,
  ServiceNotReady: 1,
  CollectionNotFound: 100,
  CollectionIllegalSchema: 105,
  DatabaseNotFound: 800,
  DatabaseAlreadyExists: 802,
  ParameterInvalid: 1100,
  ParameterMissing: 1101,
} as const;

const baseText: Record<number, string> = {
  [Code.ServiceNotReady]: 'service not ready',
  [Code.CollectionNotFound]: 'collection not found',
  [Code.CollectionIllegalSchema]: 'illegal collection schema',
  [Code.DatabaseNotFound]: 'database not found',
  [Code.DatabaseAlreadyExists]: 'database already exist',
  [Code.ParameterInvalid]: 'invalid parameter',
  [Code.ParameterMissing]: 'missing parameter',
};

/** Legacy `common.ErrorCode` for a modern code (merr oldCode). */
function legacyErrorCode(code: number): string {
  switch (code) {
    case Code.Success:
      return 'Success';
    case Code.ParameterInvalid:
    case Code.ParameterMissing:
    case 1102:
      return 'IllegalArgument';
    case Code.CollectionNotFound:
      return 'CollectionNotExists';
    case Code.ServiceNotReady:
      return 'NotReadyServe';
    default:
      return 'UnexpectedError';
  }
}

/** An error that travels to the client in-band, inside `common.Status`. */
export class MilvusError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly retriable = false,
    readonly inputError = false,
  ) {
    super(message);
    this.name = 'MilvusError';
  }
}

function wrap(code: number, detail: string, fields = '', inputError = false): MilvusError {
  const base = `${baseText[code] ?? 'unexpected error'}${fields}`;
  return new MilvusError(code, detail ? `${detail}: ${base}` : base, false, inputError);
}

/** merr.WrapErrParameterInvalidMsg: an input error, never retriable. */
export const parameterInvalid = (detail: string): MilvusError => wrap(Code.ParameterInvalid, detail, '', true);
/** merr.WrapErrParameterMissingMsg. */
export const parameterMissing = (detail: string): MilvusError => wrap(Code.ParameterMissing, detail, '', true);
/** DescribeCollection's error for a missing collection. */
export const cannotFindCollection = (db: string, name: string): MilvusError =>
  new MilvusError(Code.CollectionNotFound, `can't find collection[database=${db}][collection=${name}]`, false, true);
/** merr.WrapErrCollectionNotFoundWithDB. */
export const collectionNotFound = (db: string, name: string): MilvusError =>
  wrap(Code.CollectionNotFound, '', `[database=${db}][collection=${name}]`);
/** merr.WrapErrDatabaseNotFound. */
export const databaseNotFound = (db: string): MilvusError => wrap(Code.DatabaseNotFound, '', `[database=${db}]`);
/** merr.WrapErrDatabaseAlreadyExist. */
export const databaseExists = (db: string): MilvusError => wrap(Code.DatabaseAlreadyExists, '', `[database=${db}]`);
/** merr.WrapErrCollectionIllegalSchema. */
export const illegalSchema = (name: string, detail: string): MilvusError =>
  wrap(Code.CollectionIllegalSchema, detail, `[collection=${name}]`, true);
/** The wire shape of `milvus.proto.common.Status`. */
export interface WireStatus {
  error_code: string;
  reason: string;
  code: number;
  retriable: boolean;
  detail: string;
  extra_info: Record<string, string>;
}

/** merr.Success(). */
export function okStatus(): WireStatus {
  return { error_code: 'Success', reason: '', code: 0, retriable: false, detail: '', extra_info: {} };
}

/** merr.Status(err): reason and detail carry the whole message; input errors are flagged. */
export function errorStatus(err: MilvusError): WireStatus {
  return {
    error_code: legacyErrorCode(err.code),
    reason: err.message,
    code: err.code,
    retriable: err.inputError ? false : err.retriable,
    detail: err.message,
    extra_info: err.inputError ? { is_input_error: 'true' } : {},
  };
}
