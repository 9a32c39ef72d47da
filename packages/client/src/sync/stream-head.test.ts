import { describe, expect, it } from 'vitest';
import { generateDeviceKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  checkAgainstHead,
  headIssue,
  headRoot,
  signStreamHead,
  verifyStreamHead,
  type HeadLeaf,
} from './stream-head';

const ed = createNodeEd25519();
const STREAM = 'AAAAAAAAAAAAAAAAAAAAAA/allergy';
const leaf = (i: number, rv = 1, tag = `t${i}-${rv}`): HeadLeaf => ({
  id: `01J${String(i).padStart(23, '0')}`,
  rv,
  deleted: false,
  tag,
});
const leaves = [leaf(1), leaf(2, 3), leaf(3), leaf(4, 2)];
const heldFrom = (list: readonly HeadLeaf[]) => {
  const m = new Map(list.map((l) => [l.id, { rv: l.rv, tag: l.tag }]));
  return (id: string) => m.get(id);
};

describe('stream heads', () => {
  it('a root depends on the set of leaves, not their order; any change of a leaf changes it', () => {
    const root = headRoot(leaves);
    expect(headRoot([...leaves].reverse())).toEqual(root);
    expect(root.n).toBe(4);
    expect(headRoot([leaf(1, 2), ...leaves.slice(1)]).root).not.toBe(root.root);
    expect(headRoot(leaves.slice(1)).root).not.toBe(root.root);
    expect(headRoot([{ ...leaf(1), deleted: true }, ...leaves.slice(1)]).root).not.toBe(root.root);
    expect(() => headRoot([...leaves, leaf(1)])).toThrow(/named twice/);
  });

  it('verifies only for the signing device and an unchanged statement', async () => {
    const device = generateDeviceKeys();
    const other = generateDeviceKeys();
    const about = { stream: STREAM, seq: 9, at: '2026-11-25T12:00:00.000Z', device: device.deviceId };
    const signed = await signStreamHead(ed, device.secretKey, about, leaves);
    expect(await verifyStreamHead(ed, device.publicKey, signed)).toBe(true);
    expect(await verifyStreamHead(ed, other.publicKey, signed)).toBe(false);
    expect(await verifyStreamHead(ed, device.publicKey, { ...signed, head: { ...signed.head, n: 3 } })).toBe(
      false,
    );
  });

  it('passes a copy that holds every confirmed version, or a later one of it, or more records', () => {
    const { n, root } = headRoot(leaves);
    const head = { v: 1 as const, stream: STREAM, n, root, seq: 9, at: 'then', device: 'dev' };
    expect(checkAgainstHead(head, leaves, heldFrom(leaves))).toEqual({ ok: true, findings: [] });
    const later = [leaf(1, 5), ...leaves.slice(1), leaf(9)];
    expect(checkAgainstHead(head, leaves, heldFrom(later))).toEqual({ ok: true, findings: [] });
  });

  it('names a withheld record and a rolled-back one, in words', () => {
    const { n, root } = headRoot(leaves);
    const head = { v: 1 as const, stream: STREAM, n, root, seq: 9, at: 'then', device: 'dev' };
    // The server serves record 2 at revision 1 (an older genuine version) and withholds record 4.
    const served = [leaf(1), leaf(2, 1), leaf(3)];
    const check = checkAgainstHead(head, leaves, heldFrom(served));
    expect(check).toEqual({
      ok: true,
      findings: [
        { kind: 'rolled-back', id: leaf(2).id, rv: 3, held: 1 },
        { kind: 'withheld', id: leaf(4).id, rv: 2 },
      ],
    });
    if (!check.ok) throw new Error('unreachable');
    const issues = check.findings.map((f) => headIssue(head, f));
    expect(issues.map((i) => i.code)).toEqual(['HEAD_ROLLED_BACK', 'HEAD_WITHHELD']);
    expect(issues[0]!.message).toMatch(
      /older version of record .* \(revision 1\): device dev confirmed revision 3/,
    );
    expect(issues[1]!.message).toMatch(/holds back record/);
    // Same revision, other content.
    const swapped = [leaf(1, 1, 'other'), ...leaves.slice(1)];
    const again = checkAgainstHead(head, leaves, heldFrom(swapped));
    expect(again.ok && again.findings).toEqual([{ kind: 'replaced', id: leaf(1).id, rv: 1 }]);
  });

  it('refuses leaves that are not the signed ones (a server dropping a leaf from the list)', () => {
    const { n, root } = headRoot(leaves);
    const head = { v: 1 as const, stream: STREAM, n, root, seq: 9, at: 'then', device: 'dev' };
    expect(checkAgainstHead(head, leaves.slice(1), heldFrom(leaves.slice(1)))).toEqual({
      ok: false,
      reason: 'LEAVES_MISMATCH',
    });
  });

  it('roots 100,000 records in one pass (timed; see the cost in docs/architecture.md)', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => leaf(i, 1 + (i % 7)));
    const started = performance.now();
    const { n } = headRoot(many);
    const elapsed = performance.now() - started;
    expect(n).toBe(100_000);
    console.log(`headRoot of 100k leaves: ${elapsed.toFixed(0)} ms`);
    // A bound for a loaded machine, not the cost: 2n SHA-256 (0.75 s idle with @noble, 3-5 s at load 5).
    expect(elapsed).toBeLessThan(30_000);
  });
});
