import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRecoveryKey,
  encodeRecoveryKey,
  generateRootSecret,
  HaleCryptoError,
  RECOVERY_KEY_LENGTH,
  type Result,
} from './index';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const fixedRoot = new Uint8Array(createHash('sha256').update('hale test root').digest());
const realKey = encodeRecoveryKey(fixedRoot);
const compact = realKey.replace(/-/g, '');

const same = (r: Result<Uint8Array>, root: Uint8Array) =>
  r.ok && Buffer.from(r.value).equals(Buffer.from(root));

describe('recovery key', () => {
  it('has 14 dash-separated groups of 5 Crockford characters and a version prefix', () => {
    expect(realKey).toMatch(/^1[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{5}){13}$/);
    expect(compact).toHaveLength(RECOVERY_KEY_LENGTH);
  });

  it('round trips random roots (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (root) => {
        expect(same(decodeRecoveryKey(encodeRecoveryKey(root)), root)).toBe(true);
      }),
    );
    const root = generateRootSecret();
    expect(root).toHaveLength(32);
    expect(same(decodeRecoveryKey(encodeRecoveryKey(root)), root)).toBe(true);
  });

  it('tolerates case, spaces, missing dashes and the Crockford look-alikes O, I, L', () => {
    const variants = [
      realKey.toLowerCase(),
      compact,
      ` ${realKey.replace(/-/g, ' ')} `,
      realKey.replace(/-/g, ' - '),
      compact.replace(/(.{5})/g, '$1\n'),
      realKey.replace(/0/g, 'O').replace(/1/g, 'I'),
      realKey.replace(/1/g, 'l').replace(/0/g, 'o'),
    ];
    for (const v of variants) expect(same(decodeRecoveryKey(v), fixedRoot), v).toBe(true);
  });

  // A key pasted from a document or PDF arrives with the dashes the typesetter substituted.
  const TYPOGRAPHIC_DASHES = ['\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212'];

  it.each(TYPOGRAPHIC_DASHES.map((dash) => [`U+${dash.codePointAt(0)!.toString(16).toUpperCase()}`, dash]))(
    'tolerates %s as the group separator',
    (_name, dash) => {
      expect(same(decodeRecoveryKey(realKey.replaceAll('-', dash)), fixedRoot)).toBe(true);
      expect(same(decodeRecoveryKey(realKey.replaceAll('-', ` ${dash} `)), fixedRoot)).toBe(true);
    },
  );

  // An East Asian input method left in full-width mode types Ａ１－… for A1-…: the same key.
  it('tolerates the full-width forms of its characters and separators', () => {
    const fullWidth = (text: string) =>
      text.replace(/[!-~]/g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0));
    for (const v of [fullWidth(realKey), fullWidth(realKey.toLowerCase()), fullWidth(compact)]) {
      expect(same(decodeRecoveryKey(v), fixedRoot), v).toBe(true);
    }
    // A typo is still caught and named there.
    const groups = realKey.split('-');
    groups[4] = `${groups[4]![0] === '7' ? '8' : '7'}${groups[4]!.slice(1)}`;
    expect(decodeRecoveryKey(fullWidth(groups.join('-')))).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CHECKSUM', group: 5 },
    });
  });

  it('still names the mistyped group when the separators are typographic dashes', () => {
    const groups = realKey.split('-');
    const third = groups[2]!;
    groups[2] = `${third[0] === '7' ? '8' : '7'}${third.slice(1)}`;
    expect(decodeRecoveryKey(groups.join('\u2013'))).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CHECKSUM', group: 3 },
    });
  });

  it('refuses other punctuation between groups', () => {
    for (const separator of ['\u2022', '_', '.', '\u2016', '\u2E3A']) {
      expect(decodeRecoveryKey(realKey.replaceAll('-', separator)), separator).toMatchObject({
        ok: false,
        error: { code: 'BAD_ENCODING' },
      });
    }
  });

  it('catches EVERY single changed character and names its group (exhaustive)', () => {
    let checked = 0;
    for (let pos = 0; pos < compact.length; pos++) {
      for (const c of `${ALPHABET}U*#`) {
        if (c === compact[pos]) continue;
        const r = decodeRecoveryKey(compact.slice(0, pos) + c + compact.slice(pos + 1));
        expect(r.ok, `position ${pos} → ${c}`).toBe(false);
        if (!r.ok) {
          if (ALPHABET.includes(c)) {
            expect(r.error).toMatchObject({ code: 'INVALID_CHECKSUM', group: Math.floor(pos / 5) + 1 });
          } else {
            expect(r.error.code).toBe('BAD_ENCODING');
          }
        }
        checked++;
      }
    }
    expect(checked).toBe(70 * 34);
  });

  it('catches a random single change in random keys (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(RECOVERY_KEY_LENGTH - 1),
        fc.integer({ min: 1, max: 31 }),
        (root, pos, delta) => {
          const key = encodeRecoveryKey(root).replace(/-/g, '');
          const changed = ALPHABET[(ALPHABET.indexOf(key[pos]!) + delta) % 32]!;
          const r = decodeRecoveryKey(key.slice(0, pos) + changed + key.slice(pos + 1));
          expect(r).toMatchObject({
            ok: false,
            error: { code: 'INVALID_CHECKSUM', group: Math.floor(pos / 5) + 1 },
          });
        },
      ),
    );
  });

  it('catches EVERY swap of two adjacent characters, also across groups (exhaustive)', () => {
    let swaps = 0;
    for (let pos = 0; pos + 1 < compact.length; pos++) {
      const a = compact[pos]!;
      const b = compact[pos + 1]!;
      if (a === b) continue;
      const swapped = compact.slice(0, pos) + b + a + compact.slice(pos + 2);
      const r = decodeRecoveryKey(swapped);
      expect(r.ok, `swap at ${pos}`).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('INVALID_CHECKSUM');
      swaps++;
    }
    expect(swaps).toBeGreaterThan(60);
  });

  it('catches swapped whole groups with the whole-key checksum', () => {
    const groups = realKey.split('-');
    const swappedGroups = [...groups];
    [swappedGroups[4], swappedGroups[5]] = [groups[5]!, groups[4]!];
    const r = decodeRecoveryKey(swappedGroups.join('-'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('INVALID_CHECKSUM');
      expect(r.error.group).toBeUndefined();
    }
  });

  it('refuses wrong lengths and other versions', () => {
    expect(decodeRecoveryKey(compact.slice(0, -1))).toMatchObject({
      ok: false,
      error: { code: 'BAD_ENCODING' },
    });
    expect(decodeRecoveryKey(`${realKey}-00000`)).toMatchObject({
      ok: false,
      error: { code: 'BAD_ENCODING' },
    });
    // Make version symbol 2 with a group check that passes, found by trying every check symbol.
    const outcomes = [...ALPHABET].map((check) =>
      decodeRecoveryKey(`2${compact.slice(1, 4)}${check}${compact.slice(5)}`),
    );
    const passingGroup = outcomes.filter((r) => r.ok || r.error.code !== 'INVALID_CHECKSUM');
    expect(passingGroup).toHaveLength(1);
    expect(passingGroup[0]).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_VERSION' } });
  });

  it('refuses roots that are not 32 bytes', () => {
    expect(() => encodeRecoveryKey(new Uint8Array(31))).toThrow(HaleCryptoError);
  });
});
