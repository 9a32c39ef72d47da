// The window logic on its own, with a write the test controls (fails, holds): an access that cannot be
// logged is never served and never tallied; a repeat waits for its window's entry to commit; tallies that
// fail are carried, never dropped silently; the window's timer writes its tally. The real store and
// server are in access-coalescing.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAccessWindows, type LoggedAccess } from './access-windows';
import type { AccessGuard } from '../store/index';
import type { Principal } from './access';

const device = (deviceId: string, accountId = 'provider'): Principal => ({
  accountId,
  deviceId,
  role: 'provider',
});
const A = device('dev-a');
const B = device('dev-b');
const pull = (count = 3, stream = 'patient/allergy', grantId = 'g1') =>
  ({ action: 'pull', stream, count, grantId }) as const;

const setup = (windowMs = 60_000) => {
  const clock = { now: 1_000_000 };
  const log: string[] = [];
  const errors: unknown[] = [];
  let failNext = 0;
  let hold: Promise<void> | null = null;
  const windows = createAccessWindows({
    now: () => clock.now,
    windowMs,
    write: async (p: Principal, events: LoggedAccess[]) => {
      if (hold) await hold;
      if (failNext > 0) {
        failNext--;
        throw new Error('store unavailable');
      }
      for (const e of events) log.push(`${p.deviceId} ${e.action} ${e.stream} ${e.count}`);
    },
    onError: (error) => errors.push(error),
  });
  return {
    clock,
    log,
    errors,
    windows,
    failWrites: (n: number) => (failNext = n),
    holdWrites: () => {
      let release: () => void = () => undefined;
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = null;
        release();
      };
    },
  };
};

afterEach(() => {
  vi.useRealTimers();
});

