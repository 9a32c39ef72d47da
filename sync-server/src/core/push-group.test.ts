// A push's rows sharing a `group` (one user action: a note's header and its text) are stored all or none,
// against a real server: a row refused by the server's checks (NOT_AUTHOR, for a client that skips its
// own) or meeting a newer version (a conflict, decided by the store) refuses the others GROUP_REFUSED and
// stores nothing of the group; the push's other rows are stored as ever.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUPPORTED_VERSIONS, type PushedFrame, type PushRow } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeDoc,
  makeGrant,
  outcomeOf,
  registerAccount,
  startServer,
  type TestServer,
  type WsClient,
} from '../testing/harness';

const versions = [...SUPPORTED_VERSIONS];

describe('push: a group is stored whole or not at all', () => {
  let t: TestServer;
  const open: WsClient[] = [];
  beforeEach(async () => {
    t = await startServer({ realClock: true });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    await t.stop();
  });
  const push = async (c: WsClient, rows: PushRow[]) =>
    (await c.request<PushedFrame>({ t: 'push', rid: c.rid(), rows })).results;

  const setup = async () => {
    const patient = await registerAccount(t);
    const clinician = await registerAccount(t, 'provider');
    const p = await connect(t, patient.device, { versions });
    open.push(p);
    const grant = await makeGrant(patient, clinician, [
      { type: 'note', access: 'write' },
      { type: 'allergy', access: 'write' },
    ]);
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    const c = await connect(t, clinician.device, { versions });
    open.push(c);
    const header = await makeDoc(patient, clinician.device, 'note', { title: 'Progress note' });
    expect((await push(c, [{ doc: header, assumedRev: null }])).map(outcomeOf)).toEqual(['ok']);
    return { patient, clinician, p, c, header };
  };

  it("a patient's rename of a clinician's note with a new text: NOT_AUTHOR and GROUP_REFUSED, nothing of it stored", async () => {
    const { patient, p, header } = await setup();
    const renamed = await makeDoc(
      patient,
      patient.device,
      'note',
      { title: 'renamed' },
      { id: header.id, rv: 2 },
    );
    const version = await makeDoc(patient, patient.device, 'note', { text: 'mine' });
    const alone = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
    const results = await push(p, [
      { doc: version, assumedRev: null, group: 'rename1' },
      { doc: alone, assumedRev: null },
      { doc: renamed, assumedRev: header.rev, group: 'rename1' },
    ]);
    expect(results.map(outcomeOf)).toEqual(['GROUP_REFUSED', 'ok', 'NOT_AUTHOR']);
    expect(results[0]).toMatchObject({ message: expect.stringContaining(header.id) as unknown });
    expect(await t.store.docs.getDoc(version.stream, version.id)).toBeNull();
    expect((await t.store.docs.getDoc(header.stream, header.id))?.rev).toBe(header.rev);
    expect((await t.store.docs.getDoc(alone.stream, alone.id))?.rev).toBe(alone.rev);
    // Without the group, the version alone would have been stored: the refusal is the group's.
    expect((await push(p, [{ doc: version, assumedRev: null }])).map(outcomeOf)).toEqual(['ok']);
  });

  it("the author's header meeting a newer version: a conflict and GROUP_REFUSED, its text not stored; sent again on the stored version, both stored", async () => {
    const { patient, clinician, c, header } = await setup();
    const second = await addDevice(t, clinician);
    const c2 = await connect(t, second, { versions });
    open.push(c2);
    const meanwhile = await makeDoc(patient, second, 'note', { title: 'v2' }, { id: header.id, rv: 2 });
    expect((await push(c2, [{ doc: meanwhile, assumedRev: header.rev }])).map(outcomeOf)).toEqual(['ok']);
    const edit = await makeDoc(patient, clinician.device, 'note', { title: 'v2b' }, { id: header.id, rv: 2 });
    const version = await makeDoc(patient, clinician.device, 'note', { text: 'text 2' });
    const rows: PushRow[] = [
      { doc: edit, assumedRev: header.rev, group: 'edit1' },
      { doc: version, assumedRev: null, group: 'edit1' },
    ];
    const results = await push(c, rows);
    expect(results.map(outcomeOf)).toEqual(['conflict', 'GROUP_REFUSED']);
    expect(await t.store.docs.getDoc(version.stream, version.id)).toBeNull();
    const merged = await makeDoc(
      patient,
      clinician.device,
      'note',
      { title: 'v3' },
      { id: header.id, rv: 3 },
    );
    const again = await push(c, [
      { doc: merged, assumedRev: meanwhile.rev, group: 'edit2' },
      { doc: version, assumedRev: null, group: 'edit2' },
    ]);
    expect(again.map(outcomeOf)).toEqual(['ok', 'ok']);
    // A retry whose answer was lost: both answered ok again, nothing stored twice.
    const retried = await push(c, [
      { doc: merged, assumedRev: meanwhile.rev, group: 'edit2' },
      { doc: version, assumedRev: null, group: 'edit2' },
    ]);
    expect(retried.map(outcomeOf)).toEqual(['ok', 'ok']);
  });
});
