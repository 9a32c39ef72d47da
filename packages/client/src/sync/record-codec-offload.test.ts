// The record codec with its wire cryptography on a real worker thread (`@hale/client/node`): the same
// documents and the same per-document refusals as in-thread, one job per big batch, none for small
// ones, and a batch that fails as a whole when the offload fails, answers another job, or answers
// an item of the wrong shape.
import { afterAll, describe, expect, it } from 'vitest';
import { base64urlDecode, deriveInitialStreamKey } from '@hale/crypto';
import type { ServedDoc } from '@hale/protocol';
import { createNodeCryptoOffload } from '../../node/crypto-worker';
import {
  OFFLOAD_MIN_BATCH,
  type CryptoJob,
  type CryptoJobResult,
  type CryptoOffload,
} from '../offload/crypto-offload';
import {
  asServed,
  contentOf,
  dataOf,
  flipByte,
  forgedBeside,
  idOf,
  inputsOf,
  patient,
  patientDeps,
  patientDevice,
  patientRoot,
  provider,
  providerDeps,
  providerDevice,
  reasons,
  record,
  servedRecords,
} from './codec-fixture.test-util';
import { decodeRecords, encodeRecords } from './record-codec';
import type { PlainRecord } from '../records/plain-record';
import { runWireJob, type WireJob } from '../offload/wire-jobs';

const ALLERGY = `${patient.accountId}/allergy`;
const LAB = `${patient.accountId}/lab-result`;

/**
 * n records over two streams (one of them clinical, hence signed), some deleted, one in conflict, one
 * deletion with emptied data; each carries a plaintext marker in its (valid) data.
 */
const records = (n: number, from = 0): PlainRecord[] =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const lab = i % 3 === 2;
    const kind = lab ? 'LabResult' : 'Allergy';
    const marker = `plaintext-marker-${i}`;
    const deleted = i % 5 === 4;
    return record({
      id: idOf(i),
      stream: lab ? LAB : ALLERGY,
      kind,
      rv: 1 + (i % 4),
      data:
        deleted && i % 10 === 9
          ? {}
          : dataOf(kind, idOf(i), patient.accountId, lab ? { testName: marker } : { substance: marker }),
      _deleted: deleted,
      conflict: i === 1,
      conflictData: i === 1 ? { substance: 'other' } : null,
    });
  });

const worker = createNodeCryptoOffload();
afterAll(() => worker.close());

/** Counts and keeps the jobs an offload is given. */
const counting = (inner: CryptoOffload) => {
  const jobs: CryptoJob[] = [];
  const offload: CryptoOffload = {
    run: (job) => {
      jobs.push(job);
      return inner.run(job);
    },
  };
  return { jobs, offload, ops: () => jobs.map((j) => `${j.op}:${j.items.length}`) };
};

