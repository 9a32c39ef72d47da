import { describe, expect, it } from 'vitest';
import { decodeServerFrame, decodeServerFrameTolerant } from './codec';
import { PROTOCOL_VERSION } from './limits';
import { incarnationAction } from './messages';

const ready = (extra: Record<string, unknown>) =>
  JSON.stringify({
    t: 'ready',
    accountId: 'A'.repeat(22),
    deviceId: 'B'.repeat(22),
    version: PROTOCOL_VERSION,
    sessionExpiresAt: '2025-01-02T03:04:05.678Z',
    ...extra,
  });

describe('ready.incarnation', () => {
  it('decodes a well-formed incarnation and refuses a malformed one', () => {
    const good = decodeServerFrame(ready({ incarnation: 'm58nihfV2T-RxAHAATnhag' }));
    expect(good.ok && good.value.t === 'ready' && good.value.incarnation).toBe('m58nihfV2T-RxAHAATnhag');
    expect(decodeServerFrame(ready({})).ok).toBe(true);
    for (const incarnation of ['short', 'not base64url!'.repeat(2), 'x'.repeat(65), 42]) {
      const bad = decodeServerFrame(ready({ incarnation }));
      expect(bad.ok, String(incarnation)).toBe(false);
      // A device's tolerant decoder refuses it too: the field is known, so it is checked, not dropped.
      expect(decodeServerFrameTolerant(ready({ incarnation })).ok, String(incarnation)).toBe(false);
    }
  });

  it('tells a device to keep, adopt or reset', () => {
    expect(incarnationAction(undefined, undefined)).toBe('keep');
    expect(incarnationAction('a'.repeat(22), undefined)).toBe('keep');
    expect(incarnationAction('a'.repeat(22), 'a'.repeat(22))).toBe('keep');
    expect(incarnationAction(undefined, 'a'.repeat(22))).toBe('adopt');
    expect(incarnationAction('a'.repeat(22), 'b'.repeat(22))).toBe('reset');
  });
});
