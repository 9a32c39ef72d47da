// Two nodes continuing one patient's server audit chain at once: viewers open the patient's SMART Health
// Links through node A and node B concurrently, and every opening logs access events in the patient's
// audit stream, continuing the server's one chain. Both nodes read the same chain end and race for the
// same position; the loser must chain again after the winner (not fail the access): every opening answers
// 200, and the chain holds each position once, in order, each entry linked to the one before.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainLinkHash } from '@hale/crypto';
import { auditSignaturePayload, type ShlLinkInfo } from '@hale/protocol';
import { http, registerAccount, sessionToken } from '@hale/sync-server/testing';
import { useCouchCluster } from './support';

const cluster = useCouchCluster();

const LINKS = 4;
const OPENINGS_PER_LINK = 4;
const TYPES = ['allergy', 'medication'] as const;

describe('one patient audit chain continued by two nodes at once', () => {
  it('accesses logged through two nodes concurrently all succeed and form one unbroken chain', async () => {
    const [a, b] = await cluster.startNodes(2, 'chain');
    const patient = await registerAccount(a);
    const token = await sessionToken(a, patient.device);
    const links = await Promise.all(
      Array.from({ length: LINKS }, async () => {
        const linkToken = randomBytes(32).toString('base64url');
        const created = await http(
          a.url,
          'POST',
          '/v1/shl',
          {
            linkId: randomBytes(16).toString('base64url'),
            token: linkToken,
            emergency: true,
            contents: TYPES.map((type) => ({ type, count: 1 })),
            contentType: 'application/fhir+json',
            jwe: 'eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn',
          },
          token,
        );
        expect(created.status).toBe(200);
        return { token: linkToken, linkId: (created.body as ShlLinkInfo).linkId };
      }),
    );

    const openings = await Promise.all(
      links.flatMap((link, l) =>
        Array.from({ length: OPENINGS_PER_LINK }, (_, i) =>
          http((l + i) % 2 === 0 ? a.url : b.url, 'POST', `/shl/${link.token}`, { recipient: `viewer ${i}` }),
        ),
      ),
    );
    expect(openings.map((o) => o.status)).toEqual(openings.map(() => 200));

    const serverId = a.server.server.serverId;
    const page = await b.store.docs.readDocs(`${patient.accountId}/audit`, 0, 10_000, 1 << 24);
    const chain = page.docs
      .filter((d) => d.author === serverId)
      .sort((x, y) => (x.audit?.authorSeq ?? 0) - (y.audit?.authorSeq ?? 0));
    const total = LINKS * OPENINGS_PER_LINK * TYPES.length;
    expect(chain.map((d) => d.audit?.authorSeq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    let prevHash: string | null = null;
    for (const d of chain) {
      const audit = d.audit;
      if (audit === undefined || d.sig === undefined) throw new Error('a server entry without its header');
      expect(audit.prevHash).toBe(prevHash);
      const payload = auditSignaturePayload({
        stream: d.stream,
        id: d.id,
        rev: d.rev,
        deleted: d.deleted,
        epoch: d.epoch,
        author: d.author,
        ct: Buffer.from(d.ct).toString('base64url'),
        audit,
      } as Parameters<typeof auditSignaturePayload>[0]);
      prevHash = chainLinkHash(payload, Buffer.from(d.sig, 'base64url'));
    }
    const listed = await http(a.url, 'GET', '/v1/shl', undefined, token);
    expect((listed.body as { links: ShlLinkInfo[] }).links.map((l) => l.accessCount)).toEqual(
      links.map(() => OPENINGS_PER_LINK),
    );
  });
});
