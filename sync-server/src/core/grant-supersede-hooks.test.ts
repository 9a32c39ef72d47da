// A grant's replacement ends the old grant as a revocation does, in live delivery too: the service tells
// the hub just before the commit (`onGrantEnding`, naming the old grant and its successor), re-decides the
// grantee's connections (`onGrantsChanged`) before it answers, and only then lets the hub hold the old grant
// again if it reads it (the function `onGrantEnding` returned). Should the store refuse the replacement (a
// change of the same grant committed meanwhile), the hub is let go before the reload that gives the
// connections what the store holds, and the caller hears GRANT_NOT_SUPERSEDABLE.
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { GrantScopeEntry } from '@hale/protocol';
import { makeGrant, principalOf, type TestAccount, type TestServer } from '../testing/harness';
import type { Grant } from '../store/index';
import { startRecheck, type Recheck } from './recheck.test-util';
import { createSyncService, type SyncService } from './sync-service';

let t: TestServer;
let patient: TestAccount;
let provider: TestAccount;
let service: SyncService;
/** The store the service writes through. */
let store: Recheck['deps']['store'];
/** What happened, in order. */
let steps: string[];
let endings: Array<{ granteeId: string; grantId: string; successor: Grant | undefined }>;

beforeEach(async () => {
  let deps: Recheck['deps'];
  ({ t, patient, provider, deps } = await startRecheck());
  store = deps.store;
  steps = [];
  endings = [];
  service = createSyncService({
    ...deps,
    onGrantEnding: (granteeId, grantId, successor) => {
      endings.push({ granteeId, grantId, successor });
      steps.push(`ending ${grantId}`);
      return () => void steps.push(`settled ${grantId}`);
    },
    onGrantsChanged: () => void steps.push('re-decided'),
  });
  const grants = store.grants;
  const supersede = grants.supersede.bind(grants);
  grants.supersede = async (...args) => {
    const outcome = await supersede(...args);
    steps.push(`commit ${outcome}`);
    return outcome;
  };
});
afterEach(async () => {
  await service.drainAccessLog();
  await t.stop();
});

const READ: GrantScopeEntry[] = [{ type: 'allergy', access: 'read' }];
const signed = (supersedes?: string) =>
  makeGrant(patient, provider, READ, {
    now: t.clock.now,
    ...(supersedes === undefined ? {} : { supersedes }),
  });

describe('a replacement tells live delivery as a revocation does', () => {
  it('before the commit, with the successor; let go only once the grantee was re-decided', async () => {
    const old = await signed();
    await service.grant(principalOf(patient), old);
    steps = [];
    const next = await signed(old.grant.grantId);
    await service.grant(principalOf(patient), next);
    const id = old.grant.grantId;
    expect(steps).toEqual([`ending ${id}`, 'commit stored', 're-decided', `settled ${id}`]);
    expect(endings.at(-1)).toMatchObject({
      granteeId: provider.accountId,
      grantId: id,
      successor: { grantId: next.grant.grantId, scope: READ },
    });
    expect(endings.at(-1)?.successor).not.toHaveProperty('revokedAt');
  });

  it('refused in the store (replaced meanwhile): let go before the reload, GRANT_NOT_SUPERSEDABLE', async () => {
    const old = await signed();
    await service.grant(principalOf(patient), old);
    const other = await signed(old.grant.grantId);
    // Another process's change of the same grant commits between the service's check and its own commit.
    const grants = store.grants;
    const supersede = grants.supersede.bind(grants);
    grants.supersede = async (g, replaced, now) => {
      grants.supersede = supersede;
      const storedOther = {
        grantId: other.grant.grantId,
        patientId: other.grant.patientId,
        granteeId: other.grant.granteeId,
        scope: other.grant.scope,
        start: other.grant.start,
        expiresAt: other.grant.expiresAt,
        issuedAt: other.grant.issuedAt,
        signed: other,
      };
      expect(await supersede(storedOther, replaced, now)).toBe('stored');
      steps = [];
      return supersede(g, replaced, now);
    };
    const next = await signed(old.grant.grantId);
    await expect(service.grant(principalOf(patient), next)).rejects.toMatchObject({
      code: 'GRANT_NOT_SUPERSEDABLE',
    });
    const id = old.grant.grantId;
    expect(steps).toEqual([`commit not-supersedable`, `settled ${id}`, 're-decided']);
    expect(await store.grants.get(next.grant.grantId)).toBeNull();
    expect((await store.grants.get(id))?.supersededBy).toBe(other.grant.grantId);
  });
});
