// Messages for a person that must fit a limit (an issue, a stored field) without losing either end.
/**
 * `text` of at most `max` characters: a longer one loses its middle (`…`), keeping its last `keepEnd`
 * characters, so that both what comes first (what failed) and last (what to do) are kept. Cut at code
 * points, so no character is split in two.
 */
export const cutMiddle = (text: string, max: number, keepEnd = Math.ceil((max - 1) * 0.6)): string => {
  // UTF-16 units, as the limits it must fit count (the sync state's cut, the schema's maxLength); a
  // surrogate pair at either cut is left out whole rather than split.
  if (text.length <= max) return text;
  const head = text.slice(0, max - 1 - keepEnd).replace(/[\uD800-\uDBFF]$/, '');
  const tail = text.slice(text.length - keepEnd).replace(/^[\uDC00-\uDFFF]/, '');
  return `${head}…${tail}`;
};
