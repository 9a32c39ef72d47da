// @vitest-environment happy-dom
// The hooks' own rules: an Observed made from arguments is made again only when they change by value,
// a component re-renders at each change of the Observed it reads, and it tells "not read yet" from "none".
import { afterEach, describe, expect, it } from 'vitest';
import { createElement as h, type ReactNode } from 'react';
import { act, cleanup, render, screen } from '@testing-library/react';
import { BehaviorSubject } from 'rxjs';
import type { HaleSession, Observed, RecordPage, RecordQuery, SearchResults } from '@hale/client';
import { HaleProvider } from './hale-provider';
import { useDeviceRemoved, useGrants, useGrantsLoaded, useRecords, useSearch, useSyncStatus } from './hooks';

afterEach(() => cleanup());

const observedOf = <T>(subject: BehaviorSubject<T>): Observed<T> => ({
  get: () => subject.value,
  subscribe: (listener) => {
    let first = true;
    const sub = subject.subscribe(() => (first ? (first = false) : listener()));
    return () => sub.unsubscribe();
  },
  $: subject.asObservable(),
  error: () => undefined,
  loaded: () => true,
});

/** A session whose `records.list` and `search` count the Observed they make. */
const fakeSession = () => {
  const made = { lists: [] as RecordQuery[], searches: [] as string[] };
  const page = new BehaviorSubject<RecordPage<'Allergy'>>({ items: [], total: 0 });
  const session = {
    records: {
      list: (_kind: string, query: RecordQuery) => {
        made.lists.push(query);
        return observedOf(page);
      },
    },
    search: (query: string) => {
      made.searches.push(query);
      return observedOf(
        new BehaviorSubject<SearchResults>({ query, ready: true, hits: [], total: query.length }),
      );
    },
  } as unknown as HaleSession;
  return { session, made, page };
};

const text = (label: string): string | null =>
  (screen.getByLabelText(label) as unknown as { textContent: string | null }).textContent;

function Count(props: { query: RecordQuery }): ReactNode {
  return h('span', { 'aria-label': 'count' }, String(useRecords('Allergy', props.query).total));
}
function Search(props: { q: string }): ReactNode {
  return h('span', { 'aria-label': 'search' }, String(useSearch(props.q).total));
}

describe('@hale/react hooks', () => {
  it('an equal query keeps its Observed; another query makes a new one', () => {
    const { session, made } = fakeSession();
    const view = render(h(HaleProvider, { session }, h(Count, { query: { limit: 10 } })));
    view.rerender(h(HaleProvider, { session }, h(Count, { query: { limit: 10 } })));
    expect(made.lists).toEqual([{ limit: 10 }]);
    view.rerender(h(HaleProvider, { session }, h(Count, { query: { limit: 20 } })));
    expect(made.lists).toEqual([{ limit: 10 }, { limit: 20 }]);
  });

  it('re-renders at each change of the Observed', () => {
    const { session, page } = fakeSession();
    render(h(HaleProvider, { session }, h(Count, { query: {} })));
    expect(text('count')).toBe('0');
    act(() => page.next({ items: [], total: 3 }));
    expect(text('count')).toBe('3');
  });

  it('useSearch makes a search per query', () => {
    const { session, made } = fakeSession();
    const view = render(h(HaleProvider, { session }, h(Search, { q: 'pen' })));
    view.rerender(h(HaleProvider, { session }, h(Search, { q: 'pen' })));
    view.rerender(h(HaleProvider, { session }, h(Search, { q: 'penic' })));
    expect(made.searches).toEqual(['pen', 'penic']);
    expect(text('search')).toBe('5');
  });

  it('useGrantsLoaded tells an empty list not read yet from one read: none', () => {
    const grants = new BehaviorSubject<readonly unknown[]>([]);
    let loaded = false;
    const session = {
      consent: { grants: { ...observedOf(grants), loaded: () => loaded } },
    } as unknown as HaleSession;
    function Grants(): ReactNode {
      const list = useGrants();
      return h('span', { 'aria-label': 'grants' }, useGrantsLoaded() ? `${list.length} given` : 'reading');
    }
    render(h(HaleProvider, { session }, h(Grants)));
    expect(text('grants')).toBe('reading');
    act(() => {
      loaded = true;
      grants.next([]);
    });
    expect(text('grants')).toBe('0 given');
  });

  it('useSyncStatus and useDeviceRemoved draw again when their part changes, not at each count', () => {
    const state = new BehaviorSubject({ status: 'syncing', pending: 0, errors: [] as { code: string }[] });
    const session = { sync: { state: observedOf(state) } } as unknown as HaleSession;
    let draws = 0;
    function Status(): ReactNode {
      draws += 1;
      return h('span', { 'aria-label': 'status' }, `${useSyncStatus()} ${String(useDeviceRemoved())}`);
    }
    render(h(HaleProvider, { session }, h(Status)));
    expect([text('status'), draws]).toEqual(['syncing false', 1]);
    act(() => {
      for (let pending = 1; pending <= 50; pending++) state.next({ ...state.value, pending });
    });
    expect(draws).toBe(1);
    act(() => state.next({ status: 'fatal', pending: 0, errors: [{ code: 'DEVICE_REVOKED' }] }));
    expect([text('status'), draws]).toEqual(['fatal true', 2]);
  });
});
