/**
 * The release manifest of the installed web app: every file of a build by path, SHA-256 and size, with a
 * version and a sequence number, signed with Ed25519 by the release key (`release.json` beside the files).
 *
 * | field | meaning |
 * |---|---|
 * | `sequence` | strictly grows from release to release: a service worker takes no lower one (downgrade) nor another build under its own |
 * | `dev` | signed with the development key, which is public (`DEV_RELEASE_PUBLIC_KEY`): never for people's data |
 * | `files[].path` | absolute URL path (`/index.html`, `/assets/app-3f2a.js`), sorted, unique |
 *
 * Invariants: the signed bytes are `RELEASE_LABEL ‖ "\n" ‖ manifestText(manifest)`, a serialization with a
 * fixed key order written here (no general canonical JSON needed): the same manifest always gives the same
 * bytes; everything read is schema-checked (closed objects, bounded strings and counts) before use.
 */
import { Type, type Static } from '@sinclair/typebox';

export const RELEASE_LABEL = 'hale/release/v1';
export const RELEASE_FILE = '/release.json';
export const MAX_RELEASE_FILES = 2_000;

const closed = { additionalProperties: false } as const;

export const ReleaseFile = Type.Object(
  {
    path: Type.String({ pattern: "^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,500}$" }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    size: Type.Integer({ minimum: 0, maximum: 256 * 1024 * 1024 }),
  },
  closed,
);
export type ReleaseFile = Static<typeof ReleaseFile>;

export const ReleaseManifest = Type.Object(
  {
    v: Type.Literal(1),
    app: Type.Literal('hale'),
    version: Type.String({ pattern: '^[0-9A-Za-z.+-]{1,64}$' }),
    sequence: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    createdAt: Type.String({ maxLength: 40 }),
    dev: Type.Boolean(),
    files: Type.Array(ReleaseFile, { minItems: 1, maxItems: MAX_RELEASE_FILES }),
  },
  closed,
);
export type ReleaseManifest = Static<typeof ReleaseManifest>;

export const ReleaseSignature = Type.Object(
  {
    /** First 16 hex digits of SHA-256 of the public key: which key to try first (not trusted by itself). */
    keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    sig: Type.String({ pattern: '^[0-9a-f]{128}$' }),
  },
  closed,
);
export type ReleaseSignature = Static<typeof ReleaseSignature>;

export const SignedRelease = Type.Object(
  { manifest: ReleaseManifest, signature: Type.Optional(ReleaseSignature) },
  closed,
);
export type SignedRelease = Static<typeof SignedRelease>;

/** The manifest's signed text: fixed key order, files as given (sorted by the builder). */
export function manifestText(m: ReleaseManifest): string {
  const files = m.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size }));
  return JSON.stringify({
    v: m.v,
    app: m.app,
    version: m.version,
    sequence: m.sequence,
    createdAt: m.createdAt,
    dev: m.dev,
    files,
  });
}

export const signedBytes = (m: ReleaseManifest): Uint8Array =>
  new TextEncoder().encode(`${RELEASE_LABEL}\n${manifestText(m)}`);

/** A sequence number from a version `major.minor.patch` (each < 1000), for builds that give none. */
export function sequenceOfVersion(version: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(version);
  if (m === null) return null;
  return Number(m[1]) * 1_000_000 + Number(m[2]) * 1_000 + Number(m[3]);
}
