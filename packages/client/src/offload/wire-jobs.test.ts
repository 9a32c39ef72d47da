// Wire cryptography as plain-data batches: what `runWireJob` answers per item, in order, without
// ever throwing for a bad item.
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  base64urlEncode,
  contentRevisionTag,
  deriveRevisionTagKey,
  generateStreamKey,
} from '@hale/crypto';
import { flipByte, idOf, reasons } from '../sync/codec-fixture.test-util';
import {
  runWireJob,
  type WireOpenItem,
  type WireOpenOutcome,
  type WireSealItem,
  type WireSealOutcome,
} from './wire-jobs';

const key = generateStreamKey();
const tagKey = deriveRevisionTagKey(key);
const otherKey = generateStreamKey();
const STREAM = 'acct-patient/allergy';

const sealItem = (over: Partial<WireSealItem> = {}): WireSealItem => ({
  key: 0,
  tagKey: 1,
  stream: STREAM,
  id: '01J00000000000000000000001',
  epoch: 0,
  rev: 1,
  deleted: false,
  content: { kind: 'Allergy', data: { substance: 'Latex' } },
  ...over,
});

/** The open item that expects exactly the context `s` was sealed under. */
const openItemFor = (s: WireSealItem, ct: string, over: Partial<WireOpenItem> = {}): WireOpenItem => ({
  key: s.key,
  stream: s.stream,
  id: s.id,
  epoch: s.epoch,
  rev: s.rev,
  ct,
  ...over,
});

const seal = (items: readonly WireSealItem[], keys: readonly Uint8Array[] = [key, tagKey]) => {
  const result = runWireJob({ op: 'wireSeal', keys, items });
  expect(result.op).toBe('wireSeal');
  if (result.op !== 'wireSeal') throw new Error('unreachable');
  expect(result.items).toHaveLength(items.length);
  return result.items;
};

const open = (items: readonly WireOpenItem[], keys: readonly Uint8Array[] = [key, tagKey]) => {
  const result = runWireJob({ op: 'wireOpen', keys, items });
  expect(result.op).toBe('wireOpen');
  if (result.op !== 'wireOpen') throw new Error('unreachable');
  expect(result.items).toHaveLength(items.length);
  return result.items;
};

const sealed = (outcome: WireSealOutcome | undefined): { ct: string; tag: string } => {
  if (!outcome) throw new Error('expected a sealed item');
  return outcome;
};

const sealOne = (item: WireSealItem = sealItem()) => sealed(seal([item])[0]);

const failure = (outcome: WireOpenOutcome | undefined) => {
  expect(outcome).toBeDefined();
  expect(outcome!.ok).toBe(false);
  return outcome as Extract<WireOpenOutcome, { ok: false }>;
};

