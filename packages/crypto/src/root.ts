/**
 * Account root secret and its human-typeable recovery key.
 *
 * Format (v1): 14 groups of 5 Crockford base32 characters, e.g. `1K3QZ-…`, 70 symbols in all
 * (alphabet and bit packing: crockford-base32.ts).
 * Each group is 4 data symbols + 1 Damm check symbol over GF(32) (x∘y = 2·x + y, a totally
 * anti-symmetric quasigroup), so EVERY single changed character and EVERY swap of two adjacent
 * characters (also across a group boundary) is caught and the failing group is named.
 * The 56 data symbols are: the version symbol `1`, then 275 bits = root (256) ‖ the first 19 bits
 * of sha256("hale/recovery-key/v1" ‖ version ‖ root) — a whole-key checksum that catches most
 * multi-character mistakes the group checks miss (and swapped groups).
 *
 * Decoding folds compatibility forms first (NFKC: the full-width Ａ１－ of an East Asian input method),
 * is case-insensitive, ignores white space and dashes (the ASCII hyphen-minus and the typographic ones a
 * word processor or PDF substitutes: U+2010–U+2015, U+2212 minus) and maps O→0, I/L→1 (Crockford).
 * Separators carry no information, so ignoring more of them weakens no check.
 * Failures: wrong length or a character outside the alphabet → BAD_ENCODING; a group check or the
 * whole-key checksum fails → INVALID_CHECKSUM (`group` is the 1-based group when known); another
 * version symbol → UNSUPPORTED_VERSION.
 */
import { CROCKFORD_BASE32_ALPHABET, crockfordSymbols, crockfordText } from './crockford-base32';
import { fail, ok, cryptoError, type Result } from './errors';
import { labeledSha256 } from './hash';
import { randomBytes } from './random';

export const ROOT_SECRET_LENGTH = 32;
export const RECOVERY_KEY_VERSION = 1;

const GROUP_DATA = 4;
const GROUP_SIZE = GROUP_DATA + 1;
const DATA_SYMBOLS = 56;
const GROUPS = DATA_SYMBOLS / GROUP_DATA;
const CHECKSUM_BITS = DATA_SYMBOLS * 5 - 5 - ROOT_SECRET_LENGTH * 8; // 19
export const RECOVERY_KEY_LENGTH = GROUPS * GROUP_SIZE; // symbols, separators excluded

const SYMBOL_VALUE = (() => {
  const table = new Map<string, number>();
  for (let i = 0; i < CROCKFORD_BASE32_ALPHABET.length; i++) table.set(CROCKFORD_BASE32_ALPHABET[i]!, i);
  table.set('O', 0);
  table.set('I', 1);
  table.set('L', 1);
  return table;
})();

/** Multiplication by x in GF(2^5) with modulus x^5 + x^2 + 1. */
const times2 = (v: number): number => ((v << 1) ^ (v & 16 ? 0b100101 : 0)) & 31;

/** Damm interim after processing `symbols`; a valid group (data + check) ends at 0. */
function dammInterim(symbols: readonly number[]): number {
  let interim = 0;
  for (const s of symbols) interim = times2(interim) ^ s;
  return interim;
}

/** The check symbol c with 2·interim + c = 0, i.e. c = 2·interim in characteristic 2. */
const dammCheck = (data: readonly number[]): number => times2(dammInterim(data));

export function generateRootSecret(): Uint8Array {
  return randomBytes(ROOT_SECRET_LENGTH);
}

function checksumBits(root: Uint8Array): number {
  const h = labeledSha256('hale/recovery-key/v1', Uint8Array.of(RECOVERY_KEY_VERSION), root);
  const top24 = (h[0]! << 16) | (h[1]! << 8) | h[2]!;
  return top24 >>> (24 - CHECKSUM_BITS);
}

/** Splits root ‖ checksum into 5-bit symbols (MSB first): 275 bits, 55 symbols, no filler bits. */
const payloadSymbols = (root: Uint8Array): number[] =>
  crockfordSymbols([
    ...Array.from(root, (b) => [b, 8] as const),
    [checksumBits(root), CHECKSUM_BITS] as const,
  ]);

function payloadFromSymbols(symbols: readonly number[]): { root: Uint8Array; checksum: number } {
  const bits: number[] = [];
  for (const s of symbols) for (let b = 4; b >= 0; b--) bits.push((s >>> b) & 1);
  const read = (from: number, width: number): number => {
    let v = 0;
    for (let i = from; i < from + width; i++) v = v * 2 + bits[i]!;
    return v;
  };
  const root = new Uint8Array(ROOT_SECRET_LENGTH);
  for (let i = 0; i < ROOT_SECRET_LENGTH; i++) root[i] = read(i * 8, 8);
  return { root, checksum: read(ROOT_SECRET_LENGTH * 8, CHECKSUM_BITS) };
}

export function encodeRecoveryKey(root: Uint8Array): string {
  if (!(root instanceof Uint8Array) || root.length !== ROOT_SECRET_LENGTH) {
    throw cryptoError('INVALID_INPUT', `recovery key: root secret must be ${ROOT_SECRET_LENGTH} bytes`);
  }
  const data = [RECOVERY_KEY_VERSION, ...payloadSymbols(root)];
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const chunk = data.slice(g * GROUP_DATA, (g + 1) * GROUP_DATA);
    groups.push(crockfordText([...chunk, dammCheck(chunk)]));
  }
  return groups.join('-');
}

// Hyphen-minus, hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign.
const SEPARATORS = /[\s\u002D\u2010-\u2015\u2212]+/g;

export function decodeRecoveryKey(text: string): Result<Uint8Array> {
  if (typeof text !== 'string') return fail('BAD_ENCODING', 'recovery key: not a string');
  // NFKC first: an East Asian input method in full-width mode types Ａ１－ for A1-, the same key.
  const compact = text.normalize('NFKC').replace(SEPARATORS, '').toUpperCase();
  const symbols: number[] = [];
  for (let i = 0; i < compact.length; i++) {
    const v = SYMBOL_VALUE.get(compact[i]!);
    if (v === undefined) {
      return fail(
        'BAD_ENCODING',
        `recovery key: '${compact[i]!}' (character ${i + 1}) is not a valid character`,
      );
    }
    symbols.push(v);
  }
  if (symbols.length !== RECOVERY_KEY_LENGTH) {
    return fail(
      'BAD_ENCODING',
      `recovery key: expected ${RECOVERY_KEY_LENGTH} characters (${GROUPS} groups of ${GROUP_SIZE}), got ${symbols.length}`,
    );
  }
  const bad: number[] = [];
  const data: number[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const group = symbols.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE);
    if (dammInterim(group) !== 0) bad.push(g + 1);
    data.push(...group.slice(0, GROUP_DATA));
  }
  if (bad.length > 0) {
    return fail(
      'INVALID_CHECKSUM',
      `recovery key: group${bad.length > 1 ? 's' : ''} ${bad.join(', ')} mistyped`,
      bad[0],
    );
  }
  if (data[0] !== RECOVERY_KEY_VERSION) {
    return fail(
      'UNSUPPORTED_VERSION',
      `recovery key: version ${CROCKFORD_BASE32_ALPHABET[data[0]!]!} is not supported`,
    );
  }
  const { root, checksum } = payloadFromSymbols(data.slice(1));
  if (checksum !== checksumBits(root)) {
    return fail(
      'INVALID_CHECKSUM',
      'recovery key: checksum does not match (groups swapped or several mistakes)',
    );
  }
  return ok(root);
}
