/** Removes secret values from text that may reach logs, events or status. */
import { CREDENTIAL_EXTFS_KEYS } from '../api/secrets.js';

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

/** The credential values of an external spec's extfs. */
export function extfsSecrets(extfs: Record<string, unknown> | undefined): string[] {
  return CREDENTIAL_EXTFS_KEYS.map((k) => extfs?.[k]).filter((v): v is string => typeof v === 'string');
}
