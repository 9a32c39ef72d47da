// A grantee appends well-signed audit entries whose content the patient cannot open: the log still
// verifies, the access history names the account and device that wrote each and says what it means,
// and the grantee's later (readable) entries keep their place in its chain.
// - Every patient device judges such an entry alike, whenever it joined: `unreadable`, never `inserted`
//   (a device joined before the grant reads the grant list before calling its signer unknown).
// - One that cannot read the grant list shows `unverified`, never `inserted`, and its verification clears
//   once it learns the grant, with no reconnect and no refresh.
import { describe, expect, it } from 'vitest';
import type { AuditVerification, HaleSession, Platform, WebSocketLike } from '@hale/client';
import { makeAuditEntry, UNREADABLE_ENTRY_ACTION } from '@hale/client/advanced';
import { openHaleForTests } from '@hale/client/testing';
import { base64urlDecode, deriveAccountKeys, generateRootSecret } from '@hale/crypto';
import { nodePlatform } from '@hale/platform-node';
import type { TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { ed, getAccountFrom, patientWithAuditedGrant } from '../support/devices';
import {
  createdSession,
  joinedSession,
  online,
  PASSPHRASE,
  useHaleSessions,
  when,
} from '../client-api/hale-devices';
import { careDevice, type CareDevice } from './care-devices';

describe("a grantee's audit entries whose content the patient cannot read", () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('leave the log intact and are listed by who wrote them, with what they mean', async () => {
    const t = server.t;
    const { patient, provider, p, d } = await patientWithAuditedGrant(t, sessions);
    const acct = await getAccountFrom(t)(patient.accountId);
    const wrapping = base64urlDecode(acct.wrappingPublicKey);
    if (!wrapping.ok) throw new Error('wrapping key');
    const device = { deviceId: provider.device.keys.deviceId, secretKey: provider.device.keys.secretKey };
    const at = new Date().toISOString();
    const actor = { actorId: provider.accountId, actorDeviceId: device.deviceId, at };
    // Sealed to a key that is not the patient's: well signed by the provider's certified device, unreadable.
    const stranger = deriveAccountKeys(generateRootSecret());
    const unreadable = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: stranger.wrapping.publicKey,
      device,
      ed,
      now: Date.now,
      chain: { seq: 0, hash: null },
      body: { kind: 'AuditEntry', action: 'record-viewed', ...actor },
    });
    // The same device's next entry, readable and linked to the unreadable one.
    const readable = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: wrapping.value,
      device,
      ed,
      now: Date.now,
      chain: unreadable.chain,
      body: { kind: 'AuditEntry', action: 'record-viewed', summary: 'looked at the allergy list', ...actor },
    });
    const reply = await d.connection.request({
      t: 'push',
      rows: [
        { doc: unreadable.doc, assumedRev: null },
        { doc: readable.doc, assumedRev: null },
      ],
    });
    expect(reply).toMatchObject({ results: [{ status: 'ok' }, { status: 'ok' }] });

    const verification = await p.audit.verify();
    expect(verification.problems).toEqual([]);
    expect(verification.ok).toBe(true);
    expect(verification.unreadable).toEqual([
      expect.objectContaining({
        entryId: unreadable.doc.id,
        author: device.deviceId,
        authorAccountId: provider.accountId,
        authorSeq: 1,
      }),
    ]);
    expect(verification.unreadable?.[0]?.meaning).toContain(provider.accountId);
    expect(verification.unreadable?.[0]?.meaning).toMatch(/does not open with your key/);

    const who = await p.audit.whoAccessed();
    const named = who.filter((w) => w.unreadable === true);
    expect(named).toEqual([
      expect.objectContaining({
        source: 'grantee',
        actorId: provider.accountId,
        actorDeviceId: device.deviceId,
        action: UNREADABLE_ENTRY_ACTION,
      }),
    ]);
    expect(named[0]?.summary).toMatch(/says nothing that can be read/);
    // The readable entry after it is listed as the provider's claim, in its own words.
    expect(who).toContainEqual(
      expect.objectContaining({
        source: 'grantee',
        action: 'record-viewed',
        summary: 'looked at the allergy list',
      }),
    );
    // No disclosure is added or taken away by it.
    expect(await p.audit.disclosures()).toHaveLength(1);

    // Checked again (the view cache past what was verified), the answer is the same.
    expect((await p.audit.verify()).ok).toBe(true);
    expect((await p.audit.whoAccessed()).filter((w) => w.unreadable === true)).toHaveLength(1);
  });
});

