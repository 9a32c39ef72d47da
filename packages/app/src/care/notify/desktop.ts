// The desktop shell's notice: its preload gives the page `window.hale.notify(title, body)` (desktop/src/
// bridge.ts, IPC `hale:notify`). Read without trusting its shape: anything else is "not the desktop".
export type DesktopNotify = (title: string, body: string) => Promise<void>;

/**
 * The desktop shell's reminders: appointments' start times, doses' due times and fixed words handed to its
 * main process (`setReminders`).
 */
export type DesktopReminders = (
  words: { title: string; day: string; hour: string; doseTitle: string; dose: string },
  starts: readonly number[],
  doses: readonly number[],
) => Promise<void>;

export const desktopReminders = (host: object): DesktopReminders | null => {
  const bridge: unknown = Reflect.get(host, 'hale');
  if (typeof bridge !== 'object' || bridge === null) return null;
  const set: unknown = Reflect.get(bridge, 'setReminders');
  if (typeof set !== 'function') return null;
  return (words, starts, doses) =>
    Promise.resolve(Reflect.apply(set, bridge, [words, [...starts], [...doses]])).then(() => undefined);
};

export const desktopNotify = (host: object): DesktopNotify | null => {
  const bridge: unknown = Reflect.get(host, 'hale');
  if (typeof bridge !== 'object' || bridge === null) return null;
  const notify: unknown = Reflect.get(bridge, 'notify');
  if (typeof notify !== 'function') return null;
  return (title, body) => Promise.resolve(Reflect.apply(notify, bridge, [title, body])).then(() => undefined);
};
