/** The subscription editor's text fields as the API's values: event types from a comma list, the filter from JSON. */

export function splitTypes(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Parses the filter editor's text: empty is "no filter". */
export function parseFilter(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
