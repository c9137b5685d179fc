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
    } else if (JSON.stringify(before) !== JSON.stringify(value)) {
      out[key] = value as Json;
    }
  }
  return out;
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
