/**
 * A FHIR export a recipient can check: `Bundle.signature` made with the exporting account's identity key,
 * and `verifyFhirExport`, which anyone holding the Bundle's JSON runs, offline (the TSDoc of both:
 * `npm run docs` → docs/reference).
 *
 * What is signed (the XML-DSig pattern of a digest inside signed information, with Hale's canonical JSON):
 *   digest = sha256(signingMessage(FHIR_EXPORT_CONTENT_LABEL, the Bundle without `signature`))
 *   data   = Ed25519(identity key, signingMessage(FHIR_EXPORT_SIGNATURE_LABEL, `signature` without `data`))
 * where signingMessage(label, v) = utf8(label) ‖ 0x00 ‖ canonicalJson(v) (@hale/crypto). The digest rides
 * in the Signature's Hale extension `signed-content-digest`, the identity public key in `signer-identity-key`
 * (both valueBase64Binary), the signer's account id in `who.identifier` (system urn:hale:account). So
 * everything in the Bundle is covered: its content through the digest, and `type`, `when`, `who`, the key,
 * the formats and the digest themselves directly.
 *
 * Invariants: verification is a pure function of the JSON given (no clock, no network, no stored state): it
 * reads a canonical copy taken first, so nothing in the input can change between checks. `ok` means the
 * Bundle is byte for byte (in canonical JSON) what the holder of the identity key whose hash is the signer's
 * account id signed, at the `when` it signed with, and that `who` names that account alone: its identifier,
 * and its `reference`, if any, the signer's own Patient, Practitioner or RelatedPerson entry of the Bundle
 * (so a viewer that shows the referenced person shows the signer). `when` is a FHIR instant (zone within
 * ±14:00), as a FHIR R4 Signature needs. It asserts nothing about the records' own authorship claims
 * (docs/data-model.md, "What an export asserts"), and the signer is the account that exported (the patient,
 * or a provider exporting a patient's records it holds), not the records' author. Nothing is signed under an
 * all-zero key (a wiped one).
 * Failure modes: `signFhirExport` throws HaleCryptoError INVALID_INPUT for a key that is not the account's,
 * an all-zero secret key, a `when` that is no FHIR instant, or a Bundle that is not plain JSON or is signed
 * already. `verifyFhirExport` never throws; it answers one code of FHIR_EXPORT_CHECK_CODES (append-only):
 * MALFORMED (not JSON, not a Bundle, a signature of another format or shape, or no Hale patient export),
 * SIGNATURE_MISSING, KEY_MISMATCH (the key does not hash to the account id named, or a validly signed
 * `who.reference` points at anything but the signer's own entry), BAD_SIGNATURE (the signature does not
 * hold for that key), CONTENT_ALTERED (a valid signature, over other content) or SHAPE_INVALID (signed
 * as it is, but not a well-formed FHIR export: `validateFhirBundleShape` of @hale/model refuses it).
 */
import { Type } from '@sinclair/typebox';
import {
  accountIdFromIdentityKey,
  base64urlDecode,
  base64urlEncode,
  canonicalJson,
  chooseEd25519,
  constantTimeEqual,
  cryptoError,
  isAllZero,
  sha256,
  signCanonical,
  signingMessage,
  verifyCanonical,
  type Ed25519,
  type SigningKeyPair,
} from '@hale/crypto';
import {
  HALE_ACCOUNT_SYSTEM,
  HALE_EXTENSION_BASE,
  fhirFullUrl,
  fhirId,
  isAccountId,
  isFhirBase64Binary,
  isFhirInstant,
  standardFullUrl,
  validateFhirBundleShape,
  type FhirBundle,
  type FhirJsonObject,
} from '@hale/model';
import { parseJson, validate } from '@hale/protocol';

/** Domain label of the signed Signature element (without `data`). */
export const FHIR_EXPORT_SIGNATURE_LABEL = 'hale/fhir-export/v1';
/** Domain label of the digest of the Bundle without `signature`. */
export const FHIR_EXPORT_CONTENT_LABEL = 'hale/fhir-export-content/v1';
/** `Signature.sigFormat`: a Hale Ed25519 signature as described in the header (a vendor MIME type). */
export const FHIR_EXPORT_SIG_FORMAT = 'application/vnd.hale.fhir-export-signature.v1';
/** `Signature.targetFormat`: what is signed. */
export const FHIR_EXPORT_TARGET_FORMAT = 'application/fhir+json';
/** Extension on Bundle.signature: the signer's Ed25519 identity public key (32 bytes, base64). */
export const FHIR_SIGNER_KEY_EXTENSION = `${HALE_EXTENSION_BASE}signer-identity-key`;
/** Extension on Bundle.signature: the digest of the Bundle without its signature (32 bytes, base64). */
export const FHIR_CONTENT_DIGEST_EXTENSION = `${HALE_EXTENSION_BASE}signed-content-digest`;

