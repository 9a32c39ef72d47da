// Who may change a record, as the server judges it from what it holds in clear (the account of the stored
// version's device, the stream type): raw pushes that skip the client's own check, against a real server.
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
      ]);
      expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    }
    return { patient, clinician, other, p, c: await as(clinician.device), o: await as(other.device) };
  };

  /** `who` writes version 2 of `first` (a record of `type` pushed by `author`), or deletes it. */
  const over = (patient: TestAccount, who: TestDevice, type: string, first: PushDoc, deleted = false) =>
    makeDoc(patient, who, type, { changed: true }, { id: first.id, rv: 2, deleted });

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

  it("lab-result the patient entered: a clinician's change is refused; the patient's own passes", async () => {
    const { patient, clinician, p, c } = await setup();
    const first = await makeDoc(patient, patient.device, 'lab-result', { testName: 'imported' });
    expect(await push(p, first, null)).toBe('ok');
    expect(await push(c, await over(patient, clinician.device, 'lab-result', first), first.rev)).toBe(
      'NOT_AUTHOR',
    );
    expect(await push(p, await over(patient, patient.device, 'lab-result', first), first.rev)).toBe('ok');
  });

  it('treatment-plan: the patient may write (its acknowledgement), another clinician may not', async () => {
    const { patient, clinician, other, p, c, o } = await setup();
    const first = await makeDoc(patient, clinician.device, 'treatment-plan', { summary: 'v1' });
    expect(await push(c, first, null)).toBe('ok');
    expect(await push(o, await over(patient, other.device, 'treatment-plan', first), first.rev)).toBe(
      'NOT_AUTHOR',
    );
    const acknowledged = await over(patient, patient.device, 'treatment-plan', first);
    expect(await push(p, acknowledged, first.rev)).toBe('ok');
  });

  it('a shared kind (allergy) stays open to every account with write access', async () => {
    const { patient, other, p, o } = await setup();
    const first = await makeDoc(patient, patient.device, 'allergy', { substance: 'peanut' });
    expect(await push(p, first, null)).toBe('ok');
    expect(await push(o, await over(patient, other.device, 'allergy', first), first.rev)).toBe('ok');
  });
});