describe('record codec on a worker: same documents as in-thread', () => {
  it('encodes ≥ 8 records on the worker into docs that decode (worker and in-thread) to the same records', async () => {
    const rs = records(12);
    const { jobs, offload, ops } = counting(worker);
    const deps = { ...patientDeps, offload };
    const pushed = await encodeRecords(deps, await inputsOf(deps, rs));
    expect(ops()).toEqual(['wireSeal:12']);
    expect(pushed).toHaveLength(12);
    for (const [i, d] of pushed.entries()) {
      const r = rs[i]!;
      expect(d).toMatchObject({
        stream: r.stream,
        id: r.id,
        deleted: r._deleted,
        epoch: 0,
        author: patientDevice.deviceId,
      });
      expect(d!.rev).toMatch(new RegExp(`^${r.rv}-[0-9a-f]{24}$`));
      // Clinical records are signed, the patient's own allergies are not.
      expect(d!.sig !== undefined).toBe(r.stream === LAB);
      const bytes = base64urlDecode(d!.ct);
      expect(bytes.ok && new TextDecoder().decode(bytes.value).includes('plaintext-marker')).toBe(false);
    }
    const docs = asServed(pushed);

    const onWorker = await decodeRecords(deps, docs);
    expect(ops()).toEqual(['wireSeal:12', 'wireOpen:12']);
    expect(onWorker).toEqual(rs.map((r) => ({ ok: true, record: r })));

    const inThread = await decodeRecords({ ...patientDeps, offload: null }, docs);
    expect(inThread).toEqual(onWorker);
    expect(jobs).toHaveLength(2);

    // And what was sealed in-thread opens on the worker.
    const threadDocs = await servedRecords(rs);
    expect(await decodeRecords(deps, threadDocs)).toEqual(rs.map((r) => ({ ok: true, record: r })));
    expect(ops()).toEqual(['wireSeal:12', 'wireOpen:12', 'wireOpen:12']);
  });

  it('runs exactly one wireSeal job for a batch of ≥ 8 and none below OFFLOAD_MIN_BATCH', async () => {
    expect(OFFLOAD_MIN_BATCH).toBe(8);
    const { offload, ops } = counting(worker);
    const deps = { ...patientDeps, offload };

    const three = records(3, 100);
    const small = await encodeRecords(deps, await inputsOf(deps, three));
    expect(ops()).toEqual([]);
    expect(await decodeRecords(deps, asServed(small))).toEqual(three.map((r) => ({ ok: true, record: r })));
    expect(ops()).toEqual([]);

    const seven = records(7, 200);
    await encodeRecords(deps, await inputsOf(deps, seven));
    expect(ops()).toEqual([]);

    const eight = records(8, 300);
    const big = await encodeRecords(deps, await inputsOf(deps, eight));
    expect(ops()).toEqual(['wireSeal:8']);
    expect(big.every((d) => d !== null)).toBe(true);
    expect(await decodeRecords(deps, asServed(big))).toEqual(eight.map((r) => ({ ok: true, record: r })));
    expect(ops()).toEqual(['wireSeal:8', 'wireOpen:8']);
  });

  it("sends each distinct key once in a job's table", async () => {
    const { jobs, offload } = counting(worker);
    const deps = { ...patientDeps, offload };
    const rs = records(9, 400); // two streams: allergy and lab-result
    await encodeRecords(deps, await inputsOf(deps, rs));
    const seal = jobs[0] as Extract<WireJob, { op: 'wireSeal' }>;
    expect(seal.op).toBe('wireSeal');
    // Per stream: its epoch-0 key and its tag key.
    expect(seal.keys).toHaveLength(4);
    const allergy = seal.items.filter((i) => i.stream === ALLERGY);
    const lab = seal.items.filter((i) => i.stream === LAB);
    expect(allergy.length + lab.length).toBe(9);
    expect(new Set(allergy.map((i) => `${i.key}/${i.tagKey}`)).size).toBe(1);
    expect(new Set(lab.map((i) => `${i.key}/${i.tagKey}`)).size).toBe(1);
    expect(allergy[0]!.key).not.toBe(lab[0]!.key);
    expect(new Set([allergy[0]!.key, allergy[0]!.tagKey, lab[0]!.key, lab[0]!.tagKey])).toEqual(
      new Set([0, 1, 2, 3]),
    );
    expect(seal.keys.every((k) => k instanceof Uint8Array && k.length === 32)).toBe(true);
  });

  it('answers null for a record whose content is not JSON and seals the rest (worker)', async () => {
    const rs = records(9, 500);
    const bad = { ...rs[4]!, data: { n: Number.NaN } };
    const { offload, ops } = counting(worker);
    const deps = { ...patientDeps, offload };
    const out = await encodeRecords(
      deps,
      await inputsOf(
        deps,
        rs.map((r, i) => (i === 4 ? bad : r)),
      ),
    );
    expect(ops()).toEqual(['wireSeal:9']);
    expect(out.map((d) => d !== null)).toEqual([true, true, true, true, false, true, true, true, true]);
    expect(out[5]).toMatchObject({ id: rs[5]!.id });
  });

  it('refuses only the document whose content cannot be copied to the worker, as this thread does', async () => {
    const rs = records(9, 600);
    const deps = { ...patientDeps, offload: worker };
    const withFunction = rs.map((r, i) => (i === 2 ? { ...r, data: { f: () => 1 } } : r));
    const refused = rs.map((_, i) => i === 2);
    const out = await encodeRecords(deps, await inputsOf(deps, withFunction));
    expect(out.map((d) => d === null)).toEqual(refused);
    const inThread = { ...patientDeps, offload: null };
    const here = await encodeRecords(inThread, await inputsOf(inThread, withFunction));
    expect(here.map((d) => d === null)).toEqual(refused);
  });
});

