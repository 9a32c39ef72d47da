// The desktop shell's notice: its preload gives the page `window.hale.notify(title, body)` (desktop/src/
// bridge.ts, IPC `hale:notify`). Read without trusting its shape: anything else is "not the desktop".
export type DesktopNotify = (title: string, body: string) => Promise<void>;

export const desktopNotify = (host: object): DesktopNotify | null => {
  const bridge: unknown = Reflect.get(host, 'hale');
  if (typeof bridge !== 'object' || bridge === null) return null;
  const notify: unknown = Reflect.get(bridge, 'notify');
  if (typeof notify !== 'function') return null;
  return (title, body) => Promise.resolve(Reflect.apply(notify, bridge, [title, body])).then(() => undefined);
};
