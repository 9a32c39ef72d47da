import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  chainLinkHash,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  type AccountKeys,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  auditSignaturePayload,
  type AuditChainEnd,
  type PullFrame,
  type PushDoc,
  type PushFrame,
  type PushResult,
  type ServedDoc,
} from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { createDeviceMeta } from '../store/device-meta';
import { createAuditLog, patientKeyName } from './audit-log';
import { verifyAuditLog } from './audit-chain';

const ed = createNodeEd25519();
const AT = '2026-01-01T00:00:00.000Z';

const linkOf = (d: PushDoc): string => {
  const sig = base64urlDecode(d.sig ?? '');
  if (!sig.ok || d.audit === undefined) throw new Error('no signed audit entry');
  return chainLinkHash(auditSignaturePayload({ ...d, audit: d.audit }), sig.value);
};

/**
 * What the server answers about the device's chain end on a position-taken refusal: the truth, nothing
 * (an older server), or a lie of its choosing.
 */
type EndAnswer = 'honest' | 'none' | ((honest: AuditChainEnd) => AuditChainEnd);

/**
 * A device appending to a log (its account's own when `own`, else a patient's it cannot read) against a
 * server that stores what it takes, acknowledges a re-push of a stored entry, and refuses a new entry at a
 * position the device already holds APPEND_ONLY with the later rows of its stream, as the sync service
 * does, naming the chain end as `answer` says. `open` gives a device with its own copy of device meta, or
 * the one of an earlier `open` (`meta`), as a device restored from a backup has.
 */
const setup = (options: { own?: boolean } = {}) => {
  const account = deriveAccountKeys(generateRootSecret());
  const patient: AccountKeys = options.own ? account : deriveAccountKeys(generateRootSecret());
  const device = generateDeviceKeys();
  const stream = `${patient.accountId}/audit`;
  const stored: PushDoc[] = [];
  const pushed: PushDoc[] = [];
  let answer: EndAnswer = 'honest';
  let unanswered = false;
  const endOf = (author: string): AuditChainEnd | undefined => {
    const last = stored.filter((d) => d.stream === stream && d.author === author).at(-1);
    return last?.audit === undefined
      ? undefined
      : { authorSeq: last.audit.authorSeq, linkHash: linkOf(last) };
  };
  const connection = {
    status: () => 'ready' as const,
    async request(frame: PushFrame | PullFrame) {
      if (frame.t === 'pull') {
        if (!options.own) {
          return {
            t: 'pulled',
            rid: 1,
            docs: [],
            streams: [],
            denied: frame.streams.map((s) => ({ stream: s.stream, code: 'FORBIDDEN' })),
          };
        }
        const docs = stored.map((d, i): ServedDoc => ({ ...d, seq: i + 1, at: AT }));
        return {
          t: 'pulled',
          rid: 1,
          docs,
          streams: [{ stream, checkpoint: docs.length, done: true }],
          denied: [],
        };
      }
      if (unanswered) {
        unanswered = false;
        pushed.push(...frame.rows.map((r) => r.doc));
        throw new Error('connection lost before the answer');
      }
      const refusedStreams = new Set<string>();
      const results: PushResult[] = frame.rows.map(({ doc }) => {
        pushed.push(doc);
        const refuse = (message: string, chainEnd?: AuditChainEnd): PushResult => ({
          status: 'error',
          stream: doc.stream,
          id: doc.id,
          code: 'APPEND_ONLY',
          message,
          ...(chainEnd === undefined ? {} : { chainEnd }),
        });
        if (refusedStreams.has(doc.stream)) return refuse('an earlier entry of this chain was refused');
        const same = stored.find((s) => s.id === doc.id);
        if (same !== undefined && same.sig === doc.sig)
          return {
            status: 'ok',
            stream: doc.stream,
            id: doc.id,
            rev: doc.rev,
            seq: stored.indexOf(same) + 1,
          };
        const taken = stored.some(
          (s) =>
            s.stream === doc.stream && s.author === doc.author && s.audit?.authorSeq === doc.audit?.authorSeq,
        );
        if (same !== undefined || taken) {
          refusedStreams.add(doc.stream);
          const honest = endOf(doc.author);
          const told =
            honest === undefined || answer === 'none'
              ? undefined
              : answer === 'honest'
                ? honest
                : answer(honest);
          return refuse('position held', told);
        }
        stored.push(doc);
        return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.length };
      });
      return { t: 'pushed', rid: 1, results };
    },
  } as unknown as Connection;
  const directory = {
    wrappingKey: async (accountId: string) =>
      accountId === patient.accountId ? patient.wrapping.publicKey : null,
  } as unknown as DeviceDirectory;
  const newMeta = () => {
    const raw = new Map<string, unknown>();
    const meta = createDeviceMeta({
      read: async (key) => structuredClone(raw.get(key)),
      write: async (key, value) => void raw.set(key, structuredClone(value)),
    });
    return { raw, meta };
  };
  const open = (copy: ReturnType<typeof newMeta> = newMeta()) => {
    const log = createAuditLog({
      accountId: account.accountId,
      keys: account,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed,
      now: () => Date.parse(AT),
      connection,
      directory,
      meta: copy.meta,
      serverKey: async () => null,
    });
    return { log, ...copy };
  };
  return {
    open,
    patientId: patient.accountId,
    chainKey: patientKeyName(account.localKey, 'audit-chain', patient.accountId),
    /** The link hash of this device's stored entry at `position`. */
    linkAt: (position: number): string => {
      const at = stored.find((d) => d.author === device.deviceId && d.audit?.authorSeq === position);
      if (at === undefined) throw new Error(`nothing stored at ${position}`);
      return linkOf(at);
    },
    /** This device's positions in the log as stored, in the order stored. */
    positions: (): number[] =>
      stored
        .filter((d) => d.stream === stream && d.author === device.deviceId)
        .map((d) => d.audit?.authorSeq ?? 0),
    /** The log as stored, verified as a patient's device would. */
    verifyStored: () =>
      verifyAuditLog(
        stored.map((d, i): ServedDoc => ({ ...d, seq: i + 1, at: AT })),
        async (e) => (e.author === device.deviceId ? device.publicKey : null),
        ed,
      ),
    /** Rows pushed with a signature other than that of any row pushed before under the same id. */
    resigned: (): number => {
      const first = new Map<string, string | undefined>();
      let n = 0;
      for (const d of pushed) {
        if (!first.has(d.id)) first.set(d.id, d.sig);
        else if (first.get(d.id) !== d.sig) n++;
      }
      return n;
    },
    answer: (a: EndAnswer) => void (answer = a),
    /** The next push is taken (stored as far as the device can tell) but never answered. */
    dropNextAnswer: () => void (unanswered = true),
  };
};

