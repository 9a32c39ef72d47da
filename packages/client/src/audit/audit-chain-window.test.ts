// verifyAuditChains checks signatures several at a time: with an Ed25519 whose verifies end in any order
// (WebCrypto's, node:crypto's threadpool), it answers exactly what one-at-a-time checks answer — the same
// problems in served order, heads, refused entries and link hashes.
import { describe, expect, it } from 'vitest';
import {
  chainLinkHash,
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  base64urlDecode,
  type Ed25519,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { auditSignaturePayload, type ServedDoc } from '@hale/protocol';
import { makeAuditEntry, verifyAuditChains, type ChainState } from './audit-chain';

const ed = createNodeEd25519();
const patient = deriveAccountKeys(generateRootSecret());
const devices = [generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys()];
let clock = Date.parse('2026-01-01T00:00:00.000Z');
const now = () => (clock += 1000);

/** `ed`, its verifies answering after a pseudo-random delay: they end out of the order they began. */
const shuffling = (inner: Ed25519): Ed25519 => {
  let n = 0;
  return {
    name: 'shuffling',
    sign: inner.sign,
    verify: async (publicKey, msg, sig) => {
      const ok = await inner.verify(publicKey, msg, sig);
      const delay = (n++ * 7919) % 13;
      await new Promise((resolve) => setTimeout(resolve, delay));
      return ok;
    },
  };
};

const entriesOf = async (): Promise<ServedDoc[]> => {
  const chains = devices.map((): ChainState => ({ seq: 0, hash: null }));
  const docs: ServedDoc[] = [];
  for (let i = 0; i < 300; i++) {
    const d = i % devices.length;
    const device = devices[d]!;
    const made = await makeAuditEntry({
      patientId: patient.accountId,
      patientWrappingKey: patient.wrapping.publicKey,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      ed,
      chain: chains[d]!,
      body: {
        kind: 'AuditEntry',
        action: `action-${i}`,
        actorId: patient.accountId,
        actorDeviceId: device.deviceId,
        at: new Date(now()).toISOString(),
      },
      now,
    });
    chains[d] = made.chain;
    docs.push({ ...made.doc, seq: i + 1, at: new Date(clock).toISOString() });
  }
  // Tampered bodies, a dropped entry, a duplicate position and one served out of order, spread over the log.
  for (const at of [17, 150, 299]) docs[at] = { ...docs[at]!, ct: docs[at - 3]!.ct };
  docs.splice(90, 1);
  // The copy keeps its id (covered by the signature): a second entry at a position, not a modified one.
  docs.splice(200, 0, { ...docs[198]!, seq: 10_000 });
  // Two entries of one author (every third entry is the same device's), served out of order.
  [docs[40], docs[43]] = [docs[43]!, docs[40]!];
  return docs;
};

describe('verifyAuditChains with signatures checked several at a time', () => {
  it('answers as one-at-a-time checks do, whatever order the checks end in', async () => {
    const docs = await entriesOf();
    const keys = new Map(devices.map((d) => [d.deviceId, d.publicKey]));
    const authorKey = async (e: ServedDoc) => keys.get(e.author) ?? null;
    const reached = new Map([[devices[0]!.deviceId, 120]]);
    const one = await verifyAuditChains(docs, authorKey, ed, reached);
    const many = await verifyAuditChains(docs, authorKey, shuffling(ed), reached);
    expect(one.verification.problems.map((p) => p.kind)).toEqual(
      expect.arrayContaining(['modified', 'deleted', 'inserted', 'reordered']),
    );
    expect(many.verification).toEqual(one.verification);
    expect([...many.heads]).toEqual([...one.heads]);
    expect([...many.refused].map((e) => e.id)).toEqual([...one.refused].map((e) => e.id));
    expect([...many.links].map(([e, link]) => [e.id, link])).toEqual(
      [...one.links].map(([e, link]) => [e.id, link]),
    );
    // Each link hash is the entry's chainLinkHash, computed from the message the signature was checked on.
    for (const [e, link] of one.links) {
      const sig = base64urlDecode(e.sig ?? '');
      if (!sig.ok || e.audit === undefined) throw new Error('served entry without a signature');
      expect(link).toBe(chainLinkHash(auditSignaturePayload({ ...e, audit: e.audit }), sig.value));
    }
  });
});