/**
 * `Signature.type`: ASTM E1762 "Source Signature", the signature of the entity that is the source of the
 * data. Not "Author's Signature": the exporter vouches for this copy, not for having written the records.
 */
export const FHIR_EXPORT_SIGNATURE_TYPE = {
  system: 'urn:iso-astm:E1762-95:2013',
  code: '1.2.840.10065.1.12.1.14',
  display: 'Source Signature',
} as const;

/** Append-only: a new code goes at the end. */
export const FHIR_EXPORT_CHECK_CODES = [
  'MALFORMED',
  'SIGNATURE_MISSING',
  'KEY_MISMATCH',
  'BAD_SIGNATURE',
  'CONTENT_ALTERED',
  /** Signed as it is, but no well-formed FHIR export (`validateFhirBundleShape`); the message says why. */
  'SHAPE_INVALID',
] as const;
/** One of `FHIR_EXPORT_CHECK_CODES`: what `verifyFhirExport` found. */
export type FhirExportCheckCode = (typeof FHIR_EXPORT_CHECK_CODES)[number];

/** What `verifyFhirExport` answers: ok with the signer, or not with the check that failed. */
export type FhirExportVerification =
  | {
      readonly ok: true;
      /** The account that signed (exported): its identity key hashes to this id. */
      readonly signer: string;
      /** The account whose records the Bundle holds (its Patient's `urn:hale:account` identifier). */
      readonly patientId: string;
      /** `Signature.when`, as signed. */
      readonly when: string;
    }
  | { readonly ok: false; readonly code: FhirExportCheckCode; readonly message: string };

/** A Bundle as `exportFhir` returns it: with its `signature`. */
export interface SignedFhirBundle extends FhirBundle {
  readonly signature: FhirJsonObject;
}

/** The account that signs an export (`signFhirExport`): its id and identity key. */
export interface FhirExportSigner {
  readonly accountId: string;
  /** The account's identity key (AccountKeys.identity). */
  readonly identity: SigningKeyPair;
}

// ----------------------------------------------------------------------------------------- base64

const toBase64 = (bytes: Uint8Array): string => {
  const url = base64urlEncode(bytes).replaceAll('-', '+').replaceAll('_', '/');
  return url + '='.repeat((4 - (url.length % 4)) % 4);
};

