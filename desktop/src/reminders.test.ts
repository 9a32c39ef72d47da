// Appointment and dose reminders from the main process, with Electron stubbed and the clock injected: the
// page hands start times and dose times through the bridge (checked on the way), main shows the fixed words
// a day and an hour before an appointment and at a dose's time (within DOSE_GRACE_MS, not later), once each,
// also after the page locked; a new list replaces the old; bad input changes nothing.
import { describe, expect, it } from 'vitest';
import { createBridge, type IpcRendererLike } from './bridge';
import { createDesktopMain } from './desktop-main';
import { memoryFs, stubElectron } from './electron-stub.test-util';
import {
  createReminderScheduler,
  DAY_MS,
  DOSE_GRACE_MS,
  HOUR_MS,
  MAX_WAIT_MS,
  type ReminderClock,
} from './reminders';

const WORDS = {
  title: 'Appointment reminder',
  day: 'You have an appointment tomorrow. Open Hale to see it.',
  hour: 'You have an appointment within the hour. Open Hale to see it.',
  doseTitle: 'Medicine time',
  dose: 'Time for your medicine. Open Hale to see it.',
};
const MINUTE_MS = 60_000;
const T0 = Date.parse('2026-03-28T08:00:00Z');

/** A clock that moves only when told, running the timers that fall due on the way. */
const manualClock = () => {
  let now = T0;
  let nextId = 0;
  const timers = new Map<number, { at: number; run: () => void }>();
  const clock: ReminderClock = {
    now: () => now,
    setTimeout: (run, ms) => {
      nextId += 1;
      timers.set(nextId, { at: now + ms, run });
      return nextId;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
  };
  const advance = (ms: number): void => {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      timers.delete(due[0]);
      now = Math.max(now, due[1].at);
      due[1].run();
    }
    now = until;
  };
  /** The machine sleeps: time moves on, no timer runs until the next `advance`. */
  const sleep = (ms: number): void => {
    now += ms;
  };
  return { clock, advance, sleep, armed: () => [...timers.values()].map((t) => t.at - now) };
};

const started = async () => {
  const stub = stubElectron();
  const time = manualClock();
  const main = createDesktopMain(stub.electron, {
    preloadPath: '/p.cjs',
    appDir: '/app',
    devServerUrl: null,
    fs: memoryFs(),
    platform: 'linux',
    clock: time.clock,
  });
  await main.start();
  const ipc: IpcRendererLike = {
    invoke: (channel, request) => stub.invoke(channel, request),
    on: () => undefined,
    removeListener: () => undefined,
  };
  return { stub, time, main, bridge: createBridge(ipc) };
};