describe('record codec on a worker: per-document refusals in a mixed batch', () => {
  it('answers TAMPERED, CONTEXT_MISMATCH, BAD_TAG and NO_KEY per document, in order, and decodes the good ones', async () => {
    const rs = records(6, 600);
    const good = await servedRecords(rs);
    const victim = good[0]!;
    const [sameVersionOtherContent] = await servedRecords([
      { ...rs[0]!, data: { ...rs[0]!.data, substance: 'swapped' } },
    ]);
    const [laterRev] = await servedRecords([{ ...rs[0]!, rv: rs[0]!.rv + 1 }]);
    // A stream of another account: the patient holds no key for it.
    const [foreign] = await servedRecords(
      [
        record({
          stream: `${provider.accountId}/allergy`,
          patientId: provider.accountId,
          by: provider.accountId,
          author: providerDevice.deviceId,
        }),
      ],
      providerDeps,
    );

    const batch: ServedDoc[] = [
      good[0]!,
      { ...victim, ct: flipByte(victim.ct, -3, 0x10) }, // tampered ciphertext: a byte inside the secretbox
      good[1]!,
      { ...victim, id: idOf(699) }, // moved to another id
      good[2]!,
      { ...victim, rev: sameVersionOtherContent!.rev }, // tag of other content, same rv
      good[3]!,
      foreign!, // no key
      { ...victim, rev: laterRev!.rev }, // tag naming another revision
      good[4]!,
      good[5]!,
    ];
    const expected = [
      'ok',
      'TAMPERED',
      'ok',
      'CONTEXT_MISMATCH',
      'ok',
      'BAD_TAG',
      'ok',
      'NO_KEY',
      'CONTEXT_MISMATCH',
      'ok',
      'ok',
    ];

    const { offload, ops } = counting(worker);
    const onWorker = await decodeRecords({ ...patientDeps, offload }, batch);
    // The doc without a key never reaches the job.
    expect(ops()).toEqual(['wireOpen:10']);
    expect(reasons(onWorker)).toEqual(expected);
    const goodAt = [0, 2, 4, 6, 9, 10];
    expect(goodAt.map((i) => onWorker[i])).toEqual(rs.map((r) => ({ ok: true, record: r })));
    expect(onWorker[7]).toMatchObject({
      ok: false,
      reason: 'NO_KEY',
      message: expect.stringContaining(provider.accountId) as unknown,
    });

    const inThread = await decodeRecords({ ...patientDeps, offload: null }, batch);
    expect(inThread).toEqual(onWorker);
  });
});

describe('record codec on a worker: content checked against its stream, as in-thread', () => {
  it('answers BAD_CONTENT for a kind outside its stream, invalid data, another id or patient; the rest opens', async () => {
    const rs = records(6, 1100);
    const forged = [
      // An Allergy sealed into the lab-result stream.
      record({ id: idOf(1190), stream: LAB, kind: 'Allergy' }),
      // An Allergy without its substance.
      record({ id: idOf(1191), data: { id: idOf(1191), patientId: patient.accountId } }),
      // Data of another record, and of another patient.
      record({ id: idOf(1192), data: dataOf('Allergy', idOf(1), patient.accountId) }),
      record({ id: idOf(1193), data: dataOf('Allergy', idOf(1193), provider.accountId) }),
    ];
    const [g0, g1, g2, g3, g4, g5] = await servedRecords(rs);
    const [f0, f1, f2, f3] = await servedRecords(forged);
    const batch = [g0!, f0!, g1!, f1!, g2!, f2!, g3!, f3!, g4!, g5!];
    const expected = [
      'ok',
      'BAD_CONTENT',
      'ok',
      'BAD_CONTENT',
      'ok',
      'BAD_CONTENT',
      'ok',
      'BAD_CONTENT',
      'ok',
      'ok',
    ];

    const { offload, ops } = counting(worker);
    const onWorker = await decodeRecords({ ...patientDeps, offload }, batch);
    expect(ops()).toEqual(['wireOpen:10']);
    expect(reasons(onWorker)).toEqual(expected);
    expect([0, 2, 4, 6, 8, 9].map((i) => onWorker[i])).toEqual(rs.map((r) => ({ ok: true, record: r })));

    const inThread = await decodeRecords({ ...patientDeps, offload: null }, batch);
    expect(inThread).toEqual(onWorker);
  });
});

