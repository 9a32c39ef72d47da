// An item an offload could not open is answered with a reason and a message. The reason is checked
// against its closed list; the message is the offload's own text, and a worker's text may quote what
// it failed on (a job carries record content and keys), so it is taken only when it is one this build
// writes for that reason (as this thread writes it: same failures, same words, on a worker or here), and
// replaced by a text of this thread naming the reason otherwise: at rest (the AtRestError a read rejects
// with) and on the wire (the decode failure a served version gets).
import { describe, expect, it } from 'vitest';
import { normalizeMangoQuery, prepareQuery } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  base64urlEncode,
  deriveRevisionTagKey,
  generateStreamKey,
  sealSecretbox,
  utf8Encode,
} from '@hale/crypto';
import {
  wrapWithAtRestEncryption,
  type AtRestDecryptReason,
  type SealContext,
} from '../store/at-rest-encryption';
import { expectAtRest, flipAt, insertAll, openInstance } from '../store/at-rest.test-util';
import { patientDeps, reasons, record, servedRecords, idOf } from '../sync/codec-fixture.test-util';
import { decodeRecords } from '../sync/record-codec';
import type { WireOpenItem } from './wire-jobs';
import type { CryptoJob, CryptoJobResult, CryptoOffload } from './crypto-offload';
import { checkCryptoJobResult } from './job-result';
import { runCryptoJob } from './run-crypto-job';
import { secretDoc, secretSchema, type SecretDoc } from './offload.test-util';

const MARKER = 'OPEN-FAILURE-PLAINTEXT-2b8e';

/** The real reply of each job, with the failure of item 2 of an open or wireOpen job replaced by `failure`. */
const failingAt2 = (failure: { reason: string; message: string }): CryptoOffload => ({
  minBatch: 1,
  run: (job) => {
    const real = runCryptoJob(job);
    const at2 = <T>(list: readonly T[]): T[] =>
      list.map((o, n) => (n === 2 ? ({ ok: false, ...failure } as T) : o));
    return Promise.resolve(
      real.op === 'open'
        ? { ...real, values: at2(real.values) }
        : real.op === 'wireOpen'
          ? { ...real, items: at2(real.items) }
          : real,
    );
  },
});

const SCHEMA = secretSchema();

/** The reason each item of `job` fails on this thread (`ok`: it opened); the check passes the reply as it is. */
const reasonsHere = (job: CryptoJob): string[] => {
  const here = runCryptoJob(job);
  expect(checkCryptoJobResult(job, here)).toEqual(here);
  const items = here.op === 'open' ? here.values : here.op === 'wireOpen' ? here.items : [];
  return items.map((o) => (o.ok ? 'ok' : o.reason));
};
const key = new Uint8Array(32).fill(5);
let dbs = 0;

