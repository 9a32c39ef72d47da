/**
 * Drafts of forms: what a person typed, kept until saved or discarded, so that a refused write, a lost
 * network, leaving the screen, a lock, a reload or a crash loses nothing.
 *
 * | where | what | when |
 * |---|---|---|
 * | page memory | the drafts of this session, read synchronously by a form as it opens | at every change |
 * | the library's `session.drafts` | the same, sealed at rest on this device by the account's key | 250 ms after the last change; at once on drop, lock, page hide and `flushDrafts()` |
 *
 * Invariants: a form opening reads memory first, else the device store (`loadDraft`); memory is emptied on
 * lock and sign-out (after the writes under way were flushed), so a locked app holds no typing in memory.
 * Failure modes: a write the store refuses (damaged value, locked session) keeps the draft in memory for this
 * page and is reported to the console; a draft read back with values of another shape keeps only the text and
 * yes/no fields.
 */
import type { HaleSession } from '@hale/client';

/** A field's value as typed; a dotted field (`contact.phone`) under its group (@mantine/form reads dots as paths). */
export type DraftValue = string | boolean | Readonly<Record<string, string | boolean>>;
export type DraftValues = Readonly<Record<string, DraftValue>>;

const WRITE_DELAY_MS = 250;
const memory = new Map<string, DraftValues>();
/** Writes waiting for their delay, by key: the session they go to and what (null: delete). */
const pending = new Map<string, { session: HaleSession; values: DraftValues | null }>();
let timer: ReturnType<typeof setTimeout> | null = null;
let writing: Promise<void> = Promise.resolve();
/** Settles once the writes waiting now are done (the next flush). */
let nextFlush: { promise: Promise<void>; resolve: () => void } | null = null;

/**
 * Form values from fields' values: a dotted field under its group (`contact.phone` → `contact: {phone}`),
 * where @mantine/form reads and writes it (it takes a key's dots as a path).
 */
export const nestValues = (entries: Iterable<readonly [string, string | boolean]>): DraftValues => {
  const out: Record<string, DraftValue> = {};
  for (const [name, value] of entries) {
    const [head, tail] = name.split('.', 2) as [string, string | undefined];
    if (tail === undefined) out[head] = value;
    else {
      const group = out[head];
      out[head] = { ...(typeof group === 'object' ? group : {}), [tail]: value };
    }
  }
  return out;
};

/** Form values as the device's draft store keeps them: one level, a grouped field by its dotted name. */
const flatValues = (values: DraftValues): Record<string, string | boolean> => {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v !== 'object') out[k] = v;
    else for (const [part, w] of Object.entries(v)) out[`${k}.${part}`] = w;
  }
  return out;
};

const ofForm = (stored: Readonly<Record<string, unknown>>): DraftValues =>
  nestValues(
    Object.entries(stored).filter(
      (e): e is [string, string | boolean] => typeof e[1] === 'string' || typeof e[1] === 'boolean',
    ),
  );

/** Writes everything waiting now; resolves once the store has it (or refused it). */
export const flushDrafts = (): Promise<void> => {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  const batch = [...pending.entries()];
  pending.clear();
  const waiting = nextFlush;
  nextFlush = null;
  writing = writing.then(async () => {
    for (const [key, { session, values }] of batch) {
      try {
        if (values === null) await session.drafts.delete(key);
        else await session.drafts.set(key, flatValues(values));
      } catch (e) {
        console.warn(`hale: the draft "${key}" could not be kept on this device`, e);
      }
    }
    waiting?.resolve();
  });
  return writing;
};

/** Queues the write of `key`; resolves once it is on the device (or was refused, said on the console). */
const schedule = (session: HaleSession, key: string, values: DraftValues | null): Promise<void> => {
  pending.set(key, { session, values });
  if (timer !== null) clearTimeout(timer);
  timer = setTimeout(() => void flushDrafts(), WRITE_DELAY_MS);
  if (nextFlush === null) {
    let resolve = (): void => undefined;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    nextFlush = { promise, resolve };
  }
  return nextFlush.promise;
};

if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => void flushDrafts());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') void flushDrafts();
  });
}

/** The draft this page holds for `key` (after `loadDraft`, or typed in this page). */
export const readDraft = (key: string): DraftValues | undefined => memory.get(key);

/** Reads the draft kept on the device for `key` into memory; answers it. */
export const loadDraft = async (session: HaleSession, key: string): Promise<DraftValues | undefined> => {
  const held = memory.get(key);
  if (held !== undefined) return held;
  // Dropped here but not yet deleted on the device (the write waits its delay): there is no draft.
  if (pending.has(key) && pending.get(key)?.values === null) return undefined;
  await writing;
  try {
    const kept = await session.drafts.get(key);
    if (kept === null) return undefined;
    const values = ofForm(kept.values);
    if (!memory.has(key)) memory.set(key, values);
    return memory.get(key);
  } catch (e) {
    console.warn(`hale: the draft "${key}" could not be read on this device`, e);
    return undefined;
  }
};

/** Keeps `values` as the draft of `key`; resolves once it is sealed on the device. */
export const saveDraft = (session: HaleSession, key: string, values: DraftValues): Promise<void> => {
  memory.set(key, values);
  return schedule(session, key, values);
};

/**
 * Forgets the draft of `key` (its record was saved): written through at once, not after the delay, so a
 * reload right after saving cannot bring the saved values back as a draft of a new record.
 */
export const dropDraft = (session: HaleSession, key: string): Promise<void> => {
  memory.delete(key);
  void schedule(session, key, null);
  return flushDrafts();
};

/** Forgets this page's copies (lock, sign-out); what the device store keeps stays. */
export const clearDrafts = (): void => memory.clear();
