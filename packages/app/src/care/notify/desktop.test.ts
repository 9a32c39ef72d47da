import { describe, expect, it } from 'vitest';
import { desktopNotify, desktopReminders } from './desktop';

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

describe("the desktop shell's reminders", () => {
  it("hands the words, start times and dose times to the preload's setReminders, on the bridge", async () => {
    const calls: unknown[][] = [];
    const bridge = {
      tag: 'bridge',
      setReminders(this: { tag: string }, words: unknown, starts: unknown, doses: unknown) {
        calls.push([this.tag, words, starts, doses]);
        return Promise.resolve();
      },
    };
    const remind = desktopReminders({ hale: bridge });
    expect(remind).not.toBeNull();
    const words = {
      title: 'Appointment soon',
      day: 'Within a day',
      hour: 'Within the hour',
      doseTitle: 'Medicine time',
      dose: 'Medicine',
    };
    const doses = [3, 4];
    await remind!(words, [1, 2], doses);
    expect(calls).toEqual([['bridge', words, [1, 2], [3, 4]]]);
    // Copies: the bridge cannot change the app's list.
    expect(calls[0]?.[3]).not.toBe(doses);
  });

  it('is null in a browser, or on a desktop shell without reminders', () => {
    expect(desktopReminders({})).toBeNull();
    expect(desktopReminders({ hale: { notify: () => undefined } })).toBeNull();
  });
});
