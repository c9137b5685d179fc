/** Removes secret values from text that may reach logs, events or status. */

/** Replaces every occurrence of each secret (4+ characters) in `text` with "***". */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('***');
  }
  return out;
}

/** The forms a secret can take in text: as is, and JSON-escaped (a PEM's newlines become \\n). */
export function secretForms(values: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const v of values) {
    out.add(v);
    out.add(JSON.stringify(v).slice(1, -1));
  }
  return [...out];
}

/** extfs keys whose values are credentials (the ones Milvus itself redacts). */
export const SECRET_EXTFS_KEYS = ['access_key_id', 'access_key_value', 'ssl_ca_cert', 'external_id'];

/** The credential values of an external spec's extfs. */
export function extfsSecrets(extfs: Record<string, unknown> | undefined): string[] {
  return SECRET_EXTFS_KEYS.map((k) => extfs?.[k]).filter((v): v is string => typeof v === 'string');
}
