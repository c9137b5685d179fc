/**
 * What the informer cache keeps of each resource. The API server sends whole objects; the operator never
 * reads metadata.managedFields (the field-ownership record of server-side apply, about as large as the
 * status) nor kubectl's last-applied annotation (a second copy of the spec), so they are dropped. The
 * metadata object is rebuilt rather than having properties deleted: V8 turns an object whose properties are
 * deleted into a slower, larger dictionary. Strings that repeat across resources (kinds, namespaces,
 * addresses, condition types, reasons, states, second-resolution timestamps, a job's source and spec) are kept once. Measured with
 * heap snapshots: about 3 KiB per cached resource (docs/scale.md).
 */

const DROPPED_METADATA = new Set(['managedFields']);
const DROPPED_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

/** At most this many distinct strings are kept once; then the table starts over. */
const INTERN_LIMIT = 20_000;
const interned = new Map<string, string>();

/** The one kept copy of a string of at most `maxLength` characters that repeats across resources. */
export function intern(s: string, maxLength = 64): string {
  if (s.length > maxLength) return s;
  const kept = interned.get(s);
  if (kept !== undefined) return kept;
  if (interned.size >= INTERN_LIMIT) interned.clear();
  interned.set(s, s);
  return s;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Interns the string values of `fields` of `o`, in place (assignments keep the object's shape). */
function internFields(o: unknown, fields: readonly string[], maxLength?: number): void {
  if (!isObj(o)) return;
  for (const f of fields) {
    const v = o[f];
    if (typeof v === 'string') o[f] = intern(v, maxLength);
  }
}

const CONDITION_FIELDS = ['type', 'status', 'reason', 'message', 'lastTransitionTime'] as const;
const JOB_FIELDS = ['state', 'reason', 'collectionName'] as const;
/**
 * A job's source and spec as Milvus reports them: longer than the other strings, and shared by the resources of
 * one lake (the same bucket, region and format): 112 bytes in each of 8,500 resources of a heap snapshot.
 */
const SOURCE_FIELDS = ['externalSource', 'externalSpec'] as const;
const SOURCE_MAX_LENGTH = 4096;

/** Slims `obj` in place (see above) and returns it. */
export function slim<T>(value: T): T {
  if (!isObj(value)) return value;
  const obj: Obj = value;
  internFields(obj, ['apiVersion', 'kind']);
  const meta = obj.metadata;
  if (isObj(meta)) {
    const kept: Obj = {};
    for (const [k, v] of Object.entries(meta)) {
      if (DROPPED_METADATA.has(k)) continue;
      if (k === 'annotations' && isObj(v)) {
        const annotations: Obj = {};
        let any = false;
        for (const [a, value] of Object.entries(v)) {
          if (DROPPED_ANNOTATIONS.has(a)) continue;
          annotations[a] = value;
          any = true;
        }
        if (any) kept.annotations = annotations;
        continue;
      }
      kept[k] = (k === 'namespace' || k === 'creationTimestamp') && typeof v === 'string' ? intern(v) : v;
    }
    obj.metadata = kept;
  }
  const spec = obj.spec;
  if (isObj(spec)) internFields(spec.milvus, ['address', 'database']);
  const status = obj.status;
  if (isObj(status)) {
    internFields(status, [...JOB_FIELDS, 'lastSuccessfulTime']);
    internFields(status, SOURCE_FIELDS, SOURCE_MAX_LENGTH);
    if (Array.isArray(status.conditions)) for (const c of status.conditions) internFields(c, CONDITION_FIELDS);
    internFields(status.run, ['trigger', 'requestedAt']);
    if (Array.isArray(status.history)) for (const h of status.history) internFields(h, JOB_FIELDS);
  }
  return value;
}
