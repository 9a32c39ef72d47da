// A device killed between two of the audit log's metadata writes must, at its next start, append every
// record change noted once: never again (a second `records-changed` entry listing it), never dropped. The
// meta store writes one key at a time, so each crash point below leaves what a killed process would.
// Crash orders considered (an entry's append writes the chain position, then the outbox row, then OWN;
// the noted mirror is saved after each note, the note resolving once it is, and after the append):
// - right after a note resolved (the records API resolves its write then), at the next write of anything:
//   the next start appends it, also for a burst of notes awaited one after another with no macrotask
//   between them (a save a macrotask later lost the whole burst);
// - after the mirror's save of the burst, before the chain position moves: nothing appended, the next start
//   appends the changes;
// - after the chain position, before the outbox row: the entry is lost (a gap, reported elsewhere), the
//   next start appends the changes;
// - after the outbox row, before OWN; after OWN, before the mirror's save: the entry is queued, the next
//   start must not append the changes again (the defect);
// - the entry pushed and acknowledged (it left the outbox) before the mirror's save: likewise;
// - after the mirror's save that follows the append: nothing left to append;
// - a start appending what an earlier run left noted (after a crash, a close while locked) killed right
//   after that entry's outbox row: the start after it appends nothing again.
// And the device's sign-in entry: appended, then the session's `signed-in` flag not saved (a crash): the
// next start asks for a sign-in entry again, and must get the one queued.
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import type { PushDoc } from '@hale/protocol';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';
import { openAuditBody } from './audit-chain';
import { memoryMeta, providerAudit } from './audit-log.test-util';

/**
 * Device metadata in memory, kept across crashes. Each `run()` is one run of the app over what is stored:
 * once its `crash()` ran (or its `crashAfter` matched a write it stored), none of its writes completes, as a
 * killed process's never do; `hold` keeps its matching writes waiting until its crash (never stored).
 */
const crashableDisk = () => {
  const raw = new Map<string, unknown>();
  const run = () => {
    const writes: string[] = [];
    let crashed = false;
    let crashedNow = (): void => undefined;
    const crash$ = new Promise<void>((resolve) => (crashedNow = resolve));
    let after: ((key: string, n: number) => boolean) | null = null;
    let held: ((key: string) => boolean) | null = null;
    const crash = (): void => {
      crashed = true;
      crashedNow();
    };
    const never = new Promise<never>(() => undefined);
    const meta = createDeviceMeta({
      read: async (key) => structuredClone(raw.get(key)),
      write: async (key, value) => {
        if (!crashed && held?.(key) === true) await crash$;
        if (crashed) return never;
        raw.set(key, structuredClone(value));
        writes.push(key);
        if (after?.(key, writes.filter((k) => k === key).length) === true) crash();
      },
      remove: async (keys) => {
        if (crashed) return never;
        for (const key of keys) raw.delete(key);
      },
    });
    return {
      meta,
      /** The process dies once a write `match` answers for (the key, its count of writes) is stored. */
      crashAfter: (match: (key: string, n: number) => boolean): void => void (after = match),
      hold: (match: (key: string) => boolean): void => void (held = match),
      crash,
      crashed: (): boolean => crashed,
      /** The keys of the writes stored, in order. */
      writes,
    };
  };
  return { run };
};

const NOTED = 'audit-noted-changes';
const change = (n: number) => ({
  action: 'update' as const,
  kind: 'Allergy',
  id: `01J00000000000000000000${n}00`,
});
const until = async (done: () => boolean, what: string): Promise<void> => {
  for (const end = Date.now() + 5_000; !done(); await new Promise((r) => setTimeout(r, 2)))
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
};

/** A provider device over crashable metadata, noting changes for one patient, offline unless told. */
const setup = () => {
  const disk = crashableDisk();
  const first = disk.run();
  const f = providerAudit({ meta: first.meta });
  const patient = f.patients[0]!;
  /** The changes every `records-changed` entry of `docs` lists, by record id, in order. */
  const listed = (docs: readonly PushDoc[]): string[] =>
    docs.flatMap((d) => {
      const body = openAuditBody(d, patient.wrapping);
      return body?.kind === 'AuditEntry' && body.action === 'records-changed'
        ? (body.changes ?? []).map((c) => c.id)
        : [];
    });
  return { disk, first, f, patient: patient.accountId, listed };
};

/** Every row of `meta`'s outbox. */
const outboxOf = async (meta: DeviceMeta): Promise<PushDoc[]> =>
  ((await meta.get('audit-outbox', Type.Array(Type.Any()))) ?? []) as PushDoc[];

