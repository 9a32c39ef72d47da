import { describe, expect, it } from 'vitest';
import {
  CRYPTO_ERROR_CODES,
  HaleCryptoError,
  fail,
  ok,
  tryResult,
  tryResultAsync,
  unwrapResult,
} from './index';

describe('errors', () => {
  it('unwrapResult returns values and throws failures as HaleCryptoError with the code', () => {
    expect(unwrapResult(ok(5))).toBe(5);
    const thrown = (() => {
      try {
        unwrapResult(fail('INVALID_CHECKSUM', 'group 2 mistyped', 2));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(HaleCryptoError);
    expect(thrown).toMatchObject({ code: 'INVALID_CHECKSUM', group: 2, message: 'group 2 mistyped' });
  });

  it('tryResult turns HaleCryptoError into a failed Result but lets other errors through', async () => {
    const r = tryResult(() => {
      throw new HaleCryptoError({ code: 'WRONG_KEY', message: 'x' });
    });
    expect(r).toEqual({ ok: false, error: { code: 'WRONG_KEY', message: 'x' } });
    expect(() =>
      tryResult(() => {
        throw new TypeError('boom');
      }),
    ).toThrow(TypeError);
    await expect(tryResultAsync(async () => 1)).resolves.toEqual({ ok: true, value: 1 });
    await expect(
      tryResultAsync(async () => {
        throw new RangeError('no');
      }),
    ).rejects.toThrow(RangeError);
  });

  it('has the nine stable codes', () => {
    expect([...CRYPTO_ERROR_CODES].sort()).toEqual(
      [
        'WRONG_KEY',
        'TAMPERED',
        'CONTEXT_MISMATCH',
        'TRUNCATED',
        'BAD_ENCODING',
        'UNSUPPORTED_VERSION',
        'INVALID_CHECKSUM',
        'BAD_SIGNATURE',
        'INVALID_INPUT',
      ].sort(),
    );
  });
});
