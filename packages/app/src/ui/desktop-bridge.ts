/**
 * What the app uses of the desktop shell's bridge (`window.hale`, desktop/src/bridge.ts), read
 * structurally: in a browser there is none, and every call falls back to the web's way.
 *
 * | call | desktop | browser |
 * |---|---|---|
 * | `saveBytes` | the save dialog (`hale:save-file`) | a download (`<a download>`) |
 * | `notifyDevice` | the OS notification (`hale:notify`) | the web Notification, when the person allowed it |
 */

interface SaveFileInput {
  readonly suggestedName: string;
  readonly data: Uint8Array;
  readonly filterName?: string;
  readonly extensions?: readonly string[];
}

interface BridgeLike {
  saveFile?: (input: SaveFileInput) => Promise<{ saved: boolean; path?: string }>;
  notify?: (title: string, body: string) => Promise<void>;
}

const bridge = (): BridgeLike | undefined => {
  const found = (window as unknown as { hale?: unknown }).hale;
  // Only functions are read from it, each checked with typeof before it is called.
  return typeof found === 'object' && found !== null ? found : undefined;
};

/** A file name without what a save dialog refuses (a folder part, control characters), at most 200 long. */
export const safeFileName = (name: string): string =>
  name.replace(/[/\\\p{Cc}]+/gu, '_').slice(0, 200) || 'file';

export type SaveOutcome = 'saved' | 'cancelled' | 'downloaded';

/** Saves `data` as a file the person keeps: the desktop's save dialog, else a browser download. */
export async function saveBytes(
  name: string,
  data: Uint8Array,
  mediaType: string,
  filter?: { readonly name: string; readonly extensions: readonly string[] },
): Promise<SaveOutcome> {
  const fileName = safeFileName(name);
  const save = bridge()?.saveFile;
  if (typeof save === 'function') {
    const answer = await save({
      suggestedName: fileName,
      data,
      ...(filter === undefined ? {} : { filterName: filter.name, extensions: filter.extensions }),
    });
    return answer.saved ? 'saved' : 'cancelled';
  }
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type: mediaType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return 'downloaded';
}

/** Whether this device can show a notification outside the app's window now (or after asking). */
export const deviceNotifications = (): 'desktop' | 'granted' | 'ask' | 'denied' | 'none' => {
  if (typeof bridge()?.notify === 'function') return 'desktop';
  if (typeof Notification === 'undefined') return 'none';
  if (Notification.permission === 'granted') return 'granted';
  return Notification.permission === 'denied' ? 'denied' : 'ask';
};

/** A notification outside the app's window (see the header); nothing when the person did not allow it. */
export async function notifyDevice(title: string, body: string): Promise<void> {
  const notify = bridge()?.notify;
  if (typeof notify === 'function') {
    await notify(title.slice(0, 100), body.slice(0, 500));
    return;
  }
  if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
    new Notification(title, { body, tag: 'hale-link-access' });
  }
}