describe('audit: a crash right after a note resolved', () => {
  it('a burst of notes each awaited, killed at the next write: the next start lists every change once', async () => {
    const { disk, first, f, patient, listed } = setup();
    f.server.setOnline(false);
    const log = f.open();
    // As the records API awaits each write: no macrotask between these notes, and none before the crash.
    for (const n of [1, 2, 3]) await log.noteRecordChange(patient, change(n));
    first.crash();

    const again = f.open({ meta: disk.run().meta });
    await again.resumeNoted();
    expect(again.issues()).toEqual([]);
    f.server.setOnline(true);
    await again.flush();
    expect(listed(f.server.served(`${patient}/audit`))).toEqual([1, 2, 3].map((n) => change(n).id));
  });

  it('notes made together share one save, which holds them all', async () => {
    const { first, f, patient } = setup();
    f.server.setOnline(false);
    const log = f.open();
    await Promise.all([1, 2, 3, 4].map((n) => log.noteRecordChange(patient, change(n))));
    expect(first.writes.filter((k) => k === NOTED)).toHaveLength(1);
    const noted = (await first.meta.get(NOTED, Type.Any())) as { batches: { changes: { id: string }[] }[] };
    expect(noted.batches.flatMap((b) => b.changes.map((c) => c.id))).toEqual(
      [1, 2, 3, 4].map((n) => change(n).id),
    );
  });

  it('a save that fails: the note still resolves, reported once, and the change is appended as usual', async () => {
    const memory = memoryMeta();
    const f = providerAudit({ meta: memory.meta });
    const patient = f.patients[0]!;
    const log = f.open();
    memory.failNextWrite(NOTED);
    await log.noteRecordChange(patient.accountId, change(1));
    expect(log.issues().filter((i) => i.startsWith('AUDIT_NOT_KEPT'))).toHaveLength(1);
    await log.flushChanges();
    expect(await log.pendingCount()).toBe(0);
    const listed = f.server.served(`${patient.accountId}/audit`).flatMap((d) => {
      const body = openAuditBody(d, patient.wrapping);
      return body?.kind === 'AuditEntry' ? (body.changes ?? []).map((c) => c.id) : [];
    });
    expect(listed).toEqual([change(1).id]);
  });
});

describe('audit: a crash around the append of noted record changes', () => {
  const points = [
    { at: "the mirror's save of the burst", crashAfter: (k: string, n: number) => k === NOTED && n === 1 },
    { at: 'the chain position', crashAfter: (k: string) => k.startsWith('audit-chain:') },
    { at: 'the outbox row', crashAfter: (k: string) => k === 'audit-outbox' },
    { at: 'the list of own actions', crashAfter: (k: string) => k === 'audit-own' },
    {
      at: "the mirror's save after the append",
      crashAfter: (k: string, n: number) => k === NOTED && n === 2,
    },
  ];
  for (const point of points) {
    it(`right after ${point.at}: the next start lists each change once`, async () => {
      const { disk, first, f, patient, listed } = setup();
      f.server.setOnline(false);
      const log = f.open();
      first.crashAfter(point.crashAfter);
      void log.noteRecordChange(patient, change(1));
      void log.noteRecordChange(patient, change(2));
      // The burst's save of the mirror, then the append the 200 ms timer would make.
      await until(() => first.writes.includes(NOTED), 'the burst mirrored');
      void log.flushChanges().catch(() => undefined);
      await until(first.crashed, 'the crash');

      const again = f.open({ meta: disk.run().meta });
      await again.resumeNoted();
      expect(again.issues()).toEqual([]);
      f.server.setOnline(true);
      await again.flush();
      expect(await again.pendingCount()).toBe(0);
      expect(listed(f.server.served(`${patient}/audit`))).toEqual([change(1).id, change(2).id]);
    });
  }

  it('acknowledged (out of the outbox) before the mirror was saved: the next start appends nothing again', async () => {
    const { disk, first, f, patient, listed } = setup();
    const log = f.open();
    void log.noteRecordChange(patient, change(1));
    await until(() => first.writes.includes(NOTED), 'the burst mirrored');
    // The mirror's save after the append never lands; a flush pushes the entry meanwhile.
    first.hold((k) => k === NOTED);
    void log.flushChanges().catch(() => undefined);
    void log.flush();
    await until(() => f.server.served().length === 1, 'the entry stored');
    await until(() => first.writes.filter((k) => k === 'audit-outbox').length === 2, 'the row acknowledged');
    first.crash();

    const next = disk.run();
    expect(await outboxOf(next.meta)).toEqual([]);
    const again = f.open({ meta: next.meta });
    await again.resumeNoted();
    await again.flush();
    expect(await again.pendingCount()).toBe(0);
    expect(listed(f.server.served(`${patient}/audit`))).toEqual([change(1).id]);
  });

  it('noted again once the append was under way: those are appended at the next start, the appended ones not', async () => {
    const { disk, first, f, patient, listed } = setup();
    f.server.setOnline(false);
    const log = f.open();
    void log.noteRecordChange(patient, change(1));
    await until(() => first.writes.includes(NOTED), 'the burst mirrored');
    // The row is queued, OWN's write never lands; the change noted meanwhile is mirrored, then the crash.
    first.hold((k) => k === 'audit-own');
    first.crashAfter((k, n) => k === NOTED && n === 2);
    void log.flushChanges().catch(() => undefined);
    await until(() => first.writes.includes('audit-outbox'), 'the row queued');
    void log.noteRecordChange(patient, change(2));
    await until(first.crashed, 'the crash');

    const again = f.open({ meta: disk.run().meta });
    await again.resumeNoted();
    f.server.setOnline(true);
    await again.flush();
    expect(listed(f.server.served(`${patient}/audit`))).toEqual([change(1).id, change(2).id]);
  });

  it('a start that crashes while appending what an earlier one left: the one after lists each change once', async () => {
    const { disk, first, f, patient, listed } = setup();
    f.server.setOnline(false);
    const log = f.open();
    void log.noteRecordChange(patient, change(1));
    await until(() => first.writes.includes(NOTED), 'the burst mirrored');
    first.crash();

    const second = disk.run();
    second.crashAfter((k) => k === 'audit-outbox');
    void f.open({ meta: second.meta }).resumeNoted();
    await until(second.crashed, 'the second crash');

    const third = f.open({ meta: disk.run().meta });
    await third.resumeNoted();
    f.server.setOnline(true);
    await third.flush();
    expect(listed(f.server.served(`${patient}/audit`))).toEqual([change(1).id]);
  });
});