describe('access windows', () => {
  it('the first access is written before record resolves; repeats are tallied; the next window writes the tally first', async () => {
    const s = setup();
    await s.windows.record(A, [pull()]);
    expect(s.log).toEqual(['dev-a pull patient/allergy 3']);
    for (let i = 0; i < 10; i++) await s.windows.record(A, [pull()]);
    expect(s.log).toHaveLength(1);
    s.clock.now += 60_000;
    await s.windows.record(A, [pull(2)]);
    expect(s.log).toEqual([
      'dev-a pull patient/allergy 3',
      'dev-a pull patient/allergy 30',
      'dev-a pull patient/allergy 2',
    ]);
  });

  it('keys on device, action, stream and grant', async () => {
    const s = setup();
    await s.windows.record(A, [pull()]);
    await s.windows.record(B, [pull()]);
    await s.windows.record(A, [pull(3, 'patient/lab-result')]);
    await s.windows.record(A, [{ action: 'blob-down', stream: 'patient/allergy', count: 1, grantId: 'g1' }]);
    await s.windows.record(A, [pull(3, 'patient/allergy', 'g2')]);
    await s.windows.record(A, [pull()]);
    expect(s.log).toEqual([
      'dev-a pull patient/allergy 3',
      'dev-b pull patient/allergy 3',
      'dev-a pull patient/lab-result 3',
      'dev-a blob-down patient/allergy 1',
      'dev-a pull patient/allergy 3',
    ]);
  });

  it('an opening access that cannot be written is refused and opens no window: the next one is written', async () => {
    const s = setup();
    s.failWrites(1);
    await expect(s.windows.record(A, [pull()])).rejects.toThrow('store unavailable');
    expect(s.log).toEqual([]);
    expect(s.windows.size()).toBe(0);
    await s.windows.record(A, [pull()]);
    expect(s.log).toEqual(['dev-a pull patient/allergy 3']);
  });

  it('a repeat that arrives while its window is being opened waits for that entry; if it fails, it is written itself', async () => {
    const s = setup();
    let release = s.holdWrites();
    const first = s.windows.record(A, [pull()]);
    let repeatDone = false;
    const repeat = s.windows.record(A, [pull()]).then(() => (repeatDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(repeatDone).toBe(false);
    release();
    await Promise.all([first, repeat]);
    expect(s.log).toEqual(['dev-a pull patient/allergy 3']);

    // Now the opening write fails: the waiting repeat may not be served on the strength of it.
    const t = setup();
    release = t.holdWrites();
    t.failWrites(1);
    const failing = t.windows.record(B, [pull()]);
    const waiter = t.windows.record(B, [pull(5)]);
    release();
    await expect(failing).rejects.toThrow('store unavailable');
    await waiter;
    expect(t.log).toEqual(['dev-b pull patient/allergy 5']);
  });

  it('a grant change ends the account’s windows and writes their tallies; other accounts keep theirs', async () => {
    const s = setup();
    const other = device('dev-x', 'other-provider');
    await s.windows.record(A, [pull()]);
    await s.windows.record(A, [pull()]);
    await s.windows.record(other, [pull()]);
    await s.windows.record(other, [pull()]);
    await s.windows.endAccount('provider');
    expect(s.log).toEqual([
      'dev-a pull patient/allergy 3',
      'dev-x pull patient/allergy 3',
      'dev-a pull patient/allergy 3',
    ]);
    await s.windows.record(A, [pull()]);
    await s.windows.record(other, [pull()]);
    expect(s.log.slice(3)).toEqual(['dev-a pull patient/allergy 3']);
  });

  it('a tally that cannot be written is reported and carried into the next write of its key', async () => {
    const s = setup();
    await s.windows.record(A, [pull()]);
    await s.windows.record(A, [pull()]);
    s.failWrites(1);
    await s.windows.endAccount('provider');
    expect(s.errors).toHaveLength(1);
    expect(s.log).toEqual(['dev-a pull patient/allergy 3']);
    await s.windows.record(A, [pull(1)]);
    expect(s.log).toEqual([
      'dev-a pull patient/allergy 3',
      'dev-a pull patient/allergy 3',
      'dev-a pull patient/allergy 1',
    ]);
  });

  it("the window's timer writes its tally; shutdown writes the rest and logs later access one by one", async () => {
    vi.useFakeTimers();
    const s = setup(60_000);
    await s.windows.record(A, [pull()]);
    await s.windows.record(A, [pull()]);
    await s.windows.record(B, [pull()]);
    await s.windows.record(B, [pull(4)]);
    s.clock.now += 60_000;
    vi.advanceTimersByTime(60_000);
    await s.windows.drain();
    expect(s.log.slice(2).sort()).toEqual(['dev-a pull patient/allergy 3', 'dev-b pull patient/allergy 4']);

    await s.windows.record(A, [pull()]);
    await s.windows.record(A, [pull(7)]);
    s.windows.stop();
    await s.windows.drain();
    expect(s.log.slice(4)).toEqual(['dev-a pull patient/allergy 3', 'dev-a pull patient/allergy 7']);
    await s.windows.record(A, [pull(2)]);
    await s.windows.record(A, [pull(2)]);
    expect(s.log.slice(6)).toEqual(['dev-a pull patient/allergy 2', 'dev-a pull patient/allergy 2']);
    expect(s.windows.size()).toBe(0);
  });
});

describe('access windows: behaviours pinned before live delivery shared them', () => {
  it('a window with no repeats ends at its timer and writes nothing more', async () => {
    vi.useFakeTimers();
    const s = setup(60_000);
    await s.windows.record(A, [pull()]);
    expect(s.windows.size()).toBe(1);
    s.clock.now += 60_000;
    vi.advanceTimersByTime(60_000);
    await s.windows.drain();
    expect(s.windows.size()).toBe(0);
    expect(s.log).toEqual(['dev-a pull patient/allergy 3']);
  });

  it('the tally of an ended window and the entry opening the next go in one write', async () => {
    const batches: string[][] = [];
    const clock = { now: 0 };
    const windows = createAccessWindows({
      now: () => clock.now,
      windowMs: 1_000,
      write: (p, events) => {
        batches.push(events.map((e) => `${p.deviceId} ${e.action} ${e.count}`));
        return Promise.resolve();
      },
    });
    await windows.record(A, [pull(2), pull(1, 'patient/lab-result')]);
    await windows.record(A, [pull(5)]);
    clock.now += 1_000;
    await windows.record(A, [pull(4)]);
    expect(batches).toEqual([
      ['dev-a pull 2', 'dev-a pull 1'],
      ['dev-a pull 5', 'dev-a pull 4'],
    ]);
    windows.stop();
    await windows.drain();
  });

  it('an opening that cannot be written keeps the tally of the window it ended for the next write', async () => {
    const s = setup();
    await s.windows.record(A, [pull()]);
    await s.windows.record(A, [pull(6)]);
    s.clock.now += 60_000;
    s.failWrites(1);
    await expect(s.windows.record(A, [pull(2)])).rejects.toThrow('store unavailable');
    expect(s.log).toEqual(['dev-a pull patient/allergy 3']);
    await s.windows.record(A, [pull(1)]);
    expect(s.log).toEqual([
      'dev-a pull patient/allergy 3',
      'dev-a pull patient/allergy 6',
      'dev-a pull patient/allergy 1',
    ]);
  });

  it('a tally carried after a failed write goes with the next end of the account, and accesses of no count are not logged', async () => {
    const s = setup();
    await s.windows.record(A, [pull()]);
    await s.windows.record(A, [pull(2)]);
    s.failWrites(1);
    await s.windows.endAccount('provider');
    expect(s.errors).toHaveLength(1);
    expect(String(s.errors[0])).toMatch(/2 repeated accesses of device dev-a are not in the audit log yet/);
    await s.windows.endAccount('provider');
    expect(s.log).toEqual(['dev-a pull patient/allergy 3', 'dev-a pull patient/allergy 2']);
    await s.windows.record(A, [pull(0)]);
    expect(s.log).toHaveLength(2);
    expect(s.windows.size()).toBe(0);
  });
});

describe('access windows: the guard of a write', () => {
  it('decides the streams of the batch it guards: a repeat written on its own is not refused for a stream already logged', async () => {
    const allergy = 'patient/allergy';
    const labs = 'patient/lab-result';
    const log: string[] = [];
    let hold: Promise<void> | null = null;
    const windows = createAccessWindows({
      now: () => 0,
      windowMs: 60_000,
      write: async (p, events, guardOf) => {
        if (hold) await hold;
        // Made and checked at the write, as the service's store write does inside its transaction.
        guardOf?.()?.check([], false);
        for (const e of events) log.push(`${p.deviceId} ${e.action} ${e.stream} ${e.count}`);
      },
    });
    // The service's guard decides the streams it is given; one given none (before WriteGuard took the
    // batch's streams) decided every stream its request served. Access to allergy ends after the first
    // write that logged it.
    let made = 0;
    const guard = (streams: readonly string[] = [allergy, labs]): AccessGuard => {
      const nth = ++made;
      return {
        granteeId: 'provider',
        patientIds: ['patient'],
        at: new Date(0).toISOString(),
        check: () => {
          if (nth > 1 && streams.includes(allergy)) throw new Error(`access to ${allergy} ended`);
        },
      };
    };
    await windows.record(A, [pull(1, labs)]);
    let release: () => void = () => undefined;
    hold = new Promise<void>((resolve) => (release = resolve));
    // allergy opens a window (written); labs is a repeat in its open window, which ends meanwhile, so it
    // is written on its own.
    const both = windows.record(A, [pull(2, allergy), pull(3, labs)], guard);
    windows.end(A, pull(3, labs));
    hold = null;
    release();
    await expect(both).resolves.toBeUndefined();
    expect(log).toEqual([`dev-a pull ${labs} 1`, `dev-a pull ${allergy} 2`, `dev-a pull ${labs} 3`]);
    expect(made).toBe(2);
  });
});

describe('access windows: a wall clock stepped back', () => {
  it('neither stretches a live window by the step nor holds its tally back for it', async () => {
    // The server's clock is Date.now, which NTP or an operator may step back. Live windows arm their end
    // at the first count, from the clock: an hour back made that timer an hour long, so the tally (and
    // the device's repeats) stayed out of the log, and in memory only, for the hour.
    const clock = { now: 1_000_000 };
    const log: string[] = [];
    const windows = createAccessWindows({
      now: () => clock.now,
      windowMs: 50,
      timer: 'at-first-count',
      write: (p, events) => {
        for (const e of events) log.push(`${p.deviceId} ${e.action} ${e.stream} ${e.count}`);
        return Promise.resolve();
      },
    });
    const page = { action: 'live', stream: 'patient/allergy', channel: 1, count: 2 } as const;
    await windows.record(A, [page]);
    clock.now -= 3_600_000;
    expect(windows.isOpen(A, page)).toBe(true);
    windows.count(A, page);
    // Real time passes; the clock, stepped back, has not come back yet.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(log).toEqual(['dev-a live patient/allergy 2', 'dev-a live patient/allergy 2']);
    // The next page opens a window of its own once the window's length has passed on the clock.
    await windows.record(A, [page]);
    clock.now += 50;
    expect(windows.isOpen(A, page)).toBe(false);
    windows.stop();
    await windows.drain();
  });
});
