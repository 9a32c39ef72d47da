// SMART Health Links and the emergency card through the app's path (`session.io` of `openHaleForTests`, a
// real server): content encrypted on the device and opened by anyone holding the link (a viewer with no
// account: openLink, and the server's viewer page in Chromium); a passcode wrong three times locks the
// link; expiry and revocation are honoured; every access is in the link's log and, sealed to the patient,
// in the audit trail the patient's device reads live.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { firstValueFrom, from, throwError, timeout } from 'rxjs';
import { isHaleError, openLink, type HaleSession } from '@hale/client';
import { checkIpsRules } from '@hale/model';
import { http, registerAccount, sessionToken } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { input } from '../support/records';
import { validateR4 } from '../support/fhir-r4';
import { requireChromium } from '../browser/harness';
import { createdSession, online, useHaleSessions, when } from '../client-api/hale-devices';

// The server's clock is the harness's (expiry is tested by moving it); the devices keep the real one.
const server = useServer();
const sessions = useHaleSessions();
/** A patient's session (`openHaleForTests` over `nodePlatform`), online, with a chart to share. */
const open = async () => {
  const { session: s } = await createdSession(server.t.url, sessions);
  await online(s);
  await s.records.add('Profile', input('Profile', { bloodType: 'AB-' }));
  await s.records.add('Allergy', input('Allergy', { substance: 'Peanuts' }));
  await s.records.add('Medication', input('Medication'));
  await s.records.add(
    'Condition',
    input('Condition', { abatementDate: undefined, clinicalStatus: 'active' } as never),
  );
  await s.records.add(
    'EmergencyContact',
    input('EmergencyContact', { name: 'Grace Example', phone: '+1 555 0101' }),
  );
  return { s, io: s.io };
};

const codeOf = (attempt: Promise<unknown>) =>
  attempt.then(
    () => 'opened',
    (e: unknown) =>
      isHaleError(e)
        ? `${e.code}${'detail' in e && (e.detail as { remainingAttempts?: number }).remainingAttempts !== undefined ? ` ${(e.detail as { remainingAttempts: number }).remainingAttempts}` : ''}`
        : String(e),
  );

/** The link's openings in the patient's audit trail (`session.audit.access`), as last read. */
const linkOpens = (s: HaleSession, linkId: string) =>
  (s.audit.access.get()?.records ?? []).filter((a) => a.actorId === linkId && a.action === 'link-open');

/** Waits until the patient's audit trail, read again, lists an opening of the link. */
const linkOpened = (s: HaleSession, linkId: string, what: string) => {
  s.audit.refresh();
  return when(
    s.audit.access,
    (answer) => (answer?.records ?? []).some((a) => a.actorId === linkId && a.action === 'link-open'),
    what,
  );
};

