// `npm run release:sign -- --dir packages/app/dist --version 1.2.0 [--sequence N] [--key-file FILE]`:
// writes DIR/release.json, the build's files signed with the release key (HALE_RELEASE_KEY, or
// HALE_RELEASE_KEY_FILE / --key-file; without either, the public DEVELOPMENT key, said loudly).
// `npm run release:sign -- keygen`: prints a new key (secret seed, public key) for the release machine.
import { parseArgs } from 'node:util';
import { ReleaseKeyError, generateReleaseKey, releaseKey, writeRelease } from '../node/index';

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      version: { type: 'string' },
      sequence: { type: 'string' },
      'key-file': { type: 'string' },
    },
  });
  if (positionals[0] === 'keygen') {
    const key = generateReleaseKey();
    process.stdout.write(
      `secret seed (keep it on the release machine only, e.g. in a file for HALE_RELEASE_KEY_FILE):\n${key.seedHex}\n` +
        `public key (give it to app builds as HALE_RELEASE_PUBLIC_KEYS):\n${key.publicKeyHex}\n`,
    );
    return 0;
  }
  if (values.dir === undefined || values.version === undefined) {
    process.stderr.write(
      'usage: sign-release --dir DIR --version X.Y.Z [--sequence N] [--key-file FILE] | keygen\n',
    );
    return 2;
  }
  const sequence = values.sequence === undefined ? undefined : Number(values.sequence);
  if (sequence !== undefined && !(Number.isSafeInteger(sequence) && sequence >= 1)) {
    process.stderr.write(`--sequence: a positive integer: ${values.sequence}\n`);
    return 2;
  }
  const key = releaseKey(process.env, values['key-file']);
  if (key.dev) {
    process.stderr.write(
      'WARNING: signed with the DEVELOPMENT release key, which is public: for local builds only. ' +
        'Set HALE_RELEASE_KEY_FILE for a release people install.\n',
    );
  }
  const signed = await writeRelease(values.dir, {
    version: values.version,
    key,
    ...(sequence === undefined ? {} : { sequence }),
  });
  process.stdout.write(
    `release.json: ${signed.manifest.files.length} files, version ${signed.manifest.version}, sequence ${signed.manifest.sequence}, key ${signed.signature?.keyId ?? ''}${key.dev ? ' (dev)' : ''}\n`,
  );
  return 0;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof ReleaseKeyError || error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(error instanceof ReleaseKeyError ? 2 : 1);
  },
);