describe('appointment reminders from the main process', () => {
  it('shows the fixed words a day and an hour before each appointment, once each', async () => {
    const { stub, time, bridge } = await started();
    const soon = T0 + 2 * DAY_MS + 3 * HOUR_MS;
    const later = T0 + 5 * DAY_MS;
    await bridge.setReminders(WORDS, [later, soon], []);
    expect(stub.notifications).toEqual([]);

    time.advance(DAY_MS + 3 * HOUR_MS - 1);
    expect(stub.notifications).toEqual([]);
    time.advance(1);
    expect(stub.notifications).toEqual([{ title: WORDS.title, body: WORDS.day }]);

    // The page locks (nothing of it runs); main still reminds, and the same list handed again repeats nothing.
    stub.powerEvents.get('lock-screen')?.();
    await bridge.setReminders(WORDS, [later, soon], []);
    expect(stub.notifications).toHaveLength(1);
    time.advance(DAY_MS - HOUR_MS);
    expect(stub.notifications.map((n) => n.body)).toEqual([WORDS.day, WORDS.hour]);
    time.advance(HOUR_MS + 1);
    time.advance(2 * DAY_MS);
    expect(stub.notifications.map((n) => n.body)).toEqual([WORDS.day, WORDS.hour, WORDS.day]);
    // Only the given words: no appointment's time, name or reason reaches the notice.
    expect(new Set(stub.notifications.map((n) => n.title))).toEqual(new Set([WORDS.title]));
  });

  it('an appointment within the hour when the list arrives: the hour reminder at once, not also the day one', async () => {
    const { stub, bridge } = await started();
    await bridge.setReminders(WORDS, [T0 + 20 * 60_000, T0 - 60_000], []);
    expect(stub.notifications).toEqual([{ title: WORDS.title, body: WORDS.hour }]);
  });

  it('a new list replaces the old: a cancelled appointment is not reminded of', async () => {
    const { stub, time, main, bridge } = await started();
    await bridge.setReminders(WORDS, [T0 + 3 * DAY_MS], []);
    expect(main.reminders.pending()).toBe(1);
    await bridge.setReminders(WORDS, [], []);
    expect(main.reminders.pending()).toBe(0);
    time.advance(4 * DAY_MS);
    expect(stub.notifications).toEqual([]);
  });

  it('wakes at most every MAX_WAIT_MS, so a sleep or a clock change is caught up', () => {
    const time = manualClock();
    const shown: string[] = [];
    const scheduler = createReminderScheduler({ show: (_t, body) => shown.push(body), clock: time.clock });
    scheduler.replace({ words: WORDS, starts: [T0 + 10 * DAY_MS], doses: [] });
    expect(time.armed()).toEqual([MAX_WAIT_MS]);
    scheduler.stop();
    expect(time.armed()).toEqual([]);
  });

  it('refuses a list that is not start times and the fixed words, and changes nothing', async () => {
    const { stub, main } = await started();
    const bad: unknown[] = [
      { words: WORDS, starts: ['2026-03-30T09:00:00Z'], doses: [] },
      { words: WORDS, starts: [1.5], doses: [] },
      { words: WORDS, starts: [-1], doses: [] },
      { words: WORDS, starts: Array.from({ length: 51 }, (_, i) => T0 + i * HOUR_MS), doses: [] },
      { words: WORDS, starts: [], doses: [T0 + 0.5] },
      { words: WORDS, starts: [], doses: ['08:00'] },
      { words: WORDS, starts: [], doses: [-1] },
      { words: WORDS, starts: [], doses: Array.from({ length: 51 }, (_, i) => T0 + i * HOUR_MS) },
      { words: WORDS, starts: [T0 + HOUR_MS / 2] },
      { words: WORDS, starts: [], doses: [{ at: T0 + MINUTE_MS, medicine: 'Metformin 500 mg' }] },
      { words: { ...WORDS, title: '' }, starts: [], doses: [] },
      { words: { ...WORDS, day: 'x'.repeat(201) }, starts: [], doses: [] },
      { words: { ...WORDS, dose: '' }, starts: [], doses: [] },
      { words: { title: WORDS.title, day: WORDS.day, hour: WORDS.hour }, starts: [], doses: [] },
      { words: { ...WORDS, doseTitle: '' }, starts: [], doses: [] },
      { words: { ...WORDS, reason: 'Blood pressure review' }, starts: [], doses: [] },
      { words: { ...WORDS, medicine: 'Metformin 500 mg' }, starts: [], doses: [T0 + MINUTE_MS] },
      { words: WORDS, starts: [T0 + HOUR_MS / 2], doses: [], appointments: [{ reason: 'x' }] },
      { words: WORDS, starts: [], doses: [T0 + MINUTE_MS], medicines: [{ name: 'x' }] },
      'remind me',
    ];
    for (const request of bad) {
      expect(await stub.invoke('hale:reminders', request)).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    }
    expect(main.reminders.pending()).toBe(0);
    expect(stub.notifications).toEqual([]);
    // From a page that is not the app's: refused too.
    expect(
      await stub.invoke(
        'hale:reminders',
        { words: WORDS, starts: [T0 + HOUR_MS / 2], doses: [T0 - MINUTE_MS] },
        'https://evil.example/',
      ),
    ).toMatchObject({ ok: false, code: 'FORBIDDEN_SENDER' });
    expect(stub.notifications).toEqual([]);
  });
});

