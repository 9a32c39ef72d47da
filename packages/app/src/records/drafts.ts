/**
 * Drafts of forms: what a person typed, kept in this page's memory until saved or discarded, so a refused
 * write, a lost network, leaving the screen or a lock loses nothing. Never written to disk: health content
 * at rest is sealed, and the library offers no sealed draft store yet (a reload or crash loses a draft).
 */
export type DraftValues = Readonly<Record<string, string | boolean>>;

const drafts = new Map<string, DraftValues>();

export const readDraft = (key: string): DraftValues | undefined => drafts.get(key);
export const saveDraft = (key: string, values: DraftValues): void => {
  drafts.set(key, values);
};
export const dropDraft = (key: string): void => {
  drafts.delete(key);
};
export const clearDrafts = (): void => drafts.clear();
