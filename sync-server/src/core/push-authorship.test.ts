// Who may change a record, as the server judges it from what it holds in clear (the record's creator, the
// stream's type and patient): raw pushes that skip the client's own check, against a real server.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUPPORTED_VERSIONS, type PushDoc, type PushedFrame } from '@hale/protocol';
import {
  addDevice,
  connect,
  makeDoc,
  makeGrant,
  outcomeOf,
  registerAccount,
  startServer,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from '../testing/harness';

const versions = [...SUPPORTED_VERSIONS];

describe("push: only a record's author changes it, where the server can judge", () => {
  let t: TestServer;
  const open: WsClient[] = [];
  beforeEach(async () => {
    t = await startServer({ realClock: true });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    await t.stop();
  });
  const as = async (device: TestDevice): Promise<WsClient> => {
    const c = await connect(t, device, { versions });
    open.push(c);
    return c;
  };
  /** Pushes `doc` over `c` on top of `assumedRev`; answers `ok` or the refusal's code. */
  const push = async (c: WsClient, doc: PushDoc, assumedRev: string | null): Promise<string> =>
    outcomeOf(
      (await c.request<PushedFrame>({ t: 'push', rid: c.rid(), rows: [{ doc, assumedRev }] })).results[0]!,
    );

  const setup = async () => {
    const patient = await registerAccount(t);
    const clinician = await registerAccount(t, 'provider');
    const other = await registerAccount(t, 'provider');
    const p = await as(patient.device);
    for (const grantee of [clinician, other]) {
      const grant = await makeGrant(patient, grantee, [
        { type: 'note', access: 'write' },
        { type: 'lab-result', access: 'write' },
        { type: 'encounter', access: 'write' },
        { type: 'treatment-plan', access: 'write' },
        { type: 'allergy', access: 'write' },
        { type: 'comment', access: 'write' },
      ]);
      expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    }
    return { patient, clinician, other, p, c: await as(clinician.device), o: await as(other.device) };
  };

  /** `who` writes version `rv` (2 unless given) of `first` (a record of `type`), or deletes it. */
  const over = (
    patient: TestAccount,
    who: TestDevice,
    type: string,
    first: PushDoc,
    deleted = false,
    rv = 2,
  ) => makeDoc(patient, who, type, { changed: true, rv }, { id: first.id, rv, deleted });

  for (const type of ['note', 'lab-result', 'encounter']) {
    it(`${type}: the patient and another clinician are refused NOT_AUTHOR (change and removal); the author and its other device may`, async () => {
      const { patient, clinician, other, p, c, o } = await setup();
      const first = await makeDoc(patient, clinician.device, type, { title: 'v1' });
      expect(await push(c, first, null)).toBe('ok');
      for (const deleted of [false, true]) {
        expect(await push(p, await over(patient, patient.device, type, first, deleted), first.rev)).toBe(
          'NOT_AUTHOR',
        );
        expect(await push(o, await over(patient, other.device, type, first, deleted), first.rev)).toBe(
          'NOT_AUTHOR',
        );
      }
      expect((await t.store.docs.getDoc(first.stream, first.id))?.rev).toBe(first.rev);
      const second = await addDevice(t, clinician);
      const s = await as(second);
      expect(await push(s, await over(patient, second, type, first), first.rev)).toBe('ok');
    });
  }

  it('lab-result the patient entered: a clinician with write access may change it, then the patient again', async () => {
    const { patient, clinician, other, p, c, o } = await setup();
    const first = await makeDoc(patient, patient.device, 'lab-result', { testName: 'imported' });
    expect(await push(p, first, null)).toBe('ok');
    const byClinician = await over(patient, clinician.device, 'lab-result', first);
    expect(await push(c, byClinician, first.rev)).toBe('ok');
    // The record stays the patient's, whoever wrote its latest version.
    const byPatient = await over(patient, patient.device, 'lab-result', first, false, 3);
    expect(await push(p, byPatient, byClinician.rev)).toBe('ok');
    const byOther = await over(patient, other.device, 'lab-result', first, false, 4);
    expect(await push(o, byOther, byPatient.rev)).toBe('ok');
    expect(await t.store.docs.getDoc(first.stream, first.id)).toMatchObject({
      rev: byOther.rev,
      author: other.device.deviceId,
      creator: patient.accountId,
    });
  });

  it('a clinician-created note stays refused to the patient after its author changed it from another device', async () => {
    const { patient, clinician, p, c } = await setup();
    const first = await makeDoc(patient, clinician.device, 'note', { title: 'v1' });
    expect(await push(c, first, null)).toBe('ok');
    const second = await addDevice(t, clinician);
    const v2 = await over(patient, second, 'note', first);
    expect(await push(await as(second), v2, first.rev)).toBe('ok');
    expect(await push(p, await over(patient, patient.device, 'note', first, true, 3), v2.rev)).toBe(
      'NOT_AUTHOR',
    );
    expect(await push(c, await over(patient, clinician.device, 'note', first, true, 3), v2.rev)).toBe('ok');
  });

  it("treatment-plan: the patient may write (its acknowledgement), another clinician may not, even after the patient's version", async () => {
    const { patient, clinician, other, p, c, o } = await setup();
    const first = await makeDoc(patient, clinician.device, 'treatment-plan', { summary: 'v1' });
    expect(await push(c, first, null)).toBe('ok');
    expect(await push(o, await over(patient, other.device, 'treatment-plan', first), first.rev)).toBe(
      'NOT_AUTHOR',
    );
    const acknowledged = await over(patient, patient.device, 'treatment-plan', first);
    expect(await push(p, acknowledged, first.rev)).toBe('ok');
    // The stored version is the patient's now; the plan is still the clinician's.
    expect(
      await push(o, await over(patient, other.device, 'treatment-plan', first, false, 3), acknowledged.rev),
    ).toBe('NOT_AUTHOR');
    const revised = await over(patient, clinician.device, 'treatment-plan', first, false, 3);
    expect(await push(c, revised, acknowledged.rev)).toBe('ok');
  });

  it('treatment-plan the patient created: open to every account with write access', async () => {
    const { patient, clinician, other, p, c, o } = await setup();
    const first = await makeDoc(patient, patient.device, 'treatment-plan', { summary: 'mine' });
    expect(await push(p, first, null)).toBe('ok');
    const v2 = await over(patient, clinician.device, 'treatment-plan', first);
    expect(await push(c, v2, first.rev)).toBe('ok');
    const v3 = await over(patient, other.device, 'treatment-plan', first, false, 3);
    expect(await push(o, v3, v2.rev)).toBe('ok');
    expect(await push(p, await over(patient, patient.device, 'treatment-plan', first, true, 4), v3.rev)).toBe(
      'ok',
    );
  });

  it("comment: the patient's own is refused to a clinician with write access; a clinician's to the patient", async () => {
    const { patient, clinician, p, c } = await setup();
    const mine = await makeDoc(patient, patient.device, 'comment', { text: 'mine' });
    expect(await push(p, mine, null)).toBe('ok');
    for (const deleted of [false, true])
      expect(await push(c, await over(patient, clinician.device, 'comment', mine, deleted), mine.rev)).toBe(
        'NOT_AUTHOR',
      );
    expect(await push(p, await over(patient, patient.device, 'comment', mine), mine.rev)).toBe('ok');
    const theirs = await makeDoc(patient, clinician.device, 'comment', { text: 'theirs' });
    expect(await push(c, theirs, null)).toBe('ok');
    expect(await push(p, await over(patient, patient.device, 'comment', theirs), theirs.rev)).toBe(
      'NOT_AUTHOR',
    );
  });

  it('a shared kind (allergy) stays open to every account with write access', async () => {
    const { patient, other, p, o } = await setup();
    const first = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
    expect(await push(p, first, null)).toBe('ok');
    expect(await push(o, await over(patient, other.device, 'allergy', first), first.rev)).toBe('ok');
  });
});