describe('dose reminders from the main process', () => {
  it('shows the dose words once at each dose time, not before, also after the page locked', async () => {
    const { stub, time, main, bridge } = await started();
    const morning = T0 + 2 * HOUR_MS;
    const evening = T0 + 12 * HOUR_MS;
    await bridge.setReminders(WORDS, [], [evening, morning, morning]);
    expect(main.reminders.pending()).toBe(2);
    expect(stub.notifications).toEqual([]);

    time.advance(2 * HOUR_MS - 1);
    expect(stub.notifications).toEqual([]);
    time.advance(1);
    expect(stub.notifications).toEqual([{ title: WORDS.doseTitle, body: WORDS.dose }]);

    // The page locks; the same list handed again (the morning dose still within the grace) repeats nothing.
    stub.powerEvents.get('lock-screen')?.();
    time.advance(10 * MINUTE_MS);
    await bridge.setReminders(WORDS, [], [evening, morning]);
    expect(stub.notifications).toHaveLength(1);
    expect(main.reminders.pending()).toBe(1);

    time.advance(10 * HOUR_MS - 10 * MINUTE_MS - 1);
    expect(stub.notifications).toHaveLength(1);
    time.advance(1);
    time.advance(DAY_MS);
    expect(stub.notifications).toEqual([
      { title: WORDS.doseTitle, body: WORDS.dose },
      { title: WORDS.doseTitle, body: WORDS.dose },
    ]);
    expect(main.reminders.pending()).toBe(0);
  });

  it('a list handed late: a dose within the grace is shown at once, one beyond it not at all', () => {
    const time = manualClock();
    const shown: string[] = [];
    const scheduler = createReminderScheduler({ show: (_t, body) => shown.push(body), clock: time.clock });
    scheduler.replace({ words: WORDS, starts: [], doses: [T0 - DOSE_GRACE_MS - 1] });
    expect(shown).toEqual([]);
    expect(scheduler.pending()).toBe(0);
    expect(time.armed()).toEqual([]);

    scheduler.replace({ words: WORDS, starts: [], doses: [T0 - DOSE_GRACE_MS - 1, T0 - DOSE_GRACE_MS] });
    expect(shown).toEqual([WORDS.dose]);
    time.advance(DAY_MS);
    expect(shown).toEqual([WORDS.dose]);
  });

  it('a dose time slept through beyond the grace is not shown when the machine wakes', () => {
    const time = manualClock();
    const shown: string[] = [];
    const scheduler = createReminderScheduler({ show: (_t, body) => shown.push(body), clock: time.clock });
    scheduler.replace({ words: WORDS, starts: [], doses: [T0 + 5 * MINUTE_MS] });
    expect(time.armed()).toEqual([5 * MINUTE_MS]);
    // The timer runs only on waking, past the dose time and its grace.
    time.sleep(5 * MINUTE_MS + DOSE_GRACE_MS + 1);
    time.advance(0);
    expect(shown).toEqual([]);
    expect(scheduler.pending()).toBe(0);
  });

  it('a new list replaces the old: a removed dose is not shown, one moved is shown at its new time', async () => {
    const { stub, time, main, bridge } = await started();
    await bridge.setReminders(WORDS, [], [T0 + HOUR_MS, T0 + 2 * HOUR_MS]);
    expect(main.reminders.pending()).toBe(2);
    await bridge.setReminders(WORDS, [], [T0 + 3 * HOUR_MS]);
    expect(main.reminders.pending()).toBe(1);
    time.advance(3 * HOUR_MS - 1);
    expect(stub.notifications).toEqual([]);
    time.advance(1);
    expect(stub.notifications).toEqual([{ title: WORDS.doseTitle, body: WORDS.dose }]);
    await bridge.setReminders(WORDS, [], []);
    time.advance(DAY_MS);
    expect(stub.notifications).toHaveLength(1);
  });

  it('wakes at the nearer of a dose time and a window opening, at most MAX_WAIT_MS ahead', () => {
    const time = manualClock();
    const scheduler = createReminderScheduler({ show: () => undefined, clock: time.clock });
    scheduler.replace({ words: WORDS, starts: [T0 + DAY_MS + 7 * MINUTE_MS], doses: [T0 + 9 * MINUTE_MS] });
    expect(time.armed()).toEqual([7 * MINUTE_MS]);
    scheduler.replace({ words: WORDS, starts: [], doses: [T0 + 9 * MINUTE_MS] });
    expect(time.armed()).toEqual([9 * MINUTE_MS]);
    scheduler.replace({ words: WORDS, starts: [], doses: [T0 + HOUR_MS] });
    expect(time.armed()).toEqual([MAX_WAIT_MS]);
    scheduler.stop();
    expect(time.armed()).toEqual([]);
  });

  it('nothing but the given words reaches the notice, with appointments and doses mixed', async () => {
    const { stub, time, bridge } = await started();
    await bridge.setReminders(
      WORDS,
      [T0 + 30 * MINUTE_MS, T0 + 20 * HOUR_MS],
      [T0 - 10 * MINUTE_MS, T0 + 4 * HOUR_MS, T0 + 8 * HOUR_MS],
    );
    time.advance(2 * DAY_MS);
    expect(stub.notifications.map((n) => n.body)).toEqual([
      WORDS.hour,
      WORDS.day,
      WORDS.dose,
      WORDS.dose,
      WORDS.dose,
      WORDS.hour,
    ]);
    for (const n of stub.notifications) {
      expect(n.title).toBe(n.body === WORDS.dose ? WORDS.doseTitle : WORDS.title);
      expect([WORDS.day, WORDS.hour, WORDS.dose]).toContain(n.body);
    }
  });
});
