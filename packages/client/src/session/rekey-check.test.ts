import { describe, expect, it } from 'vitest';
import { SyncError } from '../sync/connection';
import type { SyncIssue } from '../sync/engine';
import { createRekeyCheck } from './rekey-check';

/** A check whose runs the test settles by hand, and the issues it keeps (as the engine would). */
const harness = () => {
  const runs: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  let issues: Array<Omit<SyncIssue, 'at'>> = [];
  const check = createRekeyCheck({
    rotate: () =>
      new Promise<void>((resolve, reject) => {
        runs.push({ resolve, reject });
      }),
    report: (issue) => void (issues = [...issues, issue]),
    clear: ({ id }) => void (issues = issues.filter((i) => i.id !== id)),
  });
  const settled = () => new Promise((r) => setTimeout(r, 0));
  return { runs, check, settled, codes: () => issues.map((i) => i.code) };
};

describe('the connect-time re-keying check', () => {
  it('files a dropped socket as the connection failure it is, and clears it when a later check passes', async () => {
    const h = harness();
    h.check();
    h.runs[0]!.reject(new SyncError('NETWORK', 'connection closed (1001 server shutting down)', true));
    await h.settled();
    expect(h.codes()).toEqual(['NETWORK']);

    h.check();
    h.runs[1]!.resolve();
    await h.settled();
    expect(h.codes()).toEqual([]);
  });

  it('files any other failure as REKEY_PENDING, replaced by the next outcome, cleared once a check passes', async () => {
    const h = harness();
    h.check();
    h.runs[0]!.reject(new SyncError('TOO_LARGE', 'refused', false));
    await h.settled();
    expect(h.codes()).toEqual(['REKEY_PENDING']);

    h.check();
    h.runs[1]!.reject(new SyncError('TIMEOUT', 'no answer', true));
    await h.settled();
    expect(h.codes()).toEqual(['TIMEOUT']);

    h.check();
    h.runs[2]!.resolve();
    await h.settled();
    expect(h.codes()).toEqual([]);
  });

  it('files nothing for a connection the app stopped', async () => {
    const h = harness();
    h.check();
    h.runs[0]!.reject(new SyncError('STOPPED', 'stopped', false));
    await h.settled();
    expect(h.codes()).toEqual([]);
  });

  it('shows only the latest check: an earlier one failing after a later one passed files nothing', async () => {
    const h = harness();
    h.check();
    h.check();
    h.runs[1]!.resolve();
    await h.settled();
    h.runs[0]!.reject(new Error('unconfirmed epoch'));
    await h.settled();
    expect(h.codes()).toEqual([]);
  });
});