const kinds = (issues: string[]): string[] => issues.map((i) => i.slice(0, i.indexOf(':')));

/** Appends `actions` and flushes them: stored at the next positions. */
const appendAll = async (
  s: ReturnType<typeof setup>,
  log: ReturnType<ReturnType<typeof setup>['open']>['log'],
  actions: readonly string[],
) => {
  for (const action of actions) await log.append(s.patientId, { action });
  await log.flush();
};

describe.each([
  ['a patient’s log (a grantee cannot read it)', false],
  ['its account’s own log (read and checked)', true],
])("audit: a device's entry at a position it holds, in %s", (_, own) => {
  it('continues after the end the server names: re-signed there, stored whole, nothing given up', async () => {
    const s = setup({ own });
    const first = s.open();
    await appendAll(s, first.log, ['one', 'two', 'three']);
    expect(s.positions()).toEqual([1, 2, 3]);

    // A second copy of the device's state, from before anything was appended (two processes, or a backup).
    const copy = s.open();
    await appendAll(s, copy.log, ['four', 'five']);
    expect(s.positions()).toEqual([1, 2, 3, 4, 5]);
    expect((await s.verifyStored()).ok).toBe(true);
    expect(await copy.log.pendingCount()).toBe(0);
    expect(kinds(copy.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_CHAIN_CONTINUED']);
    expect(s.resigned()).toBe(2);
    // Its chain goes on from there.
    await appendAll(s, copy.log, ['six']);
    expect(s.positions()).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await s.verifyStored()).ok).toBe(true);
  });

  it('from a server that names no end (older), gives the entries up as before, re-signing nothing', async () => {
    const s = setup({ own });
    await appendAll(s, s.open().log, ['one', 'two']);
    s.answer('none');
    const copy = s.open();
    await appendAll(s, copy.log, ['three']);
    expect(s.positions()).toEqual([1, 2]);
    expect(kinds(copy.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_GIVEN_UP']);
    expect(s.resigned()).toBe(0);
  });

  it('an end below the refused position (the server holds that position) is not believed', async () => {
    const s = setup({ own });
    const device = s.open();
    await appendAll(s, device.log, ['one', 'two', 'three']);
    // Its chain state goes back to position 2 (its next entry meets position 3), and nothing is kept of
    // what the server acknowledged: only the refused position tells the end is a lie.
    device.raw.set(s.chainKey, { seq: 2, hash: s.linkAt(2) });
    for (const key of [...device.raw.keys()]) if (key.startsWith('audit-kept:')) device.raw.delete(key);
    s.answer(() => ({ authorSeq: 2, linkHash: s.linkAt(2) }));
    await appendAll(s, device.log, ['four']);
    expect(kinds(device.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_GIVEN_UP']);
    expect(s.resigned()).toBe(0);
    expect(s.positions()).toEqual([1, 2, 3]);
  });

  it('never re-signs an entry that may be stored already (a push went unanswered)', async () => {
    const s = setup({ own });
    await appendAll(s, s.open().log, ['one', 'two']);
    const copy = s.open();
    await copy.log.append(s.patientId, { action: 'three' });
    s.dropNextAnswer();
    await expect(copy.log.flush()).rejects.toThrow('connection lost');
    await copy.log.flush();
    expect(kinds(copy.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_HELD']);
    expect(s.resigned()).toBe(0);
    expect(await copy.log.pendingCount()).toBe(1);
  });
});

describe('audit: the end the server names is checked against what the device can see', () => {
  it('own log: an end whose link hash is not that of the chain as served signs nothing', async () => {
    const s = setup({ own: true });
    await appendAll(s, s.open().log, ['one', 'two']);
    s.answer((honest) => ({ ...honest, linkHash: 'A'.repeat(43) }));
    const copy = s.open();
    await appendAll(s, copy.log, ['three']);
    expect(kinds(copy.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_GIVEN_UP']);
    expect(s.resigned()).toBe(0);
    expect(s.positions()).toEqual([1, 2]);
  });

  it('own log: an end past the chain as served signs nothing', async () => {
    const s = setup({ own: true });
    await appendAll(s, s.open().log, ['one', 'two']);
    s.answer((honest) => ({ ...honest, authorSeq: honest.authorSeq + 5 }));
    const copy = s.open();
    await appendAll(s, copy.log, ['three']);
    expect(kinds(copy.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_GIVEN_UP']);
    expect(s.resigned()).toBe(0);
  });

  it("a patient's log: checked against the entries the device kept; a lie about one is not believed", async () => {
    for (const lie of [false, true]) {
      const s = setup();
      const device = s.open();
      await appendAll(s, device.log, ['one', 'two', 'three']);
      // Its chain state goes back to position 1; what it kept of its acknowledged entries stays.
      device.raw.set(s.chainKey, { seq: 1, hash: s.linkAt(1) });
      if (lie) s.answer((honest) => ({ ...honest, linkHash: 'A'.repeat(43) }));
      await appendAll(s, device.log, ['four']);
      expect(kinds(device.log.issues())).toEqual([
        'APPEND_ONLY',
        lie ? 'AUDIT_GIVEN_UP' : 'AUDIT_CHAIN_CONTINUED',
      ]);
      expect(s.positions()).toEqual(lie ? [1, 2, 3] : [1, 2, 3, 4]);
      expect(s.resigned()).toBe(lie ? 0 : 1);
      expect((await s.verifyStored()).ok).toBe(true);
    }
  });

  it("a patient's log: an end below a position the device kept (the server acknowledged it) is not believed", async () => {
    const s = setup();
    const device = s.open();
    await appendAll(s, device.log, ['one', 'two', 'three', 'four']);
    device.raw.set(s.chainKey, { seq: 1, hash: s.linkAt(1) });
    // At or past the refused position 2, but below position 4, which the server acknowledged and it kept.
    s.answer(() => ({ authorSeq: 3, linkHash: s.linkAt(3) }));
    await appendAll(s, device.log, ['five']);
    expect(kinds(device.log.issues())).toEqual(['APPEND_ONLY', 'AUDIT_GIVEN_UP']);
    expect(s.resigned()).toBe(0);
  });
});
