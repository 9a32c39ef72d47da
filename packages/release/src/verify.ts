/**
 * The checks the installed web app makes of a release the server offers (pure: no I/O).
 *
 * | refusal | when |
 * |---|---|
 * | `malformed` | not a `SignedRelease` (schema), or two entries for one path, or unsorted |
 * | `unsigned` | no signature |
 * | `unknown-key` | the signature verifies under no trusted key, and its key id names none of them |
 * | `bad-signature` | its key id names a trusted key, under which it does not verify (changed manifest) |
 * | `dev-key` | signed by the development key, which this build does not trust |
 * | `downgrade` | a lower sequence than the installed release's |
 * | `replayed-sequence` | the installed release's sequence with other files (another build under its number) |
 * | `not-newer` | the installed release itself (nothing to do; not an attack) |
 *
 * `checkFile` compares a file's bytes with its entry (size and SHA-256): a changed file is refused however
 * the manifest came. Invariants: a key is trusted only if given in `trustedKeys`; the key id is a hint.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Value } from '@sinclair/typebox/value';
import { DEV_RELEASE_PUBLIC_KEY } from './dev-key';
import { SignedRelease, signedBytes, type ReleaseFile, type ReleaseManifest } from './manifest';

export type ReleaseRefusal =
  | 'malformed'
  | 'unsigned'
  | 'unknown-key'
  | 'bad-signature'
  | 'dev-key'
  | 'downgrade'
  | 'replayed-sequence'
  | 'not-newer';

export type ReleaseCheck =
  | { readonly ok: true; readonly manifest: ReleaseManifest; readonly keyId: string }
  | { readonly ok: false; readonly reason: ReleaseRefusal; readonly message: string };

export interface ReleaseTrust {
  /** The release public keys (32 bytes, hex) this installed app carries. */
  readonly trustedKeys: readonly string[];
  /** The release installed now; null on first install. */
  readonly installed: ReleaseManifest | null;
}

/** The key id of a public key (hex): first 16 hex digits of its SHA-256. */
export const releaseKeyId = (publicKeyHex: string): string =>
  bytesToHex(sha256(hexToBytes(publicKeyHex))).slice(0, 16);

const refuse = (reason: ReleaseRefusal, message: string): ReleaseCheck => ({ ok: false, reason, message });

const sameFiles = (a: ReleaseManifest, b: ReleaseManifest): boolean =>
  a.files.length === b.files.length &&
  a.files.every(
    (f, i) => f.path === b.files[i]?.path && f.sha256 === b.files[i]?.sha256 && f.size === b.files[i]?.size,
  );

function verifies(sigHex: string, message: Uint8Array, publicKeyHex: string): boolean {
  try {
    return ed25519.verify(hexToBytes(sigHex), message, hexToBytes(publicKeyHex));
  } catch {
    return false;
  }
}

export function checkRelease(value: unknown, trust: ReleaseTrust): ReleaseCheck {
  if (!Value.Check(SignedRelease, value))
    return refuse('malformed', 'the release list is not a Hale release manifest');
  const { manifest, signature } = value;
  for (let i = 1; i < manifest.files.length; i++) {
    const before = manifest.files[i - 1]?.path ?? '';
    if (!(before < (manifest.files[i]?.path ?? ''))) {
      return refuse('malformed', 'the release list names a file twice, or out of order');
    }
  }
  if (signature === undefined) return refuse('unsigned', 'the release list is not signed');
  const message = signedBytes(manifest);
  const signer = trust.trustedKeys.find((key) => verifies(signature.sig, message, key));
  if (signer === undefined) {
    if (verifies(signature.sig, message, DEV_RELEASE_PUBLIC_KEY)) {
      return refuse('dev-key', 'the release list is signed with the development key, which anyone can use');
    }
    const named = trust.trustedKeys.some((key) => releaseKeyId(key) === signature.keyId);
    return named
      ? refuse('bad-signature', 'the release list was changed after it was signed')
      : refuse('unknown-key', 'the release list is signed by a key this app does not trust');
  }
  const installed = trust.installed;
  if (installed !== null) {
    if (manifest.sequence < installed.sequence) {
      return refuse(
        'downgrade',
        `the release offered (${manifest.version}) is older than the one installed (${installed.version})`,
      );
    }
    if (manifest.sequence === installed.sequence) {
      return sameFiles(manifest, installed)
        ? refuse('not-newer', 'this release is the one installed')
        : refuse(
            'replayed-sequence',
            'the release offered has the installed release number with other files',
          );
    }
  }
  return { ok: true, manifest, keyId: releaseKeyId(signer) };
}

/** Whether `bytes` are the file `entry` names (size and SHA-256). */
export const checkFile = (entry: ReleaseFile, bytes: Uint8Array): boolean =>
  bytes.length === entry.size && bytesToHex(sha256(bytes)) === entry.sha256;