/** Strict: one text form per byte string (padding required, unused bits zero), else undefined. */
const fromBase64 = (text: string, length: number): Uint8Array | undefined => {
  if (!isFhirBase64Binary(text)) return undefined;
  const decoded = base64urlDecode(text.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_'));
  return decoded.ok && decoded.value.length === length ? decoded.value : undefined;
};

// ------------------------------------------------------------------------------------------- signing

const contentDigest = (bundleWithoutSignature: unknown): Uint8Array =>
  sha256(signingMessage(FHIR_EXPORT_CONTENT_LABEL, bundleWithoutSignature));

const EntryIdentity = Type.Object({
  fullUrl: Type.String(),
  resource: Type.Object({ resourceType: Type.String(), id: Type.String() }),
});

/**
 * The fullUrls of `accountId`'s own person entries in `entries` (a Patient, Practitioner or RelatedPerson
 * whose id is the account's), the only ones `Signature.who.reference` may name: every entry under such a
 * fullUrl must be that resource, so the reference cannot resolve to another person.
 */
const personEntriesOf = (entries: readonly unknown[] | undefined, accountId: string): string[] => {
  const id = fhirId(accountId);
  const byUrl = new Map<string, boolean>();
  for (const entry of entries ?? []) {
    const checked = validate(EntryIdentity, entry);
    if (!checked.ok) continue;
    const { fullUrl, resource } = checked.value;
    const own =
      resource.id === id &&
      (fullUrl === fhirFullUrl(resource.resourceType, id) ||
        fullUrl === standardFullUrl(resource.resourceType, id));
    byUrl.set(fullUrl, (byUrl.get(fullUrl) ?? true) && own);
  }
  return ['Patient', 'Practitioner', 'RelatedPerson']
    .flatMap((type) => [fhirFullUrl(type, id), standardFullUrl(type, id)])
    .filter((url) => byUrl.get(url) === true);
};

/**
 * `bundle` with `Bundle.signature` by `signer`'s identity key at `when` (a FHIR instant, normally the
 * Bundle's timestamp). See the header for what is signed.
 */
export async function signFhirExport(
  bundle: FhirBundle,
  signer: FhirExportSigner,
  ed: Ed25519,
  when: string,
): Promise<SignedFhirBundle> {
  const { accountId, identity } = signer;
  if (!isAccountId(accountId) || accountIdFromIdentityKey(identity.publicKey) !== accountId) {
    throw cryptoError('INVALID_INPUT', 'the identity key is not the signing account’s');
  }
  if (isAllZero(identity.secretKey.subarray(0, 32))) {
    throw cryptoError('INVALID_INPUT', 'the identity key was wiped (all zeroes)');
  }
  if (!isFhirInstant(when)) {
    throw cryptoError('INVALID_INPUT', 'when must be a FHIR instant (a date-time with a zone within ±14:00)');
  }
  if ('signature' in bundle) throw cryptoError('INVALID_INPUT', 'the bundle is signed already');
  const [person] = personEntriesOf(bundle.entry, accountId);
  const unsigned: FhirJsonObject = {
    type: [{ ...FHIR_EXPORT_SIGNATURE_TYPE }],
    when,
    who: {
      ...(person === undefined ? {} : { reference: person }),
      identifier: { system: HALE_ACCOUNT_SYSTEM, value: accountId },
    },
    targetFormat: FHIR_EXPORT_TARGET_FORMAT,
    sigFormat: FHIR_EXPORT_SIG_FORMAT,
    extension: [
      { url: FHIR_SIGNER_KEY_EXTENSION, valueBase64Binary: toBase64(identity.publicKey) },
      { url: FHIR_CONTENT_DIGEST_EXTENSION, valueBase64Binary: toBase64(contentDigest(bundle)) },
    ],
  };
  const sig = await signCanonical(ed, identity.secretKey, FHIR_EXPORT_SIGNATURE_LABEL, unsigned);
  return { ...bundle, signature: { ...unsigned, data: toBase64(sig) } };
}

// -------------------------------------------------------------------------------------- verification

const Base64Binary = Type.String({ minLength: 1 });
const Extension = Type.Object({ url: Type.String(), valueBase64Binary: Type.Optional(Base64Binary) });

// Open objects: a member this build does not know is signed with the rest, so it cannot be slipped in.
const ExportSignature = Type.Object({
  type: Type.Array(Type.Object({}), { minItems: 1 }),
  when: Type.String(),
  who: Type.Object({
    reference: Type.Optional(Type.String()),
    identifier: Type.Object({ system: Type.Literal(HALE_ACCOUNT_SYSTEM), value: Type.String() }),
  }),
  sigFormat: Type.Literal(FHIR_EXPORT_SIG_FORMAT),
  data: Base64Binary,
  extension: Type.Array(Extension, { minItems: 2 }),
});

const BundleEnvelope = Type.Object({
  resourceType: Type.Literal('Bundle'),
  entry: Type.Optional(Type.Array(Type.Unknown())),
  signature: Type.Optional(Type.Unknown()),
});

const ExportPatient = Type.Object({
  resource: Type.Object({
    resourceType: Type.Literal('Patient'),
    id: Type.String(),
    identifier: Type.Array(
      Type.Object({ system: Type.Optional(Type.String()), value: Type.Optional(Type.String()) }),
    ),
  }),
});

/** `value`'s members but `key` (all of them, unknown ones too: they were signed), if it is an object. */
const withoutMember = (value: unknown, key: string): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([name]) => name !== key))
    : undefined;

const refused = (code: FhirExportCheckCode, message: string): FhirExportVerification => ({
  ok: false,
  code,
  message,
});

/** The one value of extension `url`, if exactly one is there. */
const extensionValue = (
  extensions: readonly { url: string; valueBase64Binary?: string | undefined }[],
  url: string,
): string | undefined => {
  const found = extensions.filter((ext) => ext.url === url);
  return found.length === 1 ? found[0]!.valueBase64Binary : undefined;
};

/** The export's patient: its first entry, a Patient whose id is that of the account it names. */
const patientOf = (entries: readonly unknown[] | undefined): string | undefined => {
  const checked = validate(ExportPatient, entries?.[0]);
  if (!checked.ok) return undefined;
  const { id, identifier } = checked.value.resource;
  const accounts = identifier.filter((i) => i.system === HALE_ACCOUNT_SYSTEM).map((i) => i.value);
  const [account] = accounts;
  return accounts.length === 1 && isAccountId(account) && fhirId(account) === id ? account : undefined;
};

/**
 * Checks a Hale FHIR export: who signed it, for which patient, when, that nothing in it changed since,
 * and that it is well-formed FHIR (`validateFhirBundleShape`). `input` is the file's text (a string), or
 * the Bundle's JSON already parsed (any other value is accepted and judged). Give the text: parsing
 * hides a member name written twice in one object, which JSON.parse reads as the last and other readers
 * as the first, so a file could verify while a viewer shows other content; read from text, such a file is
 * MALFORMED. Never throws. `ed` defaults to the fastest Ed25519 of the platform (`chooseEd25519`).
 */
