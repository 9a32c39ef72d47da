// Test-only import of @hale/crypto: the devices' own parser of a wrap is the reference for what the
// schemas may let a server store (the package itself does not depend on crypto).
import {
  PRODUCTION_KDF,
  PRODUCTION_KDF_ARGON2ID,
  TEST_KDF,
  base64urlEncode,
  unwrapRootWithPassphrase,
} from '@hale/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validate } from './codec';
import { b64, registerBody } from './examples.test-util';
import { HttpRegisterRequest, HttpWrappedRootRequest, HttpWrappedRootState } from './http-api';
import { AccountRecord, WrappedRoot } from './identity';

const SALT = b64(16);
const wrapWith = (kdf: Record<string, unknown>): Record<string, unknown> => ({
  ...registerBody().account.wrappedRoot,
  kdf: { salt: SALT, ...kdf },
});

/**
 * Whether @hale/crypto takes `kdf` (and its salt): given a ciphertext one byte short, it checks every
 * parameter and the salt, then stops at the length (TRUNCATED) without running the KDF; a parameter it
 * refuses stops it earlier (INVALID_INPUT).
 */
async function cryptoTakes(kdf: Record<string, unknown>): Promise<boolean> {
  const blob = { ...wrapWith(kdf), ct: base64urlEncode(new Uint8Array(47)) };
  const result = await unwrapRootWithPassphrase(blob, 'pw');
  expect(result.ok).toBe(false);
  const code = result.ok ? 'OK' : result.error.code;
  expect(['TRUNCATED', 'INVALID_INPUT'], JSON.stringify(kdf)).toContain(code);
  return code === 'TRUNCATED';
}

const schemaTakes = (kdf: Record<string, unknown>): boolean => validate(WrappedRoot, wrapWith(kdf)).ok;

const scrypt = (N: number, r: number, p: number, extra: Record<string, unknown> = {}) => ({
  alg: 'scrypt',
  N,
  r,
  p,
  dkLen: 32,
  ...extra,
});
const argon2id = (m: number, t: number, p: number, extra: Record<string, unknown> = {}) => ({
  alg: 'argon2id',
  m,
  t,
  p,
  dkLen: 32,
  ...extra,
});

