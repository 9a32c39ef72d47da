/**
 * `@hale/release/node`: a build's release manifest, signed (Node only: reads files and keys).
 *
 * | call | does |
 * |---|---|
 * | `listFiles(dir)` | every file under `dir` as `{ path, sha256, size }`, sorted by path (`release.json` and dot-names left out: the server does not serve them, e.g. Vite's `.vite/manifest.json`) |
 * | `releaseKey(env)` | the signing key: `HALE_RELEASE_KEY` (64 hex digits), else `HALE_RELEASE_KEY_FILE`, else the public DEVELOPMENT key (`dev: true`) |
 * | `signRelease(manifest, seed)` | the `SignedRelease` |
 * | `writeRelease(dir, …)` | all of it: `dir/release.json` |
 *
 * Failure modes: a key that is not 32 bytes of hex, an unreadable key file, a version without a sequence
 * → ReleaseKeyError / Error with a message naming what to fix; nothing is written then.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { ReleaseManifest } from '../src/index';
import {
  RELEASE_FILE,
  releaseKeyId,
  sequenceOfVersion,
  signedBytes,
  type ReleaseFile,
  type SignedRelease,
} from '../src/index';
import { DEV_RELEASE_SEED_HEX } from './dev-key';

export { DEV_RELEASE_SEED_HEX };

export class ReleaseKeyError extends Error {
  override readonly name = 'ReleaseKeyError';
}

export interface ReleaseKey {
  readonly seed: Uint8Array;
  readonly publicKeyHex: string;
  /** The public development key: anyone can sign with it. */
  readonly dev: boolean;
}

const HEX32 = /^[0-9a-f]{64}$/;

const keyOf = (hex: string, dev: boolean, from: string): ReleaseKey => {
  const clean = hex.trim().toLowerCase();
  if (!HEX32.test(clean))
    throw new ReleaseKeyError(`${from}: a release key is 64 hex digits (a 32-byte Ed25519 seed)`);
  const seed = hexToBytes(clean);
  return { seed, publicKeyHex: bytesToHex(ed25519.getPublicKey(seed)), dev };
};

/** A new release key: keep `seedHex` secret (a file only the release machine reads); publish `publicKeyHex`. */
export function generateReleaseKey(): { seedHex: string; publicKeyHex: string } {
  const seed = ed25519.utils.randomSecretKey();
  return { seedHex: bytesToHex(seed), publicKeyHex: bytesToHex(ed25519.getPublicKey(seed)) };
}

export function releaseKey(env: NodeJS.ProcessEnv, keyFile?: string): ReleaseKey {
  if (keyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(keyFile, 'utf8');
    } catch {
      throw new ReleaseKeyError(`--key-file: cannot read ${keyFile}`);
    }
    return keyOf(text, false, keyFile);
  }
  if (env.HALE_RELEASE_KEY !== undefined) return keyOf(env.HALE_RELEASE_KEY, false, 'HALE_RELEASE_KEY');
  if (env.HALE_RELEASE_KEY_FILE !== undefined) return releaseKey({}, env.HALE_RELEASE_KEY_FILE);
  return keyOf(DEV_RELEASE_SEED_HEX, true, 'the development key');
}

export async function listFiles(dir: string): Promise<ReleaseFile[]> {
  const files: ReleaseFile[] = [];
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = path.posix.join(sub, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile()) {
        const urlPath = `/${rel}`;
        if (urlPath === RELEASE_FILE) continue;
        const bytes = await readFile(path.join(dir, rel));
        files.push({
          path: urlPath,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          size: bytes.length,
        });
      }
    }
  };
  await walk('');
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export function signRelease(manifest: ReleaseManifest, key: ReleaseKey): SignedRelease {
  const sig = ed25519.sign(signedBytes(manifest), key.seed);
  return { manifest, signature: { keyId: releaseKeyId(key.publicKeyHex), sig: bytesToHex(sig) } };
}

export async function writeRelease(
  dir: string,
  options: { version: string; sequence?: number; key: ReleaseKey; now?: () => Date },
): Promise<SignedRelease> {
  const sequence = options.sequence ?? sequenceOfVersion(options.version);
  if (sequence === null) {
    throw new Error(`version ${options.version} is not major.minor.patch: give the release sequence number`);
  }
  const manifest: ReleaseManifest = {
    v: 1,
    app: 'hale',
    version: options.version,
    sequence,
    createdAt: (options.now?.() ?? new Date()).toISOString(),
    dev: options.key.dev,
    files: await listFiles(dir),
  };
  const signed = signRelease(manifest, options.key);
  await writeFile(path.join(dir, RELEASE_FILE.slice(1)), `${JSON.stringify(signed, null, 1)}\n`);
  return signed;
}