describe('runWireJob: seal then open', () => {
  it('round-trips data, content tag and deletion flag', () => {
    const live = sealItem();
    const gone = sealItem({ id: '01J00000000000000000000002', rev: 7, deleted: true, content: null });
    const [a, b] = seal([live, gone]).map(sealed);
    expect(a!.tag).toBe(
      contentRevisionTag(tagKey, { stream: STREAM, id: live.id, rev: 1, deleted: false, data: live.content }),
    );
    expect(b!.tag).toBe(
      contentRevisionTag(tagKey, { stream: STREAM, id: gone.id, rev: 7, deleted: true, data: null }),
    );
    expect(a!.tag).toMatch(/^1-[0-9a-f]{24}$/);
    expect(b!.tag).toMatch(/^7-[0-9a-f]{24}$/);
    // The ciphertext is base64url and does not carry the plaintext in clear.
    expect(a!.ct).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(a!.ct).not.toContain('Latex');

    const opened = open([openItemFor(live, a!.ct), openItemFor(gone, b!.ct)]);
    expect(opened).toEqual([
      { ok: true, data: { kind: 'Allergy', data: { substance: 'Latex' } }, tag: a!.tag, deleted: false },
      { ok: true, data: null, tag: b!.tag, deleted: true },
    ]);
  });

  it('seals the same version twice to different ciphertexts with the same tag', () => {
    const [a, b] = seal([sealItem(), sealItem()]).map(sealed);
    expect(a!.tag).toBe(b!.tag);
    expect(a!.ct).not.toBe(b!.ct);
  });

  it('sends a key shared by many items once: every item names the same table index', () => {
    const items = Array.from({ length: 12 }, (_, n) => sealItem({ id: idOf(n), rev: n + 1, content: { n } }));
    const job = { op: 'wireSeal' as const, keys: [key, tagKey], items };
    expect(job.keys).toHaveLength(2);
    expect(new Set(items.map((i) => i.key))).toEqual(new Set([0]));
    expect(new Set(items.map((i) => i.tagKey))).toEqual(new Set([1]));
    const result = runWireJob(job);
    if (result.op !== 'wireSeal') throw new Error(`answered ${result.op}`);
    const outs = result.items.map(sealed);
    expect(outs).toHaveLength(12);
    expect(outs.map((o) => o.tag.split('-')[0])).toEqual(items.map((i) => String(i.rev)));

    // Opening: one key in the table, twelve items naming index 0, answers in item order.
    const opened = open(
      items.map((i, n) => openItemFor(i, outs[n]!.ct)),
      [key],
    );
    expect(opened).toEqual(
      items.map((i, n) => ({
        ok: true,
        data: { n: (i.content as { n: number }).n },
        tag: outs[n]!.tag,
        deleted: false,
      })),
    );
  });

  it('uses the key the item names, not the first in the table', () => {
    const item = sealItem({ key: 2, tagKey: 0 });
    const keys = [tagKey, otherKey, key];
    const { ct, tag } = sealed(seal([item], keys)[0]);
    expect(tag).toBe(
      contentRevisionTag(tagKey, { stream: STREAM, id: item.id, rev: 1, deleted: false, data: item.content }),
    );
    expect(open([openItemFor(item, ct)], keys)[0]).toMatchObject({ ok: true, tag });
    // Index 1 (another stream key) does not open it.
    expect(failure(open([openItemFor(item, ct, { key: 1 })], keys)[0]).reason).toBe('WRONG_KEY');
  });
});

describe('runWireJob: ciphertexts that do not open', () => {
  const item = sealItem();
  const { ct } = sealOne(item);

  it('answers TAMPERED for a ct that is not base64url', () => {
    const outs = open([
      openItemFor(item, 'not*base64url!'),
      openItemFor(item, ct.slice(0, -1) + '='),
      openItemFor(item, 'A'), // impossible length
      openItemFor(item, ct),
    ]);
    for (const o of outs.slice(0, 3)) {
      expect(o).toEqual({ ok: false, reason: 'TAMPERED', message: 'ciphertext is not base64url' });
    }
    expect(outs[3]).toMatchObject({ ok: true });
  });

  it('answers TAMPERED for a flipped ciphertext byte, an empty or a truncated ct', () => {
    const bytes = base64urlDecode(ct);
    if (!bytes.ok) throw new Error('sealed ct must be base64url');
    const outs = open([
      openItemFor(item, flipByte(ct, -1, 0x01)), // the last byte
      openItemFor(item, flipByte(ct, 40, 0x80)), // inside the MAC, past version byte (1), key id (8) and nonce (24)
      openItemFor(item, flipByte(ct, 0, 0x02)), // the version byte
      openItemFor(item, ''),
      openItemFor(item, base64urlEncode(bytes.value.subarray(0, 30))),
    ]);
    expect(reasons(outs)).toEqual(['TAMPERED', 'TAMPERED', 'TAMPERED', 'TAMPERED', 'TAMPERED']);
    expect(failure(outs[0]).message).toMatch(/authentication failed/);
  });

  it('answers WRONG_KEY for another stream key', () => {
    const [o] = open([openItemFor(item, ct)], [otherKey]);
    expect(failure(o).reason).toBe('WRONG_KEY');
    expect(failure(o).message).toMatch(/another key/);
  });

  it('answers CONTEXT_MISMATCH when opened as another stream, id, epoch or rev', () => {
    const outs = open([
      openItemFor(item, ct, { stream: 'acct-patient/medication' }),
      openItemFor(item, ct, { id: '01J00000000000000000000099' }),
      openItemFor(item, ct, { epoch: 1 }),
      openItemFor(item, ct, { rev: 2 }),
      openItemFor(item, ct),
    ]);
    expect(reasons(outs)).toEqual([
      'CONTEXT_MISMATCH',
      'CONTEXT_MISMATCH',
      'CONTEXT_MISMATCH',
      'CONTEXT_MISMATCH',
      'ok',
    ]);
    expect(failure(outs[0]).message).toMatch(/stream/);
    expect(failure(outs[1]).message).toMatch(/\bid\b/);
    expect(failure(outs[2]).message).toMatch(/epoch/);
    expect(failure(outs[3]).message).toMatch(/rev/);
  });
});