describe('audit: a crash while a start appends changes an earlier session left noted', () => {
  /** A third run over what two crashed ones left, online: the changes the patient's log lists. */
  const third = async (s: ReturnType<typeof setup>): Promise<string[]> => {
    const log = s.f.open({ meta: s.disk.run().meta });
    await log.resumeNoted();
    s.f.server.setOnline(true);
    await log.flush();
    return s.listed(s.f.server.served(`${s.patient}/audit`));
  };
  /** A second run that resumes what is noted and dies right after the entry's outbox row is stored. */
  const resumeAndCrash = async (s: ReturnType<typeof setup>): Promise<void> => {
    const second = s.disk.run();
    second.crashAfter((k) => k === 'audit-outbox');
    void s.f.open({ meta: second.meta }).resumeNoted();
    await until(second.crashed, 'the second crash');
  };

  it('changes kept at a close while locked: listed once', async () => {
    const s = setup();
    s.f.server.setOnline(false);
    let locked = false;
    const log = s.f.open({
      assertUnlocked: () => {
        if (locked) throw Object.assign(new Error('the account is locked'), { code: 'LOCKED' });
      },
    });
    void log.noteRecordChange(s.patient, change(1));
    locked = true;
    await log.close();
    await resumeAndCrash(s);
    expect(await third(s)).toEqual([change(1).id]);
  });
});

describe("audit: a crash between this device's sign-in entry and the session's note of it", () => {
  const signIn = { action: 'device-sign-in', summary: 'a device signed in to this account' };

  it('the next start gets the sign-in entry still queued, not a second one', async () => {
    const { disk, first, f } = setup();
    const own = f.provider.accountId;
    f.server.setOnline(false);
    const doc = await f.open().append(own, signIn);
    // Killed before session.ts saved `signed-in`: the next start asks for a sign-in entry again.
    first.crash();
    const again = f.open({ meta: disk.run().meta });
    expect((await again.append(own, signIn)).id).toBe(doc.id);
    expect(await again.pendingCount()).toBe(1);
    f.server.setOnline(true);
    await again.flush();
    expect(f.server.positions(`${own}/audit`)).toEqual([1]);
  });

  it("other actions, and sign-in entries in another account's log, are appended as before", async () => {
    const { f, patient } = setup();
    const own = f.provider.accountId;
    f.server.setOnline(false);
    const log = f.open();
    await log.append(own, signIn);
    await log.append(own, { action: 'export', count: 0 });
    await log.append(own, { action: 'export', count: 0 });
    await log.append(patient, signIn);
    await log.append(patient, signIn);
    expect(await log.pendingCount()).toBe(5);
  });
});