describe('record codec on a worker: a signed version binds its content, as in-thread', () => {
  it('answers BAD_TAG for other content sealed beside a signed tag, opened on the worker or here', async () => {
    const k0 = deriveInitialStreamKey(patientRoot, LAB);
    const labs = Array.from({ length: 10 }, (_, k) =>
      record({
        id: idOf(1300 + k),
        stream: LAB,
        kind: 'LabResult',
        data: dataOf('LabResult', idOf(1300 + k), patient.accountId, { value: 90 + k }),
      }),
    );
    const served = await servedRecords(labs);
    expect(served.every((d) => d.sig !== undefined)).toBe(true);
    // Every other one resealed by a holder of k0 with another value beside its signed tag.
    const batch = served.map((d, k) =>
      k % 2 === 1
        ? forgedBeside(d, k0, { ...contentOf(labs[k]!), data: { ...labs[k]!.data, value: 412 } })
        : d,
    );
    const expected = batch.map((_, k) => (k % 2 === 1 ? 'BAD_TAG' : 'ok'));

    const { offload, ops } = counting(worker);
    const onWorker = await decodeRecords({ ...patientDeps, offload }, batch);
    expect(ops()).toEqual(['wireOpen:10']);
    expect(reasons(onWorker)).toEqual(expected);
    expect(onWorker.filter((o) => o.ok)).toEqual(
      labs.filter((_, k) => k % 2 === 0).map((r) => ({ ok: true, record: r })),
    );

    const inThread = await decodeRecords({ ...patientDeps, offload: null }, batch);
    expect(inThread).toEqual(onWorker);
  });
});

describe('record codec: a failed or confused offload fails the whole batch', () => {
  const fixed = (answer: (job: CryptoJob) => CryptoJobResult): CryptoOffload => ({
    run: async (job) => answer(job),
  });

  it('rejects when the offload answers another op', async () => {
    const rs = records(8, 700);
    const docs = await servedRecords(rs);
    const inputs = await inputsOf(patientDeps, rs);
    const swapOp = fixed((job) => {
      const real = runWireJob(job as WireJob);
      return real.op === 'wireSeal'
        ? {
            op: 'wireOpen',
            items: real.items.map(() => ({ ok: false, reason: 'TAMPERED', message: 'x' }) as const),
          }
        : { op: 'wireSeal', items: real.items.map(() => null) };
    });
    await expect(encodeRecords({ ...patientDeps, offload: swapOp }, inputs)).rejects.toThrow(
      'crypto offload answered another job',
    );
    await expect(decodeRecords({ ...patientDeps, offload: swapOp }, docs)).rejects.toThrow(
      'crypto offload answered another job',
    );

    // An at-rest result (no `items`) is another job too.
    const atRest = fixed(() => ({ op: 'seal', envelopes: [] }));
    await expect(encodeRecords({ ...patientDeps, offload: atRest }, inputs)).rejects.toThrow(
      'crypto offload answered another job',
    );
    await expect(decodeRecords({ ...patientDeps, offload: atRest }, docs)).rejects.toThrow(
      'crypto offload answered another job',
    );
  });

  it('rejects when the offload answers too few or too many items', async () => {
    const rs = records(9, 800);
    const docs = await servedRecords(rs);
    const inputs = await inputsOf(patientDeps, rs);
    for (const delta of [-1, 1]) {
      const resize = fixed((job) => {
        const real = runWireJob(job as WireJob);
        const items: unknown[] = [...real.items];
        if (delta < 0) items.pop();
        else items.push(items[0]);
        return { ...real, items } as CryptoJobResult;
      });
      await expect(encodeRecords({ ...patientDeps, offload: resize }, inputs)).rejects.toThrow(
        'crypto offload answered another job',
      );
      await expect(decodeRecords({ ...patientDeps, offload: resize }, docs)).rejects.toThrow(
        'crypto offload answered another job',
      );
    }
  });

  it.each([
    ['wireSeal', 'a number where the tag belongs', { ct: 'x', tag: 5 }, '/items/2/tag'],
    ['wireSeal', 'a missing tag', { ct: 'x' }, '/items/2/tag'],
    ['wireSeal', 'a string where an outcome belongs', 'x', '/items/2'],
    [
      'wireOpen',
      'an unknown failure reason',
      { ok: false, reason: 'BAD_TAG', message: 'm' },
      '/items/2/reason',
    ],
    ['wireOpen', 'a missing deletion flag', { ok: true, data: {}, tag: 't' }, '/items/2/deleted'],
    ['wireOpen', 'a failure without its message', { ok: false, reason: 'TAMPERED' }, '/items/2/message'],
  ] as const)('rejects a %s batch answered with %s', async (op, _, bad, path) => {
    const rs = records(9, 1000);
    const docs = await servedRecords(rs);
    const inputs = await inputsOf(patientDeps, rs);
    const badAt2 = fixed((job) => {
      const real = runWireJob(job as WireJob);
      return { ...real, items: real.items.map((item, n) => (n === 2 ? bad : item)) } as CryptoJobResult;
    });
    const deps = { ...patientDeps, offload: badAt2 };
    const run = op === 'wireSeal' ? encodeRecords(deps, inputs) : decodeRecords(deps, docs);
    await expect(run).rejects.toThrow(`crypto offload answered a malformed ${op} reply: ${path}`);
  });

  it('rejects when the offload rejects (a job that failed, a worker that is gone)', async () => {
    const rs = records(8, 900);
    const docs = await servedRecords(rs);
    const inputs = await inputsOf(patientDeps, rs);
    const broken: CryptoOffload = { run: () => Promise.reject(new Error('worker died')) };
    await expect(encodeRecords({ ...patientDeps, offload: broken }, inputs)).rejects.toThrow('worker died');
    await expect(decodeRecords({ ...patientDeps, offload: broken }, docs)).rejects.toThrow('worker died');

    const gone = createNodeCryptoOffload();
    await gone.close();
    await expect(encodeRecords({ ...patientDeps, offload: gone }, inputs)).rejects.toThrow(/closed/);
    await expect(decodeRecords({ ...patientDeps, offload: gone }, docs)).rejects.toThrow(/closed/);

    // Below the batch threshold the broken offload is never asked.
    const few = rs.slice(0, 3);
    expect(await decodeRecords({ ...patientDeps, offload: broken }, docs.slice(0, 3))).toEqual(
      few.map((r) => ({ ok: true, record: r })),
    );
    expect(
      (await encodeRecords({ ...patientDeps, offload: broken }, inputs.slice(0, 3))).every(Boolean),
    ).toBe(true);
  });
});

