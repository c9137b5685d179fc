/** Collection and database name rules of the Milvus proxy (validateCollectionName). */
import { parameterInvalid } from './errors.js';

/** proxy.maxNameLength default. */
export const MAX_NAME_LENGTH = 255;

/** Throws ParameterInvalid with Milvus' wording when `name` is not a valid collection name. */
export function validateCollectionName(name: string): void {
  if (name === '') throw parameterInvalid('collection name should not be empty');
  // Milvus builds "Invalid collection name: <n>. " + "%s the ...": two spaces, kept on purpose.
  const invalid = `Invalid collection name: ${name}. `;
  if (name.length > MAX_NAME_LENGTH) {
    throw parameterInvalid(
      `${invalid} the length of a collection name must be less than ${MAX_NAME_LENGTH} characters`,
    );
  }
  const first = name[0]!;
  if (first !== '_' && !/[A-Za-z]/.test(first)) {
    throw parameterInvalid(`${invalid} the first character of a collection name must be an underscore or letter`);
  }
  if (!/^[A-Za-z0-9_]*$/.test(name)) {
    throw parameterInvalid(`${invalid} collection name can only contain numbers, letters and underscores`);
  }
}

/** Database names follow the same character rules. */
export function validateDatabaseName(name: string): void {
  if (name === '') throw parameterInvalid('database name should not be empty');
  const invalid = `Invalid database name: ${name}. `;
  if (name.length > MAX_NAME_LENGTH)
    throw parameterInvalid(`${invalid} the length of a database name must be less than ${MAX_NAME_LENGTH} characters`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw parameterInvalid(
      `${invalid} the first character of a database name must be an underscore or letter, and it can only contain numbers, letters and underscores`,
    );
  }
}