describe('KDF parameters of a passphrase wrap', () => {
  it('refuses what no device opens (values the schemas used to accept)', async () => {
    const unopenable = [
      scrypt(2 ** 21, 1, 1), // N above 2^20
      scrypt(2 ** 24, 1, 1),
      scrypt(3 * 2 ** 10, 1, 1), // not a power of two
      scrypt(2 ** 20, 8, 1), // 1 GiB of memory
      scrypt(2 ** 17, 8, 16), // work (N·r·p) 16× production
      scrypt(2 ** 17, 8, 1, { dkLen: 64 }),
      scrypt(2 ** 17, 8, 1, { dkLen: 16 }),
      scrypt(2 ** 17, 8, 1, { salt: b64(4) }), // salt under 8 bytes
      scrypt(2 ** 17, 8, 1, { salt: '' }),
      argon2id(2 ** 20, 3, 1), // 1 GiB
      argon2id(64 * 1024, 64, 1), // t above 16
      argon2id(64 * 1024, 3, 16), // p above 8
      argon2id(256 * 1024, 16, 1), // work (m·t) above 4× production
    ];
    for (const kdf of unopenable) {
      expect(await cryptoTakes(kdf), JSON.stringify(kdf)).toBe(false);
      expect(schemaTakes(kdf), JSON.stringify(kdf)).toBe(false);
    }
  });

  it('accepts the production and test settings and the largest ones crypto opens', async () => {
    const openable = [
      { ...PRODUCTION_KDF },
      { ...PRODUCTION_KDF_ARGON2ID },
      { ...TEST_KDF },
      scrypt(2 ** 20, 4, 1),
      scrypt(2 ** 17, 32, 1),
      scrypt(2 ** 10, 32, 16),
      scrypt(2 ** 18, 1, 16),
      argon2id(256 * 1024, 3, 8),
      argon2id(8 * 1024, 16, 1),
      argon2id(64 * 1024, 3, 1, { salt: b64(8) }),
      argon2id(64 * 1024, 3, 1, { salt: b64(64) }),
    ];
    for (const kdf of openable) {
      expect(await cryptoTakes(kdf), JSON.stringify(kdf)).toBe(true);
      expect(schemaTakes(kdf), JSON.stringify(kdf)).toBe(true);
    }
  });

  it('what the schema accepts, crypto takes; above the protocol floor, also the converse', async () => {
    // The protocol floor (scrypt N ≥ 2^10, argon2id m ≥ 8 MiB) is stricter than crypto on purpose.
    const aboveFloor = (kdf: Record<string, unknown>): boolean =>
      kdf['alg'] === 'scrypt' ? (kdf['N'] as number) >= 2 ** 10 : (kdf['m'] as number) >= 8 * 1024;
    const pow2 = fc.integer({ min: 1, max: 25 }).map((k) => 2 ** k);
    const kdfs = fc.oneof(
      fc.record({
        alg: fc.constant('scrypt'),
        N: fc.oneof(pow2, fc.integer({ min: 1, max: 2 ** 24 })),
        r: fc.integer({ min: 0, max: 40 }),
        p: fc.integer({ min: 0, max: 20 }),
        dkLen: fc.constantFrom(16, 32, 64),
      }),
      fc.record({
        alg: fc.constant('argon2id'),
        m: fc.oneof(pow2, fc.integer({ min: 1, max: 4 * 1024 * 1024 })),
        t: fc.integer({ min: 0, max: 70 }),
        p: fc.integer({ min: 0, max: 20 }),
        dkLen: fc.constantFrom(16, 32, 64),
      }),
    );
    await fc.assert(
      fc.asyncProperty(kdfs, fc.integer({ min: 0, max: 70 }), async (kdf, saltBytes) => {
        const withSalt = { ...kdf, salt: b64(saltBytes) };
        const schema = schemaTakes(withSalt);
        const crypto = await cryptoTakes(withSalt);
        if (schema) expect(crypto, JSON.stringify(withSalt)).toBe(true);
        if (crypto && aboveFloor(withSalt) && saltBytes <= 64)
          expect(schema, JSON.stringify(withSalt)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a ciphertext of any length but the sealed 32-byte root', async () => {
    for (const bytes of [0, 47, 49, 256]) {
      const blob = { ...wrapWith(scrypt(2 ** 10, 1, 1)), ct: b64(bytes) };
      const opened = await unwrapRootWithPassphrase(blob, 'pw');
      expect(!opened.ok && opened.error.code, String(bytes)).toBe('TRUNCATED');
      expect(validate(WrappedRoot, blob).ok, String(bytes)).toBe(false);
    }
    expect(validate(WrappedRoot, { ...wrapWith(scrypt(2 ** 10, 1, 1)), ct: b64(48) }).ok).toBe(true);
  });

  it('holds wherever a wrap crosses the wire, naming the parameter', () => {
    const kdf = scrypt(2 ** 17, 8, 16, { salt: SALT });
    const body = registerBody();
    const wrap = { ...body.account.wrappedRoot, kdf } as typeof body.account.wrappedRoot;
    const sig = body.sig;
    const cases: Array<[Parameters<typeof validate>[0], unknown, string]> = [
      [
        HttpRegisterRequest,
        { ...body, account: { ...body.account, wrappedRoot: wrap } },
        '/account/wrappedRoot/kdf',
      ],
      [AccountRecord, { ...body.account, wrappedRoot: wrap }, '/wrappedRoot/kdf'],
      [HttpWrappedRootRequest, { wrappedRoot: wrap, gen: 1, sig }, '/wrappedRoot/kdf'],
      [
        HttpWrappedRootState,
        { accountId: body.account.accountId, wrappedRoot: wrap, gen: 1, sig },
        '/wrappedRoot/kdf',
      ],
      [WrappedRoot, wrap, '/kdf'],
    ];
    for (const [schema, value, path] of cases) {
      const result = validate(schema, value);
      expect(result.ok, path).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('BAD_MESSAGE');
        expect(result.error.details.issues[0]?.path.startsWith(path), path).toBe(true);
      }
    }
  });
});
