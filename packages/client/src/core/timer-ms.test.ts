import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, timerMs } from './timer-ms';
import { createHttpApi } from '../api/http-api';
import { createSessionManager } from '../api/session-manager';

const fetch = () => Promise.reject(new Error('not called'));

describe('time limit options', () => {
  it('takes whole milliseconds from 1 to 2^31-1', () => {
    expect(timerMs('t', 1)).toBe(1);
    expect(timerMs('t', MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
  });

  it.each([0, -1, 1.5, Infinity, Number.NaN, MAX_TIMER_MS + 1])('refuses %s, naming the option', (ms) => {
    expect(() => timerMs('signInTimeoutMs', ms)).toThrow(/^signInTimeoutMs must be a whole number/);
  });

  // A platform timer given more than 2^31-1 ms fires at once: "no limit" would have timed every call out.
  it('is checked where the HTTP client and the session manager take them', () => {
    expect(() => createHttpApi({ baseUrl: 'http://x', fetch, timeoutMs: Infinity })).toThrow(RangeError);
    expect(() => createHttpApi({ baseUrl: 'http://x', fetch, chunkTimeoutMs: 2 ** 31 })).toThrow(RangeError);
    const api = createHttpApi({ baseUrl: 'http://x', fetch });
    const device = { deviceId: 'd', secretKey: new Uint8Array(64) };
    const ed = {} as never;
    expect(() => createSessionManager({ api, device, ed, signInTimeoutMs: Infinity })).toThrow(RangeError);
    expect(() => createSessionManager({ api, device, ed, signInTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => createSessionManager({ api, device, ed })).not.toThrow();
  });
});