/**
 * `nodePlatform()` whose socket answers `listGrants` itself, UNAVAILABLE, while `refusing` (the server is
 * never asked); `sockets` counts the sockets opened (a reconnect opens another).
 */
const grantListRefusing = () => {
  const base = nodePlatform();
  const state = { refusing: false, sockets: 0 };
  const createWebSocket = (url: string): WebSocketLike => {
    const inner = base.createWebSocket(url);
    state.sockets += 1;
    const outer: WebSocketLike = {
      get readyState() {
        return inner.readyState;
      },
      send(data: string) {
        const frame = ((): { t?: unknown; rid?: unknown } => {
          try {
            return JSON.parse(data) as { t?: unknown; rid?: unknown };
          } catch {
            return {};
          }
        })();
        if (!state.refusing || frame.t !== 'listGrants') return inner.send(data);
        const refusal = { t: 'error', rid: frame.rid, code: 'UNAVAILABLE', message: 'refused by the test' };
        setTimeout(() => outer.onmessage?.({ data: JSON.stringify(refusal) }), 0);
      },
      close: (code, reason) => inner.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    inner.onopen = (ev) => outer.onopen?.(ev);
    inner.onerror = (ev) => outer.onerror?.(ev);
    inner.onclose = (ev) => outer.onclose?.(ev);
    inner.onmessage = (ev) => outer.onmessage?.(ev);
    return outer;
  };
  const platform: Platform = { ...base, createWebSocket };
  return { platform, state };
};

/** `clinician`'s device signs an entry in `patientId`'s log sealed to a stranger's key, and pushes it. */
const pushUnreadable = async (t: TestServer, clinician: CareDevice, patientId: string) => {
  const acct = await getAccountFrom(t)(patientId);
  expect(base64urlDecode(acct.wrappingPublicKey).ok).toBe(true);
  const keys = clinician.account.device.keys;
  const entry = await makeAuditEntry({
    patientId,
    patientWrappingKey: deriveAccountKeys(generateRootSecret()).wrapping.publicKey,
    device: { deviceId: keys.deviceId, secretKey: keys.secretKey },
    ed,
    now: Date.now,
    chain: { seq: 0, hash: null },
    body: {
      kind: 'AuditEntry',
      action: 'record-viewed',
      actorId: clinician.account.accountId,
      actorDeviceId: keys.deviceId,
      at: new Date().toISOString(),
    },
  });
  const reply = await clinician.device.connection.request({
    t: 'push',
    rows: [{ doc: entry.doc, assumedRev: null }],
  });
  expect(reply).toMatchObject({ results: [{ status: 'ok' }] });
  return entry.doc.id;
};

/** The patient (on `first`) compares the clinician's key and grants it read access to allergies for a day. */
const grantRead = async (first: HaleSession, clinician: CareDevice): Promise<void> => {
  await first.consent.acceptInvite(clinician.hale.consent.invite());
  await first.consent.grant({
    granteeId: clinician.account.accountId,
    scope: [{ type: 'allergy', access: 'read' }],
    durationMs: 24 * 3_600_000,
    purpose: 'allergy review',
  });
};

/** Every verification `s` shows from now on, kept subscribed until `stop`. */
const shown = (s: HaleSession) => {
  const seen: AuditVerification[] = [];
  const stop = s.audit.verification.subscribe(() => {
    const v = s.audit.verification.get();
    if (v !== null) seen.push(v);
  });
  return { seen, stop };
};

const kinds = (v: AuditVerification | null) => (v?.problems ?? []).map((p) => p.kind);

/** `value`, which the wait before it made sure of. */
const present = <T>(value: T | null): T => {
  if (value === null) throw new Error('expected a value');
  return value;
};

describe("a read grantee's unreadable audit entry, on each of the patient's devices", () => {
  const server = useServer({ realClock: true });
  const haleSessions = useHaleSessions();

  it('is `unreadable` on every device, joined before the grant or after', async () => {
    const t = server.t;
    const { session: first, loginName } = await createdSession(t.url, haleSessions);
    const before = await joinedSession(t.url, haleSessions, loginName);
    const clinician = await careDevice(t, server.sessions, 'provider');
    await Promise.all([online(first), online(before)]);
    await grantRead(first, clinician);
    const after = await joinedSession(t.url, haleSessions, loginName);
    await online(after);
    const patientId = first.account.accountId;
    const entryId = await pushUnreadable(t, clinician, patientId);

    const devices = { first, before, after };
    const watched = Object.values(devices).map(shown);
    try {
      for (const [name, s] of Object.entries(devices)) {
        s.audit.refresh();
        const v = present(
          await when(
            s.audit.verification,
            (x) => x !== null && (x.problems.length > 0 || x.unreadable !== undefined),
            `${name}: the entry judged`,
          ),
        );
        expect({ name, problems: v.problems }).toEqual({ name, problems: [] });
        expect({ name, ok: v.ok }).toEqual({ name, ok: true });
        expect(v.unreadable).toEqual([
          expect.objectContaining({
            entryId,
            author: clinician.account.device.deviceId,
            authorAccountId: clinician.account.accountId,
          }),
        ]);
        const access = present(
          await when(
            s.audit.access,
            (a) => a?.records.some((r) => r.unreadable === true) === true,
            `${name}: the entry listed`,
          ),
        );
        expect(access.records.filter((a) => a.unreadable === true)).toEqual([
          expect.objectContaining({ action: UNREADABLE_ENTRY_ACTION, actorId: clinician.account.accountId }),
        ]);
      }
      // Never `inserted` on any device, at any read.
      for (const w of watched) expect(w.seen.flatMap(kinds)).not.toContain('inserted');
    } finally {
      for (const w of watched) w.stop();
    }
  });

  it('is never `inserted` on a device that cannot read the grant list, whose alarm clears once it learns the grant, with no reconnect', async () => {
    const t = server.t;
    const { session: first, loginName } = await createdSession(t.url, haleSessions);
    // Joined before the grant; reads the grant list every 200 ms, which the test refuses for a while.
    const net = grantListRefusing();
    const hale = await openHaleForTests(
      { server: t.url, platform: net.platform },
      { session: { grantRefreshMs: 200 } },
    );
    const before = await hale.join({ loginName, passphrase: PASSPHRASE, deviceName: 'before the grant' });
    haleSessions.push(before);
    const clinician = await careDevice(t, server.sessions, 'provider');
    await Promise.all([online(first), online(before)]);
    net.state.refusing = true;
    await grantRead(first, clinician);
    const after = await joinedSession(t.url, haleSessions, loginName);
    await online(after);
    const entryId = await pushUnreadable(t, clinician, first.account.accountId);
    const sockets = net.state.sockets;
    // The device joined after the grant knows it already.
    after.audit.refresh();
    const known = present(
      await when(after.audit.verification, (x) => x?.unreadable !== undefined, 'after: the entry judged'),
    );
    expect(known.problems).toEqual([]);

    const watched = shown(before);
    try {
      before.audit.refresh();
      const alarm = present(
        await when(
          before.audit.verification,
          (x) => x !== null && x.problems.length > 0,
          'the entry judged without the grant list',
        ),
      );
      // Its signer could not be looked up: not checked now, not called a forgery.
      expect(kinds(alarm)).toEqual(['unverified']);
      expect(alarm.problems[0]?.entryId).toBe(entryId);

      // The list reads again: the device's own refresh learns the grant, and what it shows clears by
      // itself (no refresh asked, no reconnect).
      net.state.refusing = false;
      const cleared = present(
        await when(before.audit.verification, (x) => x !== null && x.ok, 'the alarm cleared', 10_000),
      );
      expect(cleared.problems).toEqual([]);
      expect(cleared.unreadable?.map((u) => u.entryId)).toEqual([entryId]);
      expect(net.state.sockets).toBe(sockets);
      expect(watched.seen.flatMap(kinds)).not.toContain('inserted');
    } finally {
      watched.stop();
    }
  });
});