describe('runWireJob: bad items answer alone, in order', () => {
  it('a key index outside the table: seal answers null, open answers a failure', () => {
    const good = sealItem();
    const outs = seal([
      sealItem({ key: 2 }),
      good,
      sealItem({ tagKey: 5 }),
      sealItem({ key: -1 }),
      sealItem({ key: 0.5 }),
    ]);
    expect(outs[0]).toBeNull();
    expect(outs[1]).toMatchObject({ tag: expect.stringMatching(/^1-/) as unknown });
    expect(outs[2]).toBeNull();
    expect(outs[3]).toBeNull();
    expect(outs[4]).toBeNull();

    const { ct } = sealed(outs[1]);
    const opened = open(
      [openItemFor(good, ct, { key: 3 }), openItemFor(good, ct), openItemFor(good, ct, { key: -1 })],
      [key],
    );
    expect(opened[0]).toEqual({ ok: false, reason: 'WRONG_KEY', message: 'no key for this item' });
    expect(opened[1]).toMatchObject({ ok: true, deleted: false });
    expect(opened[2]).toEqual({ ok: false, reason: 'WRONG_KEY', message: 'no key for this item' });
  });

  it('content that is not JSON answers null; the other items of the batch still seal', () => {
    const holey: unknown[] = [1];
    holey[2] = 3;
    const items = [
      sealItem({ content: { a: 1 } }),
      sealItem({ content: { f: () => 1 } }),
      sealItem({ content: { b: 2 } }),
      sealItem({ content: { n: Number.NaN } }),
      sealItem({ content: { u: undefined } }),
      sealItem({ content: { big: 10n } }),
      sealItem({ content: holey }), // array hole
      sealItem({ content: { c: 3 } }),
    ];
    const outs = seal(items);
    expect(outs.map((o) => o !== null)).toEqual([true, false, true, false, false, false, false, true]);
    const good = [0, 2, 7];
    const opened = open(good.map((n) => openItemFor(items[n]!, sealed(outs[n]).ct)));
    expect(opened).toEqual([
      { ok: true, data: { a: 1 }, tag: outs[0]!.tag, deleted: false },
      { ok: true, data: { b: 2 }, tag: outs[2]!.tag, deleted: false },
      { ok: true, data: { c: 3 }, tag: outs[7]!.tag, deleted: false },
    ]);
  });

  it('bad keys and contexts answer null / a failure instead of throwing', () => {
    const short = new Uint8Array(16);
    expect(() => runWireJob({ op: 'wireSeal', keys: [short, tagKey], items: [sealItem()] })).not.toThrow();
    expect(seal([sealItem(), sealItem({ rev: -1 }), sealItem({ id: '' })], [key, tagKey])).toEqual([
      expect.objectContaining({ tag: expect.stringMatching(/^1-/) as unknown }),
      null,
      null,
    ]);
    expect(seal([sealItem()], [short, tagKey])).toEqual([null]);
    expect(seal([sealItem()], [key, short])).toEqual([null]);

    const { ct } = sealOne();
    const [wrongLength] = open([openItemFor(sealItem(), ct)], [short]);
    expect(failure(wrongLength).reason).toBe('WRONG_KEY');
  });

  it('answers an empty batch with no items', () => {
    expect(runWireJob({ op: 'wireSeal', keys: [], items: [] })).toEqual({ op: 'wireSeal', items: [] });
    expect(runWireJob({ op: 'wireOpen', keys: [], items: [] })).toEqual({ op: 'wireOpen', items: [] });
  });
});
