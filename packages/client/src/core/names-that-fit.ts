/**
 * `names` joined with `separator`, as many as fit in `max` characters with what follows them: the rest
 * counted as `${separator}and N more` (`and N more` when none fits). Used where a message or summary has a
 * bound and the full list is carried elsewhere (an issue's `records`, an entry's `count`).
 */
export const namesThatFit = (names: readonly string[], max: number, separator: string): string => {
  const shown: string[] = [];
  let used = 0;
  for (const name of names) {
    const left = names.length - shown.length - 1;
    const gap = shown.length > 0 ? separator.length : 0;
    const tail = left > 0 ? `${separator}and ${left} more`.length : 0;
    if (used + gap + name.length + tail > max) break;
    shown.push(name);
    used += gap + name.length;
  }
  const left = names.length - shown.length;
  return [...shown, ...(left > 0 ? [`and ${left} more`] : [])].join(separator);
};
