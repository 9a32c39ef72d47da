// The `denied` log's throttle and what `note` hands its writer, with a fake clock, store and writer: one
// entry per (device, stream) per window, only consent refusals of another existing account's streams,
// slots given back when nothing was written, and no rejection whatever fails.
import { describe, expect, it } from 'vitest';
import { base64urlEncode } from '@hale/crypto';
import { ServiceError } from './service-error';
import { createDeniedAccess, createDeniedThrottle, DENIED_WINDOW_MS } from './denied-access';
import type { Principal } from './access';
import type { AccessEvent } from './sync-context';

const PATIENT = 'P'.repeat(22);
const STRANGER = 'Q'.repeat(22);
const CLINIC: Principal = { accountId: 'C'.repeat(22), deviceId: 'D'.repeat(22), role: 'provider' };
const OTHER_DEVICE: Principal = { ...CLINIC, deviceId: 'E'.repeat(22) };
const allergy = `${PATIENT}/allergy`;
const labs = `${PATIENT}/lab-result`;

const clock = () => {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
};

describe('createDeniedThrottle', () => {
  it('takes a key once per window, again once the window passed', () => {
    const c = clock();
    const throttle = createDeniedThrottle({ now: c.now, windowMs: 1000 });
    expect(throttle.take('a')).not.toBeNull();
    expect(throttle.take('b')).not.toBeNull();
    c.t += 999;
    expect(throttle.take('a')).toBeNull();
    c.t += 1;
    expect(throttle.take('a')).not.toBeNull();
    expect(throttle.take('b')).not.toBeNull();
  });

  it('a clock stepped back does not stretch the window, nor reopen it', () => {
    const c = clock();
    const throttle = createDeniedThrottle({ now: c.now, windowMs: 1000 });
    expect(throttle.take('a')).not.toBeNull();
    c.t -= 10_000;
    expect(throttle.take('a')).toBeNull();
    c.t += 1000;
    expect(throttle.take('a')).not.toBeNull();
  });

  it('holds at most maxKeys keys, dropping the oldest first; expired keys go as it is used', () => {
    const c = clock();
    const throttle = createDeniedThrottle({ now: c.now, windowMs: 1000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) expect(throttle.take(key)).not.toBeNull();
    expect(throttle.size()).toBe(3);
    // 'a' was dropped: it may log once more; the others are still held.
    expect(throttle.take('a')).not.toBeNull();
    expect(throttle.take('c')).toBeNull();
    c.t += 1000;
    throttle.take('e');
    expect(throttle.size()).toBe(1);
  });

  it('a slot freed is taken again; a slot taken since is not freed by an older one', () => {
    const c = clock();
    const throttle = createDeniedThrottle({ now: c.now, windowMs: 1000 });
    const first = throttle.take('a')!;
    throttle.free('a', first);
    c.t += 1;
    const second = throttle.take('a')!;
    expect(second).not.toBeNull();
    throttle.free('a', first);
    expect(throttle.take('a')).toBeNull();
  });
});

describe('createDeniedAccess', () => {
  const setup = (options: { failWrite?: boolean; failAccounts?: boolean; badKey?: boolean } = {}) => {
    const c = clock();
    const written: Array<{ p: Principal; events: AccessEvent[] }> = [];
    const errors: unknown[] = [];
    const wrapping = base64urlEncode(new Uint8Array(options.badKey === true ? 31 : 32).fill(7));
    const denied = createDeniedAccess({
      now: c.now,
      store: {
        accounts: {
          get: (id: string) => {
            if (options.failAccounts === true) return Promise.reject(new Error('store down'));
            return Promise.resolve(id === PATIENT ? { wrappingPublicKey: wrapping } : null);
          },
        } as never,
      },
      write: (p, events) => {
        if (options.failWrite === true) return Promise.reject(new Error('disk full'));
        written.push({ p, events });
        return Promise.resolve();
      },
      onError: (error) => errors.push(error),
    });
    return { c, denied, written, errors };
  };

  it('writes one `denied` event, count 0, per refused stream of another account, as the device that asked', async () => {
    const { denied, written } = setup();
    await denied.note(CLINIC, [
      { stream: allergy, code: 'CONSENT_REVOKED' },
      { stream: labs, code: 'NO_CONSENT' },
    ]);
    expect(written).toEqual([
      {
        p: CLINIC,
        events: [
          { action: 'denied', stream: allergy, count: 0 },
          { action: 'denied', stream: labs, count: 0 },
        ],
      },
    ]);
  });

  it('repeats within the window write nothing; another device or a later window writes again', async () => {
    const { c, denied, written } = setup();
    for (let i = 0; i < 50; i++) await denied.note(CLINIC, [{ stream: allergy, code: 'CONSENT_EXPIRED' }]);
    await denied.note(OTHER_DEVICE, [{ stream: allergy, code: 'CONSENT_EXPIRED' }]);
    c.t += DENIED_WINDOW_MS - 1;
    await denied.note(CLINIC, [{ stream: allergy, code: 'CONSENT_EXPIRED' }]);
    c.t += 1;
    await denied.note(CLINIC, [{ stream: allergy, code: 'CONSENT_EXPIRED' }]);
    expect(written.map((w) => w.p.deviceId)).toEqual([
      CLINIC.deviceId,
      OTHER_DEVICE.deviceId,
      CLINIC.deviceId,
    ]);
  });

  it('logs nothing of other refusals, own streams, ids that are no stream ids or accounts not held', async () => {
    const { denied, written } = setup();
    await denied.note(CLINIC, [
      { stream: allergy, code: 'FORBIDDEN' },
      { stream: allergy, code: 'DEVICE_REVOKED' },
      { stream: `${CLINIC.accountId}/allergy`, code: 'NO_CONSENT' },
      { stream: 'not a stream', code: 'NO_CONSENT' },
      { stream: `${PATIENT}/no-such-type`, code: 'NO_CONSENT' },
      { stream: '', code: 'NO_CONSENT' },
      { stream: `${STRANGER}/allergy`, code: 'NO_CONSENT' },
    ]);
    expect(written).toEqual([]);
    // None of them took a slot: the patient's stream refused for want of consent is still logged.
    await denied.note(CLINIC, [{ stream: allergy, code: 'NO_CONSENT' }]);
    expect(written).toHaveLength(1);
  });

  it('an account whose wrapping key is damaged is not written to', async () => {
    const { denied, written, errors } = setup({ badKey: true });
    await denied.note(CLINIC, [{ stream: allergy, code: 'NO_CONSENT' }]);
    expect(written).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a failed write or account read is reported, never thrown, and frees the slot', async () => {
    for (const failure of [{ failWrite: true }, { failAccounts: true }]) {
      const { denied, errors } = setup(failure);
      await expect(denied.note(CLINIC, [{ stream: allergy, code: 'NO_CONSENT' }])).resolves.toBeUndefined();
      expect(errors).toHaveLength(1);
      expect(denied.throttle.size()).toBe(0);
    }
  });

  it('noteError logs a consent ServiceError of the stream, and nothing for other errors', async () => {
    const { denied, written } = setup();
    await denied.noteError(CLINIC, allergy, new Error('NO_CONSENT'));
    await denied.noteError(CLINIC, allergy, { code: 'NO_CONSENT' });
    await denied.noteError(CLINIC, allergy, new ServiceError('NOT_FOUND', 'no blob'));
    expect(written).toEqual([]);
    await denied.noteError(CLINIC, allergy, new ServiceError('CONSENT_REVOKED', 'revoked'));
    expect(written).toEqual([{ p: CLINIC, events: [{ action: 'denied', stream: allergy, count: 0 }] }]);
  });
});
