// Shared links through `openHale` against a real server, with what the server holds of them sealed: the
// label and per-kind counts by the patient's device, the name a viewer types by the server on receipt. The
// patient's devices (the one that shared and one that joined later) still show the label, the counts, the
// viewer's name and each opening's count in the access story; the server's rows hold none of them; another
// account's key opens neither, and a sealed text the server moves to another link of the same patient does
// not open there. (Heard live, `watchLinkAccess`: records-io/shared-links.e2e.test.ts.)
import { describe, expect, it } from 'vitest';
import { openLinkDetails, openLinkRecipient } from '@hale/crypto';
import { openLink, type HaleSession } from '@hale/client';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { input } from '../support/records';
import { createdSession, joinedSession, useHaleSessions, when } from './hale-devices';

const LABEL = 'For Dr Vantablack at Ravenholm';
const VIEWER = 'Dr Zebulon Quillfeather';

const linkOpenings = (s: HaleSession, linkId: string) =>
  (s.audit.access.get()?.records ?? []).filter((r) => r.action === 'link-open' && r.actorId === linkId);

describe('a shared link, sealed on the server', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it("shows its label, counts and viewers' names on the patient's devices only", async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    await laptop.records.add('Allergy', input('Allergy', { substance: 'Peanuts' }));
    await laptop.records.add('Allergy', input('Allergy', { substance: 'Penicillin' }));
    await laptop.records.add('Medication', input('Medication'));
    const created = await laptop.io.shareSummary({ label: LABEL, kinds: ['Allergy', 'Medication'] });
    const contents = [
      { type: 'allergy', count: 2 },
      { type: 'medication', count: 1 },
    ];
    expect(created.info).toMatchObject({ label: LABEL, contents });
    expect(JSON.stringify(await openLink(fetch, created.link, { recipient: VIEWER }))).toContain('Peanuts');

    // Another device of the account, joined after: the same, from its own opening of the sealed copies.
    const phone = await joinedSession(server.t.url, sessions, loginName);
    for (const s of [laptop, phone]) {
      const [listed] = await s.io.links();
      expect(listed).toMatchObject({ linkId: created.linkId, label: LABEL, contents, accessCount: 1 });
      expect(listed?.detailsUnreadable).toBeUndefined();
      expect((await s.io.linkAccesses(created.linkId)).map((a) => [a.outcome, a.recipient])).toEqual([
        ['opened', VIEWER],
      ]);
      // The audit entries of the opening carry no count; the access story shows each kind's from the link.
      s.audit.refresh();
      await when(s.audit.access, () => linkOpenings(s, created.linkId).length === 2, 'the opening logged');
      expect(
        linkOpenings(s, created.linkId)
          .map((r) => [r.stream?.split('/')[1], r.count])
          .sort(),
      ).toEqual([
        ['allergy', 2],
        ['medication', 1],
      ]);
    }

    // The server's rows: types in clear, the rest sealed.
    const db = server.t.store.db;
    const row = db
      .prepare('SELECT label, contents, types, sealed FROM shl_links WHERE link_id = ?')
      .get(created.linkId) as { label: null; contents: string; types: string; sealed: string };
    expect(row).toMatchObject({ label: null, contents: '[]', types: '["allergy","medication"]' });
    const access = db
      .prepare('SELECT recipient, sealed_recipient FROM shl_accesses WHERE link_id = ?')
      .get(created.linkId) as { recipient: string; sealed_recipient: string };
    expect(access.recipient).toBe('');
    const stored = JSON.stringify({ row, access });
    for (const clear of [LABEL, 'Ravenholm', VIEWER, 'Quillfeather', '"count"'])
      expect(stored).not.toContain(clear);

    // Another account: lists none of them, and its key opens neither sealed text.
    const { session: other } = await createdSession(server.t.url, sessions);
    expect(await other.io.links()).toEqual([]);
    const stranger = await registerAccount(server.t);
    expect(openLinkDetails(row.sealed, stranger.keys.wrapping, created.linkId)).toMatchObject({ ok: false });
    expect(openLinkRecipient(access.sealed_recipient, stranger.keys.wrapping, created.linkId)).toMatchObject({
      ok: false,
    });

    // The server moves the sealed texts to another link of the same patient: they do not open there.
    const second = await laptop.io.shareSummary({ label: 'second', kinds: ['Allergy'] });
    await openLink(fetch, second.link, { recipient: 'someone else' });
    db.prepare('UPDATE shl_links SET sealed = ? WHERE link_id = ?').run(row.sealed, second.linkId);
    db.prepare('UPDATE shl_accesses SET sealed_recipient = ? WHERE link_id = ?').run(
      access.sealed_recipient,
      second.linkId,
    );
    const moved = (await laptop.io.links()).find((l) => l.linkId === second.linkId);
    expect(moved).toMatchObject({ contents: [], detailsUnreadable: true });
    expect(moved?.label).toBeUndefined();
    const [unread] = await laptop.io.linkAccesses(second.linkId);
    expect(unread).toMatchObject({ outcome: 'opened', recipient: '', recipientUnreadable: true });
  });
});
