// @vitest-environment happy-dom
// @hale/react against a real server: components bound to one device's session re-render when a change
// made on ANOTHER device of the account arrives through the sync server (a list, one record, a search),
// and a clinician's list of shared charts re-renders when the patient grants access.
import { afterEach, describe, expect, it } from 'vitest';
import { createElement as h, type ReactNode } from 'react';
import { cleanup, configure, render, screen, waitFor } from '@testing-library/react';
import {
  HaleProvider,
  HaleProviderMissing,
  useGrantsReceived,
  useRecord,
  useRecords,
  useSearch,
  useSyncState,
} from '@hale/react';
import type { HaleSession } from '@hale/client';
import { useServer } from '../support/fixture';
import { createdSession, joinedSession, online, useHaleSessions } from './hale-devices';

afterEach(() => cleanup());

// happy-dom's fetch enforces the same-origin policy of its page (http://localhost:3000); the devices here
// talk to the test server as a Node host would, so the policy is off for this file's window.
(
  (globalThis as Record<string, unknown>)['window'] as {
    happyDOM: { settings: { fetch: { disableSameOriginPolicy: boolean } } };
  }
).happyDOM.settings.fetch.disableSameOriginPolicy = true;

// A ceiling, not a wait: a sync over a real server can take more than the library's 1 s on a loaded machine.
configure({ asyncUtilTimeout: 20_000 });

/** The text of the element labelled `label` (the root tsconfig has no DOM types: read structurally). */
const textOf = (label: string): string | null =>
  (screen.getByLabelText(label) as unknown as { textContent: string | null }).textContent;

const allergyInput = (substance: string) => ({
  substance,
  severity: 'mild' as const,
  recordedAt: new Date().toISOString(),
  active: true,
});

/** The allergy list a chart screen shows, counting its renders. */
const renders = { list: 0 };
function AllergyList(): ReactNode {
  const page = useRecords('Allergy', { sort: 'written', order: 'asc' });
  renders.list += 1;
  return h(
    'ul',
    { 'aria-label': `allergies (${page.total})` },
    page.items.map((r) => h('li', { key: r.record.id }, r.record.substance)),
  );
}

function AllergyDetail(props: { id: string }): ReactNode {
  const stored = useRecord<'Allergy'>(props.id);
  return h(
    'p',
    { 'aria-label': 'detail' },
    stored === null ? 'none' : `${stored.record.substance} rv ${stored.rv}`,
  );
}

function SearchBox(props: { query: string }): ReactNode {
  const results = useSearch(props.query);
  return h(
    'output',
    { 'aria-label': `search ${props.query}` },
    results.ready
      ? results.hits.map((hit) => `${hit.kind}:${hit.field}`).join(',') || 'no match'
      : 'indexing',
  );
}

function SyncBar(): ReactNode {
  return h('span', { 'aria-label': 'sync' }, useSyncState().status);
}

function SharedCharts(): ReactNode {
  const charts = useGrantsReceived();
  return h(
    'ul',
    { 'aria-label': 'shared charts' },
    charts.map((c) =>
      h('li', { key: c.patientId }, `${c.patientId} ${c.state} ${c.streams.map((s) => s.type).join('+')}`),
    ),
  );
}

const withSession = (session: HaleSession, ...children: ReactNode[]) =>
  h(HaleProvider, { session }, ...children);

describe('@hale/react with a real sync server', () => {
  const server = useServer({ realClock: true });
  const sessions = useHaleSessions();

  it('re-renders a list, a record and a search when another device of the account changes them', async () => {
    const { session: laptop, loginName } = await createdSession(server.t.url, sessions);
    const first = await laptop.records.add('Allergy', allergyInput('Penicillin'));
    await laptop.sync.awaitInSync();
    const phone = await joinedSession(server.t.url, sessions, loginName);

    renders.list = 0;
    render(
      withSession(
        phone,
        h(SyncBar),
        h(AllergyList),
        h(AllergyDetail, { id: first.id }),
        h(SearchBox, { query: 'latex' }),
      ),
    );
    await screen.findByLabelText('allergies (1)');
    expect(textOf('allergies (1)')).toBe('Penicillin');
    await waitFor(() => expect(textOf('sync')).toBe('online'));
    await waitFor(() => expect(textOf('search latex')).toBe('no match'));
    const rendersBefore = renders.list;

    // Written on the laptop; the phone's screen changes with nothing done on the phone.
    await laptop.records.add('Allergy', allergyInput('Latex'));
    await laptop.records.update('Allergy', first.id, { substance: 'Amoxicillin' });
    await waitFor(() => expect(textOf('allergies (2)')).toBe('LatexAmoxicillin'), {
      timeout: 15_000,
    });
    await waitFor(() => expect(textOf('detail')).toMatch(/^Amoxicillin rv \d+$/));
    await waitFor(() => expect(textOf('search latex')).toBe('Allergy:substance'));
    expect(renders.list).toBeGreaterThan(rendersBefore);

    await laptop.records.remove(first.id);
    await waitFor(() => expect(textOf('detail')).toBe('none'), {
      timeout: 15_000,
    });
    await screen.findByLabelText('allergies (1)');
  });

  it("re-renders a clinician's shared charts when the patient grants access from its own device", async () => {
    const { session: patient } = await createdSession(server.t.url, sessions);
    const { session: clinic } = await createdSession(server.t.url, sessions, { role: 'provider' });
    await Promise.all([online(patient), online(clinic)]);
    render(withSession(clinic, h(SharedCharts)));
    expect(textOf('shared charts')).toBe('');

    await patient.consent.verifyProvider(clinic.account.accountId);
    await patient.consent.grant({
      granteeId: clinic.account.accountId,
      scope: [
        { type: 'allergy', access: 'read' },
        { type: 'lab-result', access: 'write' },
      ],
      durationMs: 30 * 24 * 3_600_000,
      purpose: 'follow-up',
    });
    await waitFor(
      () => expect(textOf('shared charts')).toBe(`${patient.account.accountId} active allergy+lab-result`),
      { timeout: 15_000 },
    );
  });

  it('a hook outside a provider throws HaleProviderMissing', () => {
    const quiet = console.error;
    console.error = () => undefined;
    try {
      expect(() => render(h(SyncBar))).toThrow(HaleProviderMissing);
    } finally {
      console.error = quiet;
    }
  });
});
