import { describe, expect, it } from 'vitest';
import type { SyncIssue, SyncState } from '@hale/client';
import { createI18n } from '../i18n';
import { accessEndings } from '../screens/problems/describe';
import { badgeWords } from './sync-badge';

const t = (await createI18n('en')).t;
const AT = '2026-01-01T10:00:00.000Z';
const PATIENT = 'P'.repeat(22);

const state = (errors: SyncIssue[], extra: Partial<SyncState> = {}): SyncState => ({
  status: 'online',
  pendingWrites: 0,
  pendingUploads: 0,
  lastSyncedAt: null,
  initialSync: { done: 0, total: 0 },
  errors,
  quarantined: 0,
  unsent: 0,
  streams: 4,
  passphrase: 'unknown',
  ...extra,
});

const ended = (type: string, code = 'CONSENT_REVOKED', at = AT): SyncIssue => ({
  code,
  message: `Access to ${PATIENT}/${type} ended; its records are being removed from this device`,
  stream: `${PATIENT}/${type}`,
  at,
});
const REVOKE = ['labs', 'plans', 'encounters', 'notes'].map((type) => ended(type));

describe('the sync badge', () => {
  it('does not count a patient ending access as a problem: a revoke of 4 streams leaves it up to date', () => {
    const words = badgeWords(t, state(REVOKE));
    expect(words.tone).toBe('teal');
    expect(words.text).toBe('Up to date');
    expect(badgeWords(t, state(REVOKE.map((e) => ({ ...e, code: 'CONSENT_EXPIRED' })))).tone).toBe('teal');
  });

  it('counts the real sync issues beside it, and only those', () => {
    const refused: SyncIssue = {
      code: 'NOT_WRITABLE',
      message: 'refused',
      stream: `${PATIENT}/labs`,
      at: AT,
    };
    const words = badgeWords(t, state([...REVOKE, refused], { quarantined: 1, unsent: 1 }));
    expect(words.tone).toBe('orange');
    expect(words.text).toBe('3 sync issues');
  });
});

describe('a patient ending access, as information', () => {
  it('is told once per patient and reason, with how many streams it ended for', () => {
    const other = 'Q'.repeat(22);
    const endings = accessEndings([
      ...REVOKE,
      { code: 'UNAVAILABLE', message: 'busy', at: AT },
      { ...ended('labs', 'CONSENT_EXPIRED', '2026-01-02T00:00:00.000Z'), stream: `${other}/labs` },
    ]);
    expect(endings).toEqual([
      { patientId: other, reason: 'expired', streams: 1, at: '2026-01-02T00:00:00.000Z' },
      { patientId: PATIENT, reason: 'revoked', streams: 4, at: AT },
    ]);
  });
});
