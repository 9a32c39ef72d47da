import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  changePassphrase,
  generateRootSecret,
  HaleCryptoError,
  isProductionStrength,
  PRODUCTION_KDF,
  PRODUCTION_KDF_ARGON2ID,
  TEST_KDF,
  unwrapRootWithPassphrase,
  wrapRootWithPassphrase,
  type PassphraseWrappedRoot,
} from './index';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('passphrase wrapping', () => {
  it('round trips through JSON with TEST_KDF and stores the parameters beside the ciphertext', async () => {
    const root = generateRootSecret();
    const blob = await wrapRootWithPassphrase(root, 'correct horse battery staple', TEST_KDF);
    const stored = JSON.parse(JSON.stringify(blob)) as unknown;
    expect(stored).toMatchObject({
      v: 1,
      kdf: { alg: 'scrypt', N: TEST_KDF.N, r: TEST_KDF.r, p: TEST_KDF.p, dkLen: 32 },
    });
    const salt = base64urlDecode(blob.kdf.salt);
    expect(salt.ok && salt.value.length).toBe(16);
    const opened = await unwrapRootWithPassphrase(stored, 'correct horse battery staple');
    expect(opened.ok && hex(opened.value)).toBe(hex(root));
  });

  it('refuses a wrong passphrase with WRONG_KEY', async () => {
    const blob = await wrapRootWithPassphrase(generateRootSecret(), 'right', TEST_KDF);
    expect(await unwrapRootWithPassphrase(blob, 'wrong')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
    expect(await unwrapRootWithPassphrase(blob, '')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
  });

  it('normalises the passphrase (NFKC) so composed and decomposed input agree', async () => {
    const root = generateRootSecret();
    const blob = await wrapRootWithPassphrase(root, 'caf\u00e9', TEST_KDF);
    const opened = await unwrapRootWithPassphrase(blob, 'cafe\u0301');
    expect(opened.ok && hex(opened.value)).toBe(hex(root));
  });

  it('detects modified ciphertext or parameters', async () => {
    const blob = await wrapRootWithPassphrase(generateRootSecret(), 'pw', TEST_KDF);
    const ct = base64urlDecode(blob.ct);
    if (!ct.ok) throw new Error('bad ct');
    ct.value[5]! ^= 1;
    const flipped: PassphraseWrappedRoot = { ...blob, ct: Buffer.from(ct.value).toString('base64url') };
    expect(await unwrapRootWithPassphrase(flipped, 'pw')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
    const weaker = { ...blob, kdf: { ...blob.kdf, N: 2 ** 3 } };
    expect(await unwrapRootWithPassphrase(weaker, 'pw')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
  });

  it('refuses malformed, hostile or unknown blobs without running the KDF', async () => {
    const blob = await wrapRootWithPassphrase(generateRootSecret(), 'pw', TEST_KDF);
    const started = Date.now();
    const cases: Array<[unknown, string]> = [
      [null, 'INVALID_INPUT'],
      [{ ...blob, v: 2 }, 'UNSUPPORTED_VERSION'],
      [{ ...blob, kdf: { ...blob.kdf, alg: 'pbkdf2' } }, 'UNSUPPORTED_VERSION'],
      [{ ...blob, kdf: { ...blob.kdf, N: 2 ** 30 } }, 'INVALID_INPUT'],
      [{ ...blob, kdf: { ...blob.kdf, N: 1000 } }, 'INVALID_INPUT'],
      [{ ...blob, kdf: { ...blob.kdf, r: 10_000 } }, 'INVALID_INPUT'],
      // Within each single bound but ≈ 90 s of work here (1 GiB, p = 16): over the work cap.
      [{ ...blob, kdf: { ...blob.kdf, N: 2 ** 20, r: 8, p: 16 } }, 'INVALID_INPUT'],
      [{ ...blob, kdf: { ...blob.kdf, N: 2 ** 20, r: 8, p: 1 } }, 'INVALID_INPUT'],
      [
        { ...blob, kdf: { alg: 'argon2id', m: 2 ** 20, t: 16, p: 1, dkLen: 32, salt: blob.kdf.salt } },
        'INVALID_INPUT',
      ],
      [
        { ...blob, kdf: { alg: 'argon2id', m: 2 ** 18, t: 4, p: 1, dkLen: 32, salt: blob.kdf.salt } },
        'INVALID_INPUT',
      ],
      [
        { ...blob, kdf: { alg: 'argon2id', m: 2 ** 30, t: 3, p: 1, dkLen: 32, salt: blob.kdf.salt } },
        'INVALID_INPUT',
      ],
      [{ ...blob, nonce: 'not*base64' }, 'BAD_ENCODING'],
      [{ ...blob, nonce: blob.nonce.slice(4) }, 'INVALID_INPUT'],
      [{ ...blob, ct: blob.ct.slice(0, 20) }, 'TRUNCATED'],
      [{ ...blob, ct: 1 }, 'INVALID_INPUT'],
    ];
    for (const [bad, code] of cases) {
      expect(await unwrapRootWithPassphrase(bad, 'pw'), JSON.stringify(bad)).toMatchObject({
        ok: false,
        error: { code },
      });
    }
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('changing the passphrase re-wraps with a new salt; the old passphrase stops working', async () => {
    const root = generateRootSecret();
    const first = await wrapRootWithPassphrase(root, 'old', TEST_KDF);
    const changed = await changePassphrase(first, 'old', 'new', TEST_KDF);
    if (!changed.ok) throw new Error(changed.error.code);
    expect(changed.value.kdf.salt).not.toBe(first.kdf.salt);
    expect(await unwrapRootWithPassphrase(changed.value, 'old')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
    const opened = await unwrapRootWithPassphrase(changed.value, 'new');
    expect(opened.ok && hex(opened.value)).toBe(hex(root));
    expect(await changePassphrase(first, 'nope', 'new', TEST_KDF)).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
  });

  it('supports argon2id parameters', async () => {
    const root = generateRootSecret();
    const blob = await wrapRootWithPassphrase(root, 'pw', { alg: 'argon2id', m: 64, t: 1, p: 1, dkLen: 32 });
    expect(blob.kdf).toMatchObject({ alg: 'argon2id', m: 64, t: 1 });
    const opened = await unwrapRootWithPassphrase(blob, 'pw');
    expect(opened.ok && hex(opened.value)).toBe(hex(root));
    expect(await unwrapRootWithPassphrase(blob, 'px')).toMatchObject({
      ok: false,
      error: { code: 'WRONG_KEY' },
    });
  });

  it('PRODUCTION_KDF is not cheaper than scrypt N=2^17, r=8, p=1; TEST_KDF is', () => {
    expect(PRODUCTION_KDF.alg).toBe('scrypt');
    expect(PRODUCTION_KDF.N).toBeGreaterThanOrEqual(2 ** 17);
    expect(PRODUCTION_KDF.r).toBeGreaterThanOrEqual(8);
    expect(PRODUCTION_KDF.p).toBeGreaterThanOrEqual(1);
    expect(isProductionStrength(PRODUCTION_KDF)).toBe(true);
    expect(isProductionStrength(PRODUCTION_KDF_ARGON2ID)).toBe(true);
    expect(isProductionStrength(TEST_KDF)).toBe(false);
    expect(isProductionStrength({ ...PRODUCTION_KDF, N: 2 ** 16 })).toBe(false);
  });

  // scrypt's p lanes run one after another in the same memory (128·N·r bytes), so more lanes buy time, not
  // memory: an attacker's hardware fits 8 or 16 times as many guesses at once as with the production setting.
  it('does not count parallelism as memory: less memory than production is not production strength', () => {
    expect(isProductionStrength({ ...PRODUCTION_KDF, N: 2 ** 14, p: 16 })).toBe(false);
    expect(isProductionStrength({ ...PRODUCTION_KDF, N: 2 ** 16, r: 1, p: 16 })).toBe(false);
    expect(isProductionStrength({ ...PRODUCTION_KDF, N: 2 ** 16, r: 16 })).toBe(true);
    expect(isProductionStrength({ ...PRODUCTION_KDF, p: 2 })).toBe(true);
  });

  it('uses PRODUCTION_KDF when no parameters are given', async () => {
    const blob = await wrapRootWithPassphrase(generateRootSecret(), 'pw');
    expect(blob.kdf).toMatchObject({ alg: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
  });

  it('refuses bad wrap input', async () => {
    await expect(wrapRootWithPassphrase(new Uint8Array(31), 'pw', TEST_KDF)).rejects.toThrow(HaleCryptoError);
    await expect(wrapRootWithPassphrase(generateRootSecret(), '', TEST_KDF)).rejects.toThrow(HaleCryptoError);
    await expect(wrapRootWithPassphrase(generateRootSecret(), 'pw', { ...TEST_KDF, N: 3 })).rejects.toThrow(
      HaleCryptoError,
    );
  });
});
