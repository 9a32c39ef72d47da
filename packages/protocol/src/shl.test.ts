// The SMART Health Link schemas (shl.ts): the sealed fields' bounds hold what @hale/crypto seals at its
// largest; a create request is either the sealed form or the form of apps from before sealing, never a
// mix; answers keep the fields apps from before require.
import { describe, expect, it } from 'vitest';
import { sealedTextMaxBytes, SHL_DETAILS_LABEL, SHL_RECIPIENT_LABEL } from '@hale/crypto';
import { validate } from './codec';
import { GRANTABLE_STREAM_TYPES } from './primitives';
import {
  MAX_SEALED_SHL_DETAILS_BYTES,
  MAX_SEALED_SHL_RECIPIENT_BYTES,
  MAX_SHL_DETAILS_CHARS,
  MAX_SHL_LABEL,
  MAX_SHL_RECIPIENT,
  MAX_SHL_TYPES,
  ShlAccessInfo,
  ShlCreateRequest,
  ShlLinkDetails,
  ShlLinkInfo,
} from './shl';

const base = {
  linkId: 'A'.repeat(22),
  token: 'B'.repeat(43),
  emergency: false,
  contentType: 'application/fhir+json',
  jwe: 'eyJ.a.b.c.d',
};

describe('SMART Health Link schemas', () => {
  it('bound the sealed texts by what a largest label, count list or name seals to', () => {
    expect(sealedTextMaxBytes(MAX_SHL_RECIPIENT, { label: SHL_RECIPIENT_LABEL })).toBeLessThanOrEqual(
      MAX_SEALED_SHL_RECIPIENT_BYTES,
    );
    expect(sealedTextMaxBytes(MAX_SHL_DETAILS_CHARS, { label: SHL_DETAILS_LABEL })).toBeLessThanOrEqual(
      MAX_SEALED_SHL_DETAILS_BYTES,
    );
    const longest = [...GRANTABLE_STREAM_TYPES].sort((a, b) => b.length - a.length)[0]!;
    const largest = {
      label: '\u0001'.repeat(MAX_SHL_LABEL),
      contents: Array.from({ length: MAX_SHL_TYPES }, () => ({ type: longest, count: 1_000_000 })),
    };
    expect(validate(ShlLinkDetails, largest).ok).toBe(true);
    expect(JSON.stringify(largest).length).toBeLessThanOrEqual(MAX_SHL_DETAILS_CHARS);
  });

  it('take a sealed create or one of an app from before sealing, not a mix', () => {
    const sealed = { ...base, types: ['allergy'], sealed: 'c2VhbGVk' };
    const legacy = { ...base, label: 'For Dr Lee', contents: [{ type: 'allergy', count: 2 }] };
    expect(validate(ShlCreateRequest, sealed).ok).toBe(true);
    expect(validate(ShlCreateRequest, legacy).ok).toBe(true);
    for (const mixed of [
      { ...sealed, label: 'For Dr Lee' },
      { ...sealed, contents: legacy.contents },
      { ...legacy, sealed: 'c2VhbGVk' },
      { ...sealed, types: ['allergy', 'allergy'] },
      { ...sealed, sealed: 'not base64url!' },
    ])
      expect(validate(ShlCreateRequest, mixed).ok).toBe(false);
  });

  it('answer a sealed link and access with the fields apps from before require', () => {
    const info = {
      linkId: base.linkId,
      sealed: 'c2VhbGVk',
      types: ['allergy'],
      passcode: false,
      emergency: false,
      createdAt: '2026-11-28T10:00:00.000Z',
      attemptsLeft: 3,
      accessCount: 0,
      contents: [],
    };
    expect(validate(ShlLinkInfo, info).ok).toBe(true);
    const access = {
      at: '2026-11-28T10:00:00.000Z',
      outcome: 'opened',
      recipient: '',
      sealedRecipient: 'bmFtZQ',
    };
    expect(validate(ShlAccessInfo, access).ok).toBe(true);
  });
});
