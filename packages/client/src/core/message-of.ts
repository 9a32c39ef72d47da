/** A thrown value's message, for a report: an Error's own message, anything else as text. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