describe("an at-rest open failure's message", () => {
  const readAllWith = async (offload: CryptoOffload) => {
    const base = getRxStorageMemory();
    const name = `open-text-${++dbs}`;
    const writer = await openInstance<SecretDoc>(
      wrapWithAtRestEncryption({ storage: base, key }),
      name,
      SCHEMA,
    );
    const docs = Array.from({ length: 10 }, (_, i) => secretDoc(`d${i}`, { note: `note ${i}` }));
    expect((await insertAll(writer, docs)).error).toEqual([]);
    // A fresh wrapper remembers nothing: every value is opened by the offload.
    const reader = await openInstance<SecretDoc>(
      wrapWithAtRestEncryption({ storage: base, key, offload }),
      name,
      SCHEMA,
    );
    return reader.query(prepareQuery(SCHEMA, normalizeMangoQuery(SCHEMA, { selector: {} })));
  };

  /** The message of the refusal of a read whose offload fails item 2 for `reason` with `message`. */
  const refusalOf = async (
    reason: AtRestDecryptReason,
    message: string,
    secret?: string,
  ): Promise<string> => {
    const read = readAllWith(failingAt2({ reason, message }));
    return (await expectAtRest(read, 'AT_REST_DECRYPT_FAILED', reason, secret)).message;
  };
  const authFailedText = 'at-rest decryption failed: wrong at-rest key or tampered value';

  it("is this build's text, naming the reason, when the offload's is not one this build writes", async () => {
    expect(await refusalOf('AUTH_FAILED', `no key opens ${MARKER}`, MARKER)).toBe(
      "at-rest decryption failed (AUTH_FAILED); the offload's message for it is not one this build writes",
    );
  });

  it('is kept when it is the one this thread writes for that reason', async () => {
    expect(await refusalOf('AUTH_FAILED', authFailedText)).toBe(authFailedText);
  });

  it("is replaced when it is this build's text for another reason", async () => {
    expect(await refusalOf('CONTEXT_MISMATCH', authFailedText)).toBe(
      "at-rest decryption failed (CONTEXT_MISMATCH); the offload's message for it is not one this build writes",
    );
  });

  it('of every failure this thread answers is kept as it is (same words on a worker or here)', () => {
    const context: SealContext = { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' };
    const sealed = runCryptoJob({ op: 'seal', key, items: [{ context, value: { note: 'n' } }] });
    const envelope = sealed.op === 'seal' ? sealed.envelopes[0]?.envelope : undefined;
    if (envelope === undefined) throw new Error('not sealed');
    const boxed = (plaintext: string) =>
      `v1.${base64urlEncode(sealSecretbox(new Uint8Array(0), key, utf8Encode(plaintext)))}`;
    const stored: unknown[] = [
      42,
      'v1.!!',
      flipAt(envelope, 40),
      boxed('not json'),
      // Bound as the context asks (it has no digest), without its value.
      boxed(JSON.stringify({ v: 2, db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' })),
    ];
    const job: CryptoJob = {
      op: 'open',
      key,
      items: [
        ...stored.map((s) => ({ context, stored: s })),
        { context: { ...context, i: 'moved' }, stored: envelope },
      ],
    };
    expect(reasonsHere(job)).toEqual([
      'MALFORMED',
      'MALFORMED',
      'AUTH_FAILED',
      'MALFORMED',
      'MALFORMED',
      'CONTEXT_MISMATCH',
    ]);
  });
});

describe("a wire open failure's message", () => {
  it("is this build's text, naming the reason, when the offload's is not one this build writes", async () => {
    const rs = Array.from({ length: 6 }, (_, i) => record({ id: idOf(2000 + i) }));
    const docs = await servedRecords(rs);
    const offload = failingAt2({ reason: 'TAMPERED', message: `could not open ${MARKER}` });
    const out = await decodeRecords({ ...patientDeps, offload }, docs);
    expect(reasons(out)).toEqual(['ok', 'ok', 'TAMPERED', 'ok', 'ok', 'ok']);
    expect(out[2]).toEqual({
      ok: false,
      reason: 'TAMPERED',
      message: "sealed record: TAMPERED; the offload's message for it is not one this build writes",
    });
    expect(JSON.stringify(out)).not.toContain(MARKER);
  });

  it('of every failure this thread answers is kept as it is (same words on a worker or here)', () => {
    const streamKey = generateStreamKey();
    const otherKey = generateStreamKey();
    const at = { stream: 'acc/notes', id: 'r1', epoch: 0, rev: 1 };
    const sealed = runCryptoJob({
      op: 'wireSeal',
      keys: [streamKey, deriveRevisionTagKey(streamKey)],
      items: [{ key: 0, tagKey: 1, ...at, deleted: false, content: { note: 'n' } }],
    });
    const ct = sealed.op === 'wireSeal' ? sealed.items[0]?.ct : undefined;
    if (ct === undefined) throw new Error('not sealed');
    const item = (over: Partial<WireOpenItem>): WireOpenItem => ({ key: 0, ...at, ct, ...over });
    const items: WireOpenItem[] = [
      item({ key: 7 }),
      item({ ct: '!!' }),
      item({ key: 1 }),
      item({ ct: flipAt(ct, ct.length - 5) }),
      item({ id: 'r2' }),
      item({ epoch: 1, rev: 2 }),
      item({ ct: '' }),
      item({ ct: base64urlEncode(Uint8Array.of(1, 2, 3)) }),
      item({ ct: base64urlEncode(Uint8Array.of(9, 2, 3)) }),
    ];
    const job: CryptoJob = { op: 'wireOpen', keys: [streamKey, otherKey], items };
    expect(reasonsHere(job)).toEqual([
      'WRONG_KEY',
      'TAMPERED',
      'WRONG_KEY',
      'TAMPERED',
      'CONTEXT_MISMATCH',
      'CONTEXT_MISMATCH',
      'TAMPERED',
      'TAMPERED',
      'TAMPERED',
    ]);
  });

  it('is replaced when it is no text of this build for its reason', () => {
    const job: CryptoJob = {
      op: 'wireOpen',
      keys: [generateStreamKey()],
      items: [{ key: 0, stream: 'acc/notes', id: 'r1', epoch: 0, rev: 1, ct: 'AA' }],
    };
    for (const [reason, message] of [
      ['TAMPERED', `sealed record: version ${MARKER} not supported`],
      ['TAMPERED', 'sealed record: sealed under another key'],
      ['CONTEXT_MISMATCH', `sealed record: id, ${MARKER} differ from the expected context`],
      ['WRONG_KEY', `HaleCryptoError: ${MARKER}`],
    ] as const) {
      const reply: CryptoJobResult = { op: 'wireOpen', items: [{ ok: false, reason, message }] };
      expect(checkCryptoJobResult(job, reply)).toEqual({
        op: 'wireOpen',
        items: [
          {
            ok: false,
            reason,
            message: `sealed record: ${reason}; the offload's message for it is not one this build writes`,
          },
        ],
      });
    }
  });
});
