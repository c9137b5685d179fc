/** Removes secret values from text that may reach logs, events or status. */

/** Replaces every occurrence of each secret (4+ characters) in `text` with "***". */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('***');
  }
  return out;
}
