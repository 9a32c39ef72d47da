import { describe, expect, it } from 'vitest';
import { desktopNotify } from './desktop';

describe("the desktop shell's notice", () => {
  it("calls the preload's notify with the title and body, on the bridge", async () => {
    const calls: unknown[][] = [];
    const bridge = {
      tag: 'bridge',
      notify(this: { tag: string }, title: string, body: string) {
        calls.push([this.tag, title, body]);
        return Promise.resolve(null);
      },
    };
    const notify = desktopNotify({ hale: bridge });
    expect(notify).not.toBeNull();
    await notify!('New message', 'You have a new message in Hale.');
    expect(calls).toEqual([['bridge', 'New message', 'You have a new message in Hale.']]);
  });

  it('is null in a browser, or when window.hale is not the bridge', () => {
    expect(desktopNotify({})).toBeNull();
    expect(desktopNotify({ hale: null })).toBeNull();
    expect(desktopNotify({ hale: { notify: 'yes' } })).toBeNull();
  });
});