describe('record codec: a signature covers only the content this thread asked to seal', () => {
  const labs = (n: number, from: number): PlainRecord[] =>
    Array.from({ length: n }, (_, k) =>
      record({
        id: idOf(from + k),
        stream: LAB,
        kind: 'LabResult',
        data: dataOf('LabResult', idOf(from + k), patient.accountId, { value: 10 + k }),
      }),
    );
  /** An offload that seals each job with the items' content changed by `alter` (a worker gone wrong). */
  const sealingOther = (alter: (items: readonly WireJob['items'][number][]) => WireJob['items']) => {
    const seen: CryptoJob[] = [];
    const offload: CryptoOffload = {
      run: async (job) => {
        seen.push(job);
        if (job.op !== 'wireSeal') return runWireJob(job as WireJob);
        return runWireJob({ ...job, items: alter(job.items) } as WireJob);
      },
    };
    return { seen, offload };
  };

  it('rejects the batch when the worker sealed other content for a signed record (nothing is signed)', async () => {
    const rs = labs(8, 1400);
    const { seen, offload } = sealingOther(
      (items) =>
        items.map((it, n) =>
          n === 0 && 'content' in it
            ? { ...it, content: { ...contentOf(rs[0]!), data: { ...rs[0]!.data, value: 999 } } }
            : it,
        ) as WireJob['items'],
    );
    const deps = { ...patientDeps, offload };
    await expect(encodeRecords(deps, await inputsOf(deps, rs))).rejects.toThrow(
      'crypto offload answered a wireSeal item whose tag is not that of the content asked',
    );
    expect(seen.map((j) => j.op)).toEqual(['wireSeal']);
  });

  it("rejects the batch when the worker answers signed items with each other's outcomes", async () => {
    const rs = labs(8, 1500);
    const swapped: CryptoOffload = {
      run: async (job) => {
        const real = runWireJob(job as WireJob);
        if (real.op !== 'wireSeal') return real;
        const items = [...real.items];
        [items[0], items[1]] = [items[1]!, items[0]!];
        return { op: 'wireSeal', items };
      },
    };
    const deps = { ...patientDeps, offload: swapped };
    await expect(encodeRecords(deps, await inputsOf(deps, rs))).rejects.toThrow(
      'crypto offload answered a wireSeal item whose tag is not that of the content asked',
    );
  });

  it('signs what a faithful worker sealed, and readers take it', async () => {
    const rs = labs(8, 1600);
    const deps = { ...patientDeps, offload: worker };
    const docs = await encodeRecords(deps, await inputsOf(deps, rs));
    expect(docs.every((d) => d?.sig !== undefined)).toBe(true);
    expect(await decodeRecords({ ...patientDeps, offload: null }, asServed(docs))).toEqual(
      rs.map((r) => ({ ok: true, record: r })),
    );
  });
});