export async function verifyFhirExport(input: unknown, ed?: Ed25519): Promise<FhirExportVerification> {
  let parsed = input;
  if (typeof input === 'string') {
    const read = parseJson(input);
    if (!read.ok) return refused('MALFORMED', `not JSON every reader reads alike: ${read.error.message}`);
    parsed = read.value;
  }
  let snapshot: unknown;
  try {
    // A canonical copy first: only plain JSON passes, and getters or proxies cannot answer differently
    // to the checks below than to the digest.
    snapshot = JSON.parse(canonicalJson(parsed));
  } catch {
    return refused('MALFORMED', 'not JSON (canonicalJson refused it)');
  }
  const envelope = validate(BundleEnvelope, snapshot);
  if (!envelope.ok) return refused('MALFORMED', `not a FHIR Bundle: ${envelope.error.message}`);
  const { signature } = envelope.value;
  const content = withoutMember(snapshot, 'signature');
  const unsigned = withoutMember(signature, 'data');
  if (signature === undefined) return refused('SIGNATURE_MISSING', 'the Bundle has no signature');
  const checked = validate(ExportSignature, signature);
  if (!checked.ok || content === undefined || unsigned === undefined) {
    const why = checked.ok ? 'not an object' : checked.error.message;
    return refused('MALFORMED', `not a Hale export signature: ${why}`);
  }
  const { when, who, extension, data } = checked.value;
  const signer = who.identifier.value;
  if (!isAccountId(signer)) return refused('MALFORMED', 'Signature.who names no account id');
  if (!isFhirInstant(when)) return refused('MALFORMED', 'Signature.when is no FHIR instant');
  const keyText = extensionValue(extension, FHIR_SIGNER_KEY_EXTENSION);
  const digestText = extensionValue(extension, FHIR_CONTENT_DIGEST_EXTENSION);
  const publicKey = keyText === undefined ? undefined : fromBase64(keyText, 32);
  const digest = digestText === undefined ? undefined : fromBase64(digestText, 32);
  const sig = fromBase64(data, 64);
  if (publicKey === undefined) return refused('MALFORMED', 'no identity key of 32 bytes (base64)');
  if (digest === undefined) return refused('MALFORMED', 'no content digest of 32 bytes (base64)');
  if (sig === undefined) return refused('MALFORMED', 'Signature.data is no 64-byte signature (base64)');

  if (accountIdFromIdentityKey(publicKey) !== signer) {
    return refused('KEY_MISMATCH', `the identity key given is not that of account ${signer}`);
  }
  const verifier = ed ?? (await chooseEd25519());
  if (!(await verifyCanonical(verifier, publicKey, FHIR_EXPORT_SIGNATURE_LABEL, unsigned, sig))) {
    return refused('BAD_SIGNATURE', `the signature does not hold for account ${signer}'s identity key`);
  }
  if (!constantTimeEqual(contentDigest(content), digest)) {
    return refused('CONTENT_ALTERED', `the Bundle is not what account ${signer} signed: its content changed`);
  }
  // Signed, but by whom it says: a `who.reference` to another person (the patient, when a provider or
  // anyone else signed) would have a FHIR viewer present the export as signed by them.
  if (who.reference !== undefined && !personEntriesOf(envelope.value.entry, signer).includes(who.reference)) {
    return refused(
      'KEY_MISMATCH',
      `Signature.who.reference names no entry of the signing account ${signer} in the Bundle`,
    );
  }
  const patientId = patientOf(envelope.value.entry);
  if (patientId === undefined) {
    return refused(
      'MALFORMED',
      'signed, but no Hale patient export (its first entry names no patient account)',
    );
  }
  // The shape last, once the Bundle is known to be what `signer` signed: a Bundle changed on the way is
  // reported as changed (the change may be what breaks its shape, and says more than the broken element),
  // and whatever an earlier build refused keeps its code; only a Bundle that verified `ok` can now be
  // refused, because what its signer signed is no FHIR a recipient's tools can read as an export.
  const shape = validateFhirBundleShape(snapshot);
  if (!shape.ok) {
    const { issues } = shape.error;
    const named = issues.slice(0, 3).map((issue) => `${issue.path}: ${issue.reason}`);
    const more = issues.length > 3 ? '; and more' : '';
    return refused(
      'SHAPE_INVALID',
      `signed by account ${signer}, but not a well-formed FHIR export: ${named.join('; ')}${more}`,
    );
  }
  return { ok: true, signer, patientId, when };
}
