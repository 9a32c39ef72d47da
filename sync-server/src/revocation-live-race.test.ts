// A row committed after a revocation committed never reaches the grantee it cut off, whatever is still
// in flight when the revocation commits: the hub's reload of the grantee's grants (held here), a reload
// that read the grants before the commit and returns after it, a live page being read, or a pull that
// loaded its grants before the commit. Store calls are wrapped to hold each step at the exact point.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccessChangedFrame, PulledFrame, PushDoc, ServerFrame, SignedGrant } from '@hale/protocol';
import {
  addDevice,
  connect,
  frameWithin,
  makeDoc,
  makeGrant,
  makeRevocation,
  registerAccount,
  startServer,
  streamOf,
  type TestAccount,
  type TestDevice,
  type TestServer,
  type WsClient,
} from './testing/harness';
import { StoreError } from './store/index';

const isAccessChanged = (f: ServerFrame): f is AccessChangedFrame => f.t === 'accessChanged';
const delivers = (id: string) => (f: ServerFrame) => f.t === 'changes' && f.docs.some((d) => d.id === id);

/** A step held until `open()`; `entered` resolves once something reached it. */
const gate = () => {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  return { open, opened, entered, reached };
};

describe('rows committed after a revocation are not delivered', () => {
  let t: TestServer;
  let patient: TestAccount;
  let provider: TestAccount;
  let second: TestDevice;
  let p: WsClient;
  let p2: WsClient;
  let d: WsClient;
  let grant: SignedGrant;
  let committed: Promise<void>;
  const allergy = () => streamOf(patient.accountId, 'allergy');

  const push = async (client: WsClient, device: TestDevice, title: string): Promise<PushDoc> => {
    const doc = await makeDoc(patient, device, 'allergy', { title });
    const r = await client.request({ t: 'push', rid: client.rid(), rows: [{ doc, assumedRev: null }] });
    expect(r).toMatchObject({ t: 'pushed', results: [{ status: 'ok' }] });
    return doc;
  };
  const revoke = async (of: SignedGrant = grant) =>
    p.request({ t: 'revoke', rid: p.rid(), revocation: await makeRevocation(patient, of.grant.grantId) });

  beforeEach(async () => {
    t = await startServer();
    patient = await registerAccount(t);
    provider = await registerAccount(t, 'provider');
    second = await addDevice(t, patient);
    p = await connect(t, patient.device);
    p2 = await connect(t, second);
    d = await connect(t, provider.device);
    grant = await makeGrant(
      patient,
      provider,
      [
        { type: 'allergy', access: 'read' },
        { type: 'medication', access: 'read' },
      ],
      { now: t.clock.now },
    );
    expect((await p.request({ t: 'grant', rid: p.rid(), grant })).t).toBe('ok');
    await d.waitFor(isAccessChanged);
    // Resolves once the revocation of any grant is in the store (the wrapper keeps the store's answer).
    const grants = t.store.grants;
    const originalRevoke = grants.revoke.bind(grants);
    let signal!: () => void;
    committed = new Promise<void>((resolve) => (signal = resolve));
    grants.revoke = async (...args) => {
      const out = await originalRevoke(...args);
      signal();
      return out;
    };
  });
  afterEach(async () => {
    for (const c of [p, p2, d]) c.ws.terminate();
    await t.stop();
  });

  /**
   * Holds the provider's reads of its grants from named patients (`listUnendedFrom`: the hub's reload after
   * a change, a subscribe, a pull): the `n`th such read (1-based) reads the store at once and returns only
   * once its gate opens; the others pass.
   */
  const holdGrantReads = (...gates: Array<ReturnType<typeof gate> | null>) => {
    const grants = t.store.grants;
    const original = grants.listUnendedFrom.bind(grants);
    let n = 0;
    grants.listUnendedFrom = async (granteeId, patientIds, now) => {
      const out = await original(granteeId, patientIds, now);
      if (granteeId !== provider.accountId) return out;
      const g = gates[n++];
      if (g) {
        g.entered();
        await g.opened;
      }
      return out;
    };
  };

  const subscribeAllergy = async () => {
    const ok = await d.request({ t: 'subscribe', rid: d.rid(), streams: [{ stream: allergy(), since: 0 }] });
    expect(ok.t).toBe('ok');
    const first = await push(p, patient.device, 'before');
    expect(await frameWithin(d, delivers(first.id), 2000)).toBe(true);
  };

  it('while the hub reloads the grantee’s grants', async () => {
    await subscribeAllergy();
    const reload = gate();
    holdGrantReads(reload);
    const revoking = revoke();
    await committed;
    await reload.reached;
    const after = await push(p2, second, 'after the revocation committed');
    const leaked = await frameWithin(d, delivers(after.id), 500);
    reload.open();
    expect((await revoking).t).toBe('ok');
    expect(leaked).toBe(false);
    expect(await frameWithin(d, delivers(after.id), 300)).toBe(false);
  });

  it('while a reload that read the grants before the commit is still returning', async () => {
    await subscribeAllergy();
    // The provider subscribes to another stream of the patient: that reload reads the grants now (the
    // revocation not yet stored) and returns only after the revocation committed.
    const stale = gate();
    const reload = gate();
    holdGrantReads(stale, reload);
    const subscribing = d.request({
      t: 'subscribe',
      rid: d.rid(),
      streams: [{ stream: streamOf(patient.accountId, 'medication'), since: 0 }],
    });
    await stale.reached;
    const revoking = revoke();
    await committed;
    stale.open();
    await subscribing;
    // The reload the revocation queued behind that subscribe is reading now, and held.
    await reload.reached;
    const after = await push(p2, second, 'after the revocation committed');
    const leaked = await frameWithin(d, delivers(after.id), 500);
    reload.open();
    expect((await revoking).t).toBe('ok');
    expect(leaked).toBe(false);
  });

  it('while a live page of the stream is being read', async () => {
    await subscribeAllergy();
    // The next live read of the stream waits, and reads the store only once let go.
    const docs = t.store.docs;
    const originalRead = docs.readDocs.bind(docs);
    const read = gate();
    let held = false;
    docs.readDocs = async (stream, since, limit, maxBytes) => {
      if (!held && stream === allergy()) {
        held = true;
        read.entered();
        await read.opened;
      }
      return originalRead(stream, since, limit, maxBytes);
    };
    const before = await push(p, patient.device, 'committed before the revocation');
    await read.reached;
    const reload = gate();
    holdGrantReads(reload);
    const revoking = revoke();
    await committed;
    const after = await push(p2, second, 'after the revocation committed');
    read.open();
    const leaked = await frameWithin(d, delivers(after.id), 500);
    reload.open();
    expect((await revoking).t).toBe('ok');
    expect(leaked).toBe(false);
    expect(d.unsolicited.some(delivers(before.id))).toBe(false);
  });

  it('but a revocation whose commit failed leaves live delivery as it was', async () => {
    await subscribeAllergy();
    t.store.grants.revoke = () => Promise.reject(new StoreError('UNAVAILABLE', 'the disk went away'));
    expect(await revoke()).toMatchObject({ t: 'error', code: 'UNAVAILABLE' });
    const after = await push(p2, second, 'after the failed revocation');
    expect(await frameWithin(d, delivers(after.id), 2000)).toBe(true);
  });

  /**
   * A pull of the allergy stream (one row stored before) whose grants are loaded, then held while `revoked`
   * is revoked and another row is pushed after that commit; answers both rows and the pull's answer.
   */
  const pullAcross = async (revoked: SignedGrant, note: string) => {
    const first = await push(p, patient.device, 'before');
    const loaded = gate();
    holdGrantReads(loaded);
    const pulling = d.request<PulledFrame>({
      t: 'pull',
      rid: d.rid(),
      streams: [{ stream: allergy(), since: 0 }],
      limit: 100,
      maxBytes: 1 << 20,
    });
    await loaded.reached;
    expect((await revoke(revoked)).t).toBe('ok');
    const after = await push(p2, second, note);
    loaded.open();
    return { first, after, pulled: await pulling };
  };

  it('in a pull that loaded its grants before the commit', async () => {
    const { first, after, pulled } = await pullAcross(grant, 'after the revocation committed');
    expect(pulled.t).toBe('pulled');
    expect(pulled.docs.map((doc) => doc.id)).not.toContain(after.id);
    expect(pulled.docs.map((doc) => doc.id)).not.toContain(first.id);
    expect(pulled.denied).toEqual([{ stream: allergy(), code: 'CONSENT_REVOKED' }]);
    expect(pulled.streams).toEqual([]);
  });

  it('but a pull whose grant another revocation left alone is answered in full', async () => {
    const other = await registerAccount(t, 'provider');
    const otherGrant = await makeGrant(patient, other, [{ type: 'allergy', access: 'read' }], {
      now: t.clock.now,
    });
    expect((await p.request({ t: 'grant', rid: p.rid(), grant: otherGrant })).t).toBe('ok');
    const { first, after, pulled } = await pullAcross(otherGrant, 'after the other revocation');
    expect(pulled.denied).toEqual([]);
    expect(pulled.docs.map((doc) => doc.id)).toEqual([first.id, after.id]);
  });
});