describe('a shared summary', () => {
  it('opens without an account with the passcode; three wrong passcodes lock it', async () => {
    const { s, io } = await open();
    const created = await io.shareSummary({ label: 'For Dr. Lee', passcode: '4711' });
    expect(created.link).toMatch(/^shlink:\/[A-Za-z0-9_-]+$/);
    expect(created.viewerUrl).toBe(`${server.t.url}/shl/view#${created.link}`);

    const summary = (await openLink(fetch, created.link, { recipient: 'Dr. Lee', passcode: '4711' })) as {
      entry: { resource: { resourceType: string } }[];
    };
    expect(validateR4(summary).errors).toEqual([]);
    expect(checkIpsRules(summary)).toEqual([]);
    expect(JSON.stringify(summary)).toContain('Peanuts');
    // The server holds ciphertext only.
    const row = server.t.store.db
      .prepare('SELECT jwe FROM shl_links WHERE link_id = ?')
      .get(created.linkId) as { jwe: string };
    expect(row.jwe).not.toContain('Peanuts');
    expect(row.jwe.split('.')).toHaveLength(5);

    expect(await codeOf(openLink(fetch, created.link, { recipient: 'someone', passcode: '0000' }))).toBe(
      'LINK_PASSCODE_WRONG 2',
    );
    expect(await codeOf(openLink(fetch, created.link, { recipient: 'someone' }))).toBe(
      'LINK_PASSCODE_WRONG 1',
    );
    expect(await codeOf(openLink(fetch, created.link, { recipient: 'someone', passcode: '1234' }))).toBe(
      'LINK_PASSCODE_WRONG 0',
    );
    expect(await codeOf(openLink(fetch, created.link, { recipient: 'Dr. Lee', passcode: '4711' }))).toBe(
      'LINK_NOT_FOUND',
    );

    const [listed] = await io.links();
    expect(listed).toMatchObject({
      linkId: created.linkId,
      passcode: true,
      attemptsLeft: 0,
      accessCount: 1,
      label: 'For Dr. Lee',
    });
    const log = await io.linkAccesses(created.linkId);
    expect(log.map((a) => `${a.outcome} ${a.recipient}`)).toEqual([
      'refused Dr. Lee',
      'wrong-passcode someone',
      'wrong-passcode someone',
      'wrong-passcode someone',
      'opened Dr. Lee',
    ]);
    // The opening is an access event of the patient's audit trail, under the link's id.
    await linkOpened(s, created.linkId, 'the opening in the audit trail');
    const opens = linkOpens(s, created.linkId);
    expect(opens.map((a) => a.stream?.split('/')[1]).sort()).toEqual([
      'allergy',
      'condition',
      'medication',
      'profile',
    ]);
  });

  it('honours expiry and revocation', async () => {
    const { io } = await open();
    const expiring = await io.shareSummary({ expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    const revoked = await io.shareSummary({ kinds: ['Allergy'] });
    expect(await codeOf(openLink(fetch, revoked.link, { recipient: 'x' }))).toBe('opened');
    await io.revokeLink(revoked.linkId);
    expect(await codeOf(openLink(fetch, revoked.link, { recipient: 'x' }))).toBe('LINK_NOT_FOUND');
    expect(await codeOf(openLink(fetch, expiring.link, { recipient: 'x' }))).toBe('opened');
    server.t.clock.advance(2 * 3_600_000);
    expect(await codeOf(openLink(fetch, expiring.link, { recipient: 'x' }))).toBe('LINK_NOT_FOUND');
    const listed = await io.links();
    expect(listed.find((l) => l.linkId === revoked.linkId)?.revokedAt).toBeDefined();
  });

  it('opens a one-time link once, its file location included; then it is revoked', async () => {
    const { io } = await open();
    const once = await io.shareSummary({ oneTime: true, label: 'once' });
    expect(once.info.oneTime).toBe(true);
    expect(JSON.stringify(await openLink(fetch, once.link, { recipient: 'first' }))).toContain('Peanuts');
    expect(await codeOf(openLink(fetch, once.link, { recipient: 'second' }))).toBe('LINK_NOT_FOUND');
    const listed = (await io.links()).find((l) => l.linkId === once.linkId);
    expect(listed).toMatchObject({ oneTime: true, accessCount: 1 });
    expect(listed?.revokedAt).toBeDefined();
    // A viewer that takes the content by location gets it once too.
    const byLocation = await io.shareSummary({ oneTime: true });
    const summary = await openLink(fetch, byLocation.link, { recipient: 'small', embeddedLengthMax: 10 });
    expect(JSON.stringify(summary)).toContain('Peanuts');
    expect(
      await codeOf(openLink(fetch, byLocation.link, { recipient: 'small', embeddedLengthMax: 10 })),
    ).toBe('LINK_NOT_FOUND');
  });

  it('refuses a one-time emergency card: it opens for every responder', async () => {
    const patient = await registerAccount(server.t);
    const token = await sessionToken(server.t, patient.device);
    const request = (oneTime: boolean) =>
      http(
        server.t.url,
        'POST',
        '/v1/shl',
        {
          linkId: randomBytes(16).toString('base64url'),
          token: randomBytes(32).toString('base64url'),
          emergency: true,
          oneTime,
          contents: [{ type: 'allergy', count: 1 }],
          contentType: 'application/fhir+json',
          jwe: 'eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn',
        },
        token,
      );
    const refused = await request(true);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('not one-time');
    expect((await request(false)).status).toBe(200);
  });

  it('gives a viewer that caps embedded sizes a one-time file location', async () => {
    const { io } = await open();
    const created = await io.shareSummary();
    const summary = await openLink(fetch, created.link, { recipient: 'small viewer', embeddedLengthMax: 10 });
    expect(JSON.stringify(summary)).toContain('Peanuts');
  });

  it('opens in the server’s viewer page in a browser with no account', async () => {
    requireChromium();
    const { io } = await open();
    const created = await io.shareSummary({ label: 'Summary for the clinic', passcode: '2468' });
    const browser = await chromium.launch({
      executablePath: process.env.HALE_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(created.viewerUrl);
      await page.getByLabel('Your name or organisation').fill('Riverside clinic');
      await page.getByLabel('Passcode').fill('2468');
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByText('Peanuts').waitFor({ timeout: 15_000 });
      expect(await page.getByRole('heading', { name: 'Allergies and intolerances' }).count()).toBe(1);
      expect(await page.textContent('h1')).toBe('Summary for the clinic');
    } finally {
      await browser.close();
    }
  });
});

describe('the emergency card', () => {
  it('opens without a passcode, the patient’s device sees the access live, and rotation stops the old QR', async () => {
    const { s, io } = await open();
    const card = await io.emergencyCard();
    const heard: string[] = [];
    let told = (): void => undefined;
    const toldOnce = from(new Promise<void>((resolve) => (told = resolve))).pipe(
      timeout({
        first: 5_000,
        with: () => throwError(() => new Error('timed out: the patient device is told of the access')),
      }),
    );
    let stop = (): void => undefined;
    await new Promise<void>((ready) => {
      stop = io.watchLinkAccess(
        (access) => {
          heard.push(`${access.linkId} ${access.outcome} ${access.recipient}`);
          told();
        },
        { onReady: ready },
      );
    });
    try {
      const content = JSON.stringify(await openLink(fetch, card.link, { recipient: 'Ambulance crew 12' }));
      expect(content).toContain('Grace Example');
      expect(content).toContain('Peanuts');
      expect(content).toContain('AB-');
      await firstValueFrom(toldOnce);
      expect(heard).toEqual([`${card.linkId} opened Ambulance crew 12`]);
    } finally {
      stop();
    }
    await linkOpened(s, card.linkId, 'the access is in the audit trail');
    expect((await io.links()).find((l) => l.linkId === card.linkId)).toMatchObject({
      emergency: true,
      passcode: false,
      accessCount: 1,
    });

    const rotated = await io.rotateEmergencyCard();
    expect(rotated.linkId).not.toBe(card.linkId);
    expect(await codeOf(openLink(fetch, card.link, { recipient: 'x' }))).toBe('LINK_NOT_FOUND');
    expect(await codeOf(openLink(fetch, rotated.link, { recipient: 'x' }))).toBe('opened');
  });
});
