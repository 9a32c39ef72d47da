// The worker side keeps no key once a job is answered: a job's keys arrive as the worker's own copy (a
// structured clone), and the at-rest key or stream keys it carries must not stay in the worker's memory
// after the batch, for as long as the worker lives (an account's lock zeroes only this thread's copy).
import { base64urlEncode, sealRecordVersion } from '@hale/crypto';
import { describe, expect, it } from 'vitest';
import { answerCryptoMessage, type CryptoWorkerReply } from './answer-crypto-message';
import { sealJob } from './offload.test-util';
import { runCryptoJob } from './run-crypto-job';
import type { CryptoJob } from './crypto-offload';

const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/** Answers `job` as a worker would, handing it over as the worker's own copy; the replies it posted. */
const answer = (job: CryptoJob): { replies: CryptoWorkerReply[]; received: CryptoJob } => {
  const received = structuredClone(job);
  const replies: CryptoWorkerReply[] = [];
  answerCryptoMessage({ id: 1, job: received }, (reply) => replies.push(reply));
  return { replies, received };
};

describe('answerCryptoMessage', () => {
  it('zeroes the at-rest key of a job once it is answered, and answers as this thread does', () => {
    const job = sealJob(2);
    const { replies, received } = answer(job);
    expect(replies).toHaveLength(1);
    const reply = replies[0]!;
    expect('result' in reply && reply.result.op).toBe('seal');
    // The answer was made with the key, before it was zeroed: this thread opens it with the same key.
    const envelopes = 'result' in reply && reply.result.op === 'seal' ? reply.result.envelopes : [];
    const opened = runCryptoJob({
      op: 'open',
      key: new Uint8Array(32).fill(7),
      items:
        job.op === 'seal'
          ? job.items.map((item, n) => ({ context: item.context, stored: envelopes[n]!.envelope }))
          : [],
    });
    expect(opened.op === 'open' && opened.values.map((v) => v.ok && v.value)).toEqual([
      { note: 'n0' },
      { note: 'n1' },
    ]);
    expect(received.op === 'seal' && isZero(received.key)).toBe(true);
    // The caller's key (this thread's) is not the worker's copy.
    expect(job.op === 'seal' && isZero(job.key)).toBe(false);
  });

  it('zeroes every key of a wire job once it is answered, opened or failed', () => {
    const key = new Uint8Array(32).fill(3);
    const tagKey = new Uint8Array(32).fill(4);
    const ctx = { stream: 'p/health', id: 'r1', epoch: 0, rev: 1, deleted: false };
    const { sealed } = sealRecordVersion(key, tagKey, ctx, { a: 1 });
    const ct = base64urlEncode(sealed);
    const { replies, received } = answer({
      op: 'wireOpen',
      keys: [key, tagKey],
      items: [{ key: 0, stream: ctx.stream, id: ctx.id, epoch: 0, rev: 1, ct }],
    });
    expect(replies[0] && 'result' in replies[0] && replies[0].result).toMatchObject({
      op: 'wireOpen',
      items: [{ ok: true, data: { a: 1 } }],
    });
    expect(received.op === 'wireOpen' && received.keys.every(isZero)).toBe(true);
  });

  it('zeroes the key of a job that fails as a whole', () => {
    const job: CryptoJob = { op: 'open', key: new Uint8Array(32).fill(9), items: 'no list' as never };
    const { replies, received } = answer(job);
    expect(replies[0] && 'error' in replies[0]).toBe(true);
    expect(received.op === 'open' && isZero(received.key)).toBe(true);
  });
});
