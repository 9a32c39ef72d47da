// The directory search as an Observed: first page at first listen, more() for the next, failures kept
// apart from what was read.
import { describe, expect, it } from 'vitest';
import type { VerifiedProvider } from '../account/account';
import { HaleClientError } from '../api/errors';
import { providerSearch, type SearchPage } from './provider-search';

const provider = (name: string): VerifiedProvider =>
  ({ profile: { displayName: name }, fingerprint: name }) as unknown as VerifiedProvider;
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('providerSearch', () => {
  it('reads the first page when listened to, the next on more(), and says when there is none', async () => {
    const asked: Array<string | undefined> = [];
    const page: SearchPage = async (_q, options = {}) => {
      asked.push(options.cursor);
      return options.cursor === undefined
        ? { providers: [provider('Lee')], dropped: 1, next: 'c1' }
        : { providers: [provider('Leeds')], dropped: 0 };
    };
    const results = providerSearch(page, ' lee ', 1);
    expect(results.get()).toMatchObject({ query: 'lee', status: 'idle', providers: [] });
    expect(asked).toEqual([]);
    const stop = results.subscribe(() => undefined);
    expect(results.get().status).toBe('searching');
    await settle();
    expect(results.get()).toMatchObject({ status: 'done', dropped: 1, hasMore: true });
    results.more();
    results.more(); // while searching: nothing more asked
    await settle();
    expect(asked).toEqual([undefined, 'c1']);
    expect(asked).toEqual([undefined, 'c1']);
    expect(results.get().providers.map((p) => p.profile.displayName)).toEqual(['Lee', 'Leeds']);
    expect(results.get().hasMore).toBe(false);
    stop();
  });

  it('a failed page keeps what was read, carries the HaleError, and more() asks it again', async () => {
    let fail = true;
    const page: SearchPage = async () => {
      if (fail) throw new HaleClientError({ code: 'NETWORK', status: 0, message: 'offline' });
      return { providers: [provider('Lee')], dropped: 0 };
    };
    const results = providerSearch(page, 'lee', undefined);
    const stop = results.subscribe(() => undefined);
    await settle();
    expect(results.get()).toMatchObject({ status: 'failed', providers: [], hasMore: true });
    expect(results.get().error?.code).toBe('NETWORK');
    fail = false;
    results.more();
    await settle();
    expect(results.get()).toMatchObject({ status: 'done', error: null, hasMore: false });
    stop();
  });

  it('a listener may ask for more as soon as a page shows', async () => {
    const asked: Array<string | undefined> = [];
    const results = providerSearch(
      async (_q, options = {}) => {
        asked.push(options.cursor);
        return asked.length < 3
          ? { providers: [provider(`P${asked.length}`)], dropped: 0, next: `c${asked.length}` }
          : { providers: [], dropped: 0 };
      },
      'p',
      1,
    );
    const stop = results.subscribe(() => {
      if (results.get().status === 'done') results.more();
    });
    for (let i = 0; i < 5; i++) await settle();
    expect(asked).toEqual([undefined, 'c1', 'c2']);
    expect(results.get()).toMatchObject({ status: 'done', hasMore: false });
    stop();
  });

  it('an empty query asks nothing', async () => {
    let asked = 0;
    const results = providerSearch(async () => (asked++, { providers: [], dropped: 0 }), '  ', 10);
    const stop = results.subscribe(() => undefined);
    await settle();
    expect(asked).toBe(0);
    expect(results.get()).toMatchObject({ status: 'done', hasMore: false });
    stop();
  });
});
