/**
 * Structural checks on JSON text that run before anything recurses over it.
 *
 * `JSON.parse` copes with very deep nesting, but everything after it recurses: filters, JSONata, and any
 * `JSON.stringify` on the way out overflow the stack on input nested tens of thousands of levels deep. Such input
 * can never be delivered, so it is refused where it enters (dead-lettered by the consumer, a 400 from the API),
 * not discovered on every attempt.
 */

/**
 * Default deepest nesting of arrays and objects accepted in an event's `data`; the same default as .NET's
 * System.Text.Json (`JsonSerializerOptions.MaxDepth`), and far beyond what real webhook payloads use.
 */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * The deepest nesting of `[`/`{` in a JSON text (a scalar is depth 0, `[]` and `{}` are 1, `[[1]]` is 2).
 * Iterative, O(length), never throws; brackets inside strings (escapes included) do not count.
 *
 * Meant for text that is, or is about to be checked as, valid JSON: on invalid text the figure is still a
 * bound on what a parser would have to nest, and the caller rejects the text anyway.
 *
 * @param stopAbove returns as soon as the depth exceeds this, so a huge hostile text is not scanned to the end.
 */
export function jsonNestingDepth(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return deepest;
}
