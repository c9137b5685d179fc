/** RFC 7386 JSON merge patches. */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The merge patch that turns `from` into `to`: removed keys become null, arrays are replaced whole. */
export function mergePatch(from: object, to: object): Record<string, Json> {
  const out: Record<string, Json> = {};
  const a = from as Record<string, unknown>;
  const b = to as Record<string, unknown>;
  for (const key of Object.keys(a)) if (b[key] === undefined) out[key] = null;
  for (const [key, value] of Object.entries(b)) {
    if (value === undefined) continue;
    const before = a[key];
    if (isObject(before) && isObject(value)) {
      const nested = mergePatch(before, value);
      if (Object.keys(nested).length > 0) out[key] = nested;
    } else if (!jsonEqual(before, value)) {
      out[key] = value as Json;
    }
  }
  return out;
}

/**
 * A copy of JSON data as JSON.parse(JSON.stringify(value)) would make it, without writing the text: object
 * fields that are undefined are left out, and an undefined array item or a number JSON cannot hold (NaN,
 * Infinity) becomes null. For plain data only (no dates, maps or toJSON methods).
 */
export function jsonCopy<T>(value: T): T {
  return copyJson(value) as T;
}

function copyJson(value: unknown): Json | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => copyJson(v) ?? null);
  if (typeof value !== 'object') return undefined;
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(value)) {
    const v = copyJson((value as Record<string, unknown>)[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * Whether two JSON values are equal, whatever the order of object keys; an undefined field equals a missing
 * one. Compares in place (no JSON text is written).
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    return a.length === bs.length && a.every((v, i) => jsonEqual(v ?? null, bs[i] ?? null));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of Object.keys(ao)) if (ao[k] !== undefined && !jsonEqual(ao[k], bo[k])) return false;
  for (const k of Object.keys(bo)) if (bo[k] !== undefined && ao[k] === undefined) return false;
  return true;
}

/** Applies a merge patch (for tests and symmetry). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}
