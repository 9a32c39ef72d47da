// The checks of a release the server offers: signed by a trusted key, not a downgrade, files as listed.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { signRelease, generateReleaseKey, releaseKey, DEV_RELEASE_SEED_HEX } from '../node/index';
import { DEV_RELEASE_PUBLIC_KEY } from './dev-key';
import type { ReleaseManifest, SignedRelease } from './manifest';
import { checkFile, checkRelease } from './verify';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const entry = (path: string, text: string) => ({
  path,
  sha256: bytesToHex(sha256(bytes(text))),
  size: bytes(text).length,
});

const manifest = (
  sequence: number,
  files = [entry('/index.html', '<html>'), entry('/app.js', 'run()')],
): ReleaseManifest => ({
  v: 1,
  app: 'hale',
  version: `1.0.${sequence}`,
  sequence,
  createdAt: '2026-11-25T00:00:00.000Z',
  dev: false,
  files: [...files].sort((a, b) => (a.path < b.path ? -1 : 1)),
});

const prod = generateReleaseKey();
const key = releaseKey({ HALE_RELEASE_KEY: prod.seedHex });
const trust = (installed: ReleaseManifest | null = null) => ({ trustedKeys: [prod.publicKeyHex], installed });

describe('checkRelease', () => {
  it('takes a list signed by a trusted key, newer than the installed one', () => {
    const signed = signRelease(manifest(2), key);
    const checked = checkRelease(JSON.parse(JSON.stringify(signed)), trust(manifest(1)));
    expect(checked.ok).toBe(true);
    expect(checkRelease(signed, trust()).ok).toBe(true);
  });

  it('refuses an unsigned list', () => {
    const checked = checkRelease({ manifest: manifest(2) }, trust());
    expect(checked).toMatchObject({ ok: false, reason: 'unsigned' });
  });

  it('refuses a list signed by another key (unknown-key), or by the public development key (dev-key)', () => {
    const other = releaseKey({ HALE_RELEASE_KEY: generateReleaseKey().seedHex });
    expect(checkRelease(signRelease(manifest(2), other), trust())).toMatchObject({
      ok: false,
      reason: 'unknown-key',
    });
    const dev = releaseKey({});
    expect(dev.dev).toBe(true);
    expect(dev.publicKeyHex).toBe(DEV_RELEASE_PUBLIC_KEY);
    expect(bytesToHex(ed25519.getPublicKey(Buffer.from(DEV_RELEASE_SEED_HEX, 'hex')))).toBe(
      DEV_RELEASE_PUBLIC_KEY,
    );
    expect(checkRelease(signRelease(manifest(2), dev), trust())).toMatchObject({
      ok: false,
      reason: 'dev-key',
    });
    // A development build trusts it.
    expect(
      checkRelease(signRelease(manifest(2), dev), { trustedKeys: [DEV_RELEASE_PUBLIC_KEY], installed: null })
        .ok,
    ).toBe(true);
  });

  it('refuses a list changed after signing: a file hash, a file added, the sequence raised', () => {
    const signed = signRelease(manifest(2), key);
    const changedHash: SignedRelease = {
      ...signed,
      manifest: {
        ...signed.manifest,
        files: [entry('/app.js', 'steal()'), ...signed.manifest.files.slice(1)],
      },
    };
    expect(checkRelease(changedHash, trust())).toMatchObject({ ok: false, reason: 'bad-signature' });
    const added: SignedRelease = {
      ...signed,
      manifest: { ...signed.manifest, files: [...signed.manifest.files, entry('/x.js', 'x')] },
    };
    expect(checkRelease(added, trust())).toMatchObject({ ok: false, reason: 'bad-signature' });
    const raised: SignedRelease = { ...signed, manifest: { ...signed.manifest, sequence: 99 } };
    expect(checkRelease(raised, trust())).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a downgrade, and another build under the installed sequence; the installed one is no update', () => {
    expect(checkRelease(signRelease(manifest(1), key), trust(manifest(2)))).toMatchObject({
      ok: false,
      reason: 'downgrade',
    });
    const other = manifest(2, [entry('/index.html', '<html>'), entry('/app.js', 'other()')]);
    expect(checkRelease(signRelease(other, key), trust(manifest(2)))).toMatchObject({
      ok: false,
      reason: 'replayed-sequence',
    });
    expect(checkRelease(signRelease(manifest(2), key), trust(manifest(2)))).toMatchObject({
      ok: false,
      reason: 'not-newer',
    });
  });

  it('refuses what is no release list: extra fields, a path twice, a bad hash, nonsense', () => {
    const signed = signRelease(manifest(2), key);
    expect(checkRelease({ ...signed, extra: 1 }, trust())).toMatchObject({ reason: 'malformed' });
    const twice = manifest(2, [entry('/a.js', '1'), entry('/a.js', '2')]);
    expect(checkRelease(signRelease(twice, key), trust())).toMatchObject({ reason: 'malformed' });
    expect(
      checkRelease(
        { ...signed, manifest: { ...signed.manifest, files: [{ path: '/a', sha256: 'zz', size: 1 }] } },
        trust(),
      ),
    ).toMatchObject({ reason: 'malformed' });
    expect(checkRelease('nonsense', trust())).toMatchObject({ reason: 'malformed' });
    expect(checkRelease(null, trust())).toMatchObject({ reason: 'malformed' });
  });
});

describe('checkFile', () => {
  it('takes the listed bytes only (a tampered file, a truncated one are refused)', () => {
    const e = entry('/app.js', 'run()');
    expect(checkFile(e, bytes('run()'))).toBe(true);
    expect(checkFile(e, bytes('run();steal()'))).toBe(false);
    expect(checkFile(e, bytes('rub()'))).toBe(false);
    expect(checkFile(e, bytes('run('))).toBe(false);
  });
});
