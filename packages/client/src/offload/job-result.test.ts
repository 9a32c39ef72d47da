// The one check of an offload's reply: a well-formed answer to its job is accepted as it is, for each
// op; another op, another item count or any item of the wrong shape is refused, naming where, and
// never quoting the reply.
import { describe, expect, it } from 'vitest';
import type { CryptoJob, CryptoJobResult } from './crypto-offload';
import { checkCryptoJobResult } from './job-result';
import { runCryptoJob } from './run-crypto-job';

const context = { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' };
const key = new Uint8Array(32).fill(7);
const sealJob: CryptoJob = {
  op: 'seal',
  key,
  items: [
    { context, value: { note: 'n' } },
    { context, value: { bad: Number.NaN } },
  ],
};
const sealed = runCryptoJob(sealJob);
const envelope = sealed.op === 'seal' ? sealed.envelopes[0]!.envelope : '';
const openJob: CryptoJob = {
  op: 'open',
  key,
  items: [
    { context, stored: envelope },
    { context, stored: 42 },
  ],
};
const wireKey = new Uint8Array(32).fill(9);
const wireItem = { key: 0, stream: 's/allergy', id: 'i', epoch: 0, rev: 1 };
const wireSealJob: CryptoJob = {
  op: 'wireSeal',
  keys: [wireKey],
  items: [
    { ...wireItem, tagKey: 0, deleted: false, content: { a: 1 } },
    { ...wireItem, tagKey: 5, deleted: false, content: { a: 1 } },
  ],
};
const wireSealed = runCryptoJob(wireSealJob);
const ct = wireSealed.op === 'wireSeal' ? wireSealed.items[0]!.ct : '';
const wireOpenJob: CryptoJob = {
  op: 'wireOpen',
  keys: [wireKey],
  items: [
    { ...wireItem, ct },
    { ...wireItem, ct: '!' },
  ],
};
const JOBS = [sealJob, openJob, wireSealJob, wireOpenJob];

/** Where a reply keeps its outcomes, and them. */
const outcomesOf = (reply: CryptoJobResult): { list: string; outcomes: readonly unknown[] } =>
  reply.op === 'seal'
    ? { list: 'envelopes', outcomes: reply.envelopes }
    : reply.op === 'open'
      ? { list: 'values', outcomes: reply.values }
      : { list: 'items', outcomes: reply.items };

/** The real reply to `job` with outcome 1 replaced by `bad`. */
const withSecond = (job: CryptoJob, bad: unknown): unknown => {
  const real = runCryptoJob(job);
  const { list, outcomes } = outcomesOf(real);
  return { ...real, [list]: outcomes.map((o, n) => (n === 1 ? bad : o)) };
};

describe('checkCryptoJobResult', () => {
  it('accepts the real reply to each op (successes and failures), as it is', () => {
    for (const job of JOBS) {
      const reply = runCryptoJob(job);
      expect(checkCryptoJobResult(job, reply)).toBe(reply);
    }
    // Both outcomes of each list are there: one success, one failure.
    expect(runCryptoJob(openJob)).toMatchObject({
      values: [{ ok: true }, { ok: false, reason: 'MALFORMED' }],
    });
    expect(runCryptoJob(wireSealJob)).toMatchObject({ items: [{ ct: expect.any(String) as unknown }, null] });
    expect(runCryptoJob(wireOpenJob)).toMatchObject({
      items: [{ ok: true }, { ok: false, reason: 'TAMPERED' }],
    });
    // Extra members are ignored.
    const extra = { ...runCryptoJob(sealJob), note: 'x' };
    expect(checkCryptoJobResult(sealJob, extra)).toBe(extra);
  });

  it('refuses a reply to another op, or with another number of outcomes', () => {
    for (const job of JOBS) {
      for (const other of JOBS.filter((j) => j.op !== job.op)) {
        expect(() => checkCryptoJobResult(job, runCryptoJob(other))).toThrow(
          `crypto offload answered another job: a ${job.op} job got a ${other.op} reply`,
        );
      }
      for (const reply of [
        undefined,
        null,
        42,
        'seal',
        [],
        { items: [] },
        { op: 'SECRET-MARKER' },
        { op: 'toString' },
      ]) {
        expect(() => checkCryptoJobResult(job, reply)).toThrow(
          `crypto offload answered another job: a ${job.op} job got a reply without a known op`,
        );
      }
      const real = runCryptoJob(job);
      const { list, outcomes } = outcomesOf(real);
      for (const [wrong, got] of [
        [outcomes.slice(1), '1 outcomes'],
        [[...outcomes, outcomes[0]], '3 outcomes'],
        [{ length: 2 }, 'no list of outcomes'],
        [undefined, 'no list of outcomes'],
      ] as const) {
        expect(() => checkCryptoJobResult(job, { ...real, [list]: wrong })).toThrow(
          `crypto offload answered another job: a ${job.op} job of 2 items got ${got}`,
        );
      }
    }
  });

  it.each([
    ['seal', 42, '/envelopes/1', sealJob],
    ['seal', undefined, '/envelopes/1', sealJob],
    ['seal', { envelope: 'v1.x' }, '/envelopes/1', sealJob],
    ['seal', 'v1.' + 'A'.repeat(60), '/envelopes/1', sealJob],
    ['seal', { envelope: 'v1.' + 'A'.repeat(54), bound: 'b' }, '/envelopes/1', sealJob],
    ['seal', { envelope: 'v2.' + 'A'.repeat(60), bound: 'b' }, '/envelopes/1', sealJob],
    ['seal', { envelope: 'v1.' + 'A'.repeat(60) }, '/envelopes/1', sealJob],
    ['open', { ok: false, reason: 'NOT_JSON', message: 'm' }, '/values/1/reason', openJob],
    ['open', { ok: false, reason: 'AUTH_FAILED' }, '/values/1/message', openJob],
    ['open', { ok: false, reason: 'AUTH_FAILED', message: 7 }, '/values/1/message', openJob],
    ['open', { ok: true }, '/values/1', openJob],
    ['open', { ok: true, value: 1 }, '/values/1', openJob],
    ['open', { ok: true, value: undefined, bound: 'b' }, '/values/1/value', openJob],
    ['open', { ok: 'yes', value: 1 }, '/values/1', openJob],
    ['open', null, '/values/1', openJob],
    ['wireSeal', { ct: 'x', tag: 5 }, '/items/1/tag', wireSealJob],
    ['wireSeal', { ct: 'x' }, '/items/1/tag', wireSealJob],
    ['wireSeal', 'x', '/items/1', wireSealJob],
    ['wireOpen', { ok: false, reason: 'BAD_TAG', message: 'm' }, '/items/1/reason', wireOpenJob],
    ['wireOpen', { ok: true, data: {}, tag: 't' }, '/items/1/deleted', wireOpenJob],
    ['wireOpen', { ok: true, data: {}, tag: 1, deleted: false }, '/items/1/tag', wireOpenJob],
    ['wireOpen', { ok: true, tag: 't', deleted: false }, '/items/1', wireOpenJob],
    ['wireOpen', undefined, '/items/1', wireOpenJob],
  ] as const)('refuses a %s reply with the outcome %j, naming %s', (op, bad, path, job) => {
    expect(() => checkCryptoJobResult(job, withSecond(job, bad))).toThrow(
      `crypto offload answered a malformed ${op} reply: ${path}`,
    );
  });

  it('never quotes the reply in its message', () => {
    const marker = 'SECRET-MARKER-8c1f';
    const cases: Array<[CryptoJob, unknown]> = [
      [openJob, { ok: false, reason: marker, message: marker }],
      [openJob, { ok: marker, value: marker }],
      [wireOpenJob, { ok: true, data: marker, tag: 1, deleted: marker }],
      [sealJob, { [marker]: marker }],
    ];
    for (const [job, bad] of cases) {
      const reply = withSecond(job, bad);
      let message = '';
      try {
        checkCryptoJobResult(job, reply);
      } catch (error) {
        message = String(error);
      }
      expect(message).toMatch(/malformed/);
      expect(message).not.toContain(marker);
    }
  });
});
