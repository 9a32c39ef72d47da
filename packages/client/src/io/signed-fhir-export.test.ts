import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_PATIENT_ID,
  RECORD_KIND_NAMES,
  exampleRecord,
  fhirFullUrl,
  fhirId,
  toFhirBundle,
  validateFhirBundleShape,
  type FhirBundle,
  type FhirExportItem,
  type RecordKind,
  type RecordOf,
} from '@hale/model';
import { chooseEd25519, deriveAccountKeys, randomBytes, signCanonical, type AccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import {
  FHIR_CONTENT_DIGEST_EXTENSION,
  FHIR_EXPORT_CHECK_CODES,
  FHIR_EXPORT_SIGNATURE_LABEL,
  FHIR_EXPORT_SIG_FORMAT,
  FHIR_SIGNER_KEY_EXTENSION,
  signFhirExport,
  verifyFhirExport,
  type FhirExportVerification,
  type SignedFhirBundle,
} from './signed-fhir-export';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

const ed = nodeEd25519;
const WHEN = '2024-06-01T12:00:00Z';

const item = <K extends RecordKind>(kind: K, record: RecordOf<K>): FhirExportItem =>
  // The union member for K; TypeScript cannot pick it from a generic K on its own.
  ({ kind, record }) as FhirExportItem;

const account = (): AccountKeys => deriveAccountKeys(randomBytes(32));
const alice = account();
const bob = account();

/** Every record kind as exported for `patientId` (the example records, that patient's). */
const bundleOf = (patientId: string): FhirBundle =>
  toFhirBundle({
    patientId,
    generatedAt: WHEN,
    records: RECORD_KIND_NAMES.map((kind) =>
      item(kind, kind === 'ProviderProfile' ? exampleRecord(kind) : exampleRecord(kind, { patientId })),
    ),
  });

const signedBy = (signer: AccountKeys, bundle: FhirBundle, when = WHEN): Promise<SignedFhirBundle> =>
  signFhirExport(bundle, { accountId: signer.accountId, identity: signer.identity }, ed, when);

/** What a recipient holds: the file's text, parsed. */
const received = (bundle: unknown): Record<string, unknown> => {
  const parsed: unknown = JSON.parse(JSON.stringify(bundle));
  return objectAt(parsed);
};

const codeOf = (verification: FhirExportVerification): string => (verification.ok ? 'ok' : verification.code);

const check = async (bundle: unknown): Promise<string> => codeOf(await verifyFhirExport(bundle, ed));

/** The JSON object at `path` of `root` (the test's own data: fails the test when absent). */
const objectAt = (root: unknown, ...path: (string | number)[]): Record<string, unknown> => {
  let node: unknown = root;
  for (const step of path) {
    if (typeof node !== 'object' || node === null) throw new Error(`no ${String(step)}`);
    node = (node as Record<string | number, unknown>)[step];
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new Error('not an object');
  return node as Record<string, unknown>;
};

const extensionsOf = (bundle: unknown) => objectAt(bundle, 'signature').extension as { url: string }[];

/** Every leaf (string, number, boolean) under `value`, as a path. */
const leaves = (value: unknown, path: (string | number)[] = []): (string | number)[][] => {
  if (Array.isArray(value)) return value.flatMap((child, i) => leaves(child, [...path, i]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, child]) => leaves(child, [...path, key]));
  }
  return [path];
};

const changedAt = (root: Record<string, unknown>, path: (string | number)[]): Record<string, unknown> => {
  const copy = received(root);
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  const old = parent[key];
  parent[key] = typeof old === 'string' ? `${old}x` : typeof old === 'number' ? old + 1 : !old;
  return copy;
};

/**
 * `signed` with its Signature element changed by `change` and signed again by `signer`, as someone writing
 * their own signing code could: a valid signature over whatever `who` and `when` they choose.
 */
const resignedWith = async (
  signer: AccountKeys,
  signed: Record<string, unknown>,
  change: (unsigned: Record<string, unknown>) => Record<string, unknown>,
): Promise<Record<string, unknown>> => {
  const { data: _data, ...unsigned } = objectAt(signed, 'signature');
  const element = change(unsigned);
  const sig = await signCanonical(ed, signer.identity.secretKey, FHIR_EXPORT_SIGNATURE_LABEL, element);
  return { ...signed, signature: { ...element, data: Buffer.from(sig).toString('base64') } };
};

describe('a signed FHIR export', () => {
  it('round trip: a recipient of the JSON text learns signer, patient and when', async () => {
    const signed = await signedBy(alice, bundleOf(alice.accountId));
    expect(await verifyFhirExport(received(signed), ed)).toEqual({
      ok: true,
      signer: alice.accountId,
      patientId: alice.accountId,
      when: WHEN,
    });
    // Also with the platform's own Ed25519, as an app calling it without one gets.
    expect(codeOf(await verifyFhirExport(received(signed)))).toBe('ok');
  });

  it('read from the file text, a member name written twice is MALFORMED: readers would disagree', async () => {
    const signed = await signedBy(alice, bundleOf(alice.accountId));
    const text = JSON.stringify(signed);
    expect(codeOf(await verifyFhirExport(text, ed))).toBe('ok');
    // The signed value written last (what JSON.parse keeps), another one first (what other readers keep).
    const signedType = '"resourceType":"Bundle"';
    expect(text.startsWith(`{${signedType}`)).toBe(true);
    const forged = `{"resourceType":"Parameters",${text.slice(1)}`;
    // Parsed first, the forgery passes: the check never sees the first value.
    expect(codeOf(await verifyFhirExport(JSON.parse(forged), ed))).toBe('ok');
    const verdict = await verifyFhirExport(forged, ed);
    expect(verdict).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(verdict.ok ? '' : verdict.message).toContain('resourceType');
    expect(codeOf(await verifyFhirExport('{"resourceType":', ed))).toBe('MALFORMED');
  });

  it('carries a FHIR R4 Signature and still has the model FHIR shape', async () => {
    const bundle = bundleOf(alice.accountId);
    const signed = await signedBy(alice, bundle);
    expect(validateFhirBundleShape(received(signed))).toMatchObject({ ok: true });
    expect(signed.signature).toMatchObject({
      type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.14' }],
      when: WHEN,
      who: {
        reference: fhirFullUrl('Patient', fhirId(alice.accountId)),
        identifier: { system: 'urn:hale:account', value: alice.accountId },
      },
      targetFormat: 'application/fhir+json',
      sigFormat: FHIR_EXPORT_SIG_FORMAT,
    });
    const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    const data = signed.signature.data;
    expect(typeof data === 'string' && base64.test(data) ? Buffer.from(data, 'base64').length : 0).toBe(64);
    const key = extensionsOf(signed).find((e) => e.url === FHIR_SIGNER_KEY_EXTENSION);
    expect(key).toEqual({
      url: FHIR_SIGNER_KEY_EXTENSION,
      valueBase64Binary: Buffer.from(alice.identity.publicKey).toString('base64'),
    });
    // Signing adds `signature` only.
    const { signature: _signature, ...rest } = signed;
    expect(rest).toEqual(bundle);
  });

  it('refuses any one changed value in an entry: CONTENT_ALTERED', async () => {
    const signed = received(await signedBy(alice, bundleOf(alice.accountId)));
    const paths = leaves(signed.entry, ['entry']);
    expect(paths.length).toBeGreaterThan(300);
    expect(await check(changedAt(signed, paths[0]!))).toBe('CONTENT_ALTERED');
    const native = await chooseEd25519(); // hundreds of checks: tweetnacl would take seconds
    const codes = new Map<string, number>();
    for (const path of paths) {
      const code = codeOf(await verifyFhirExport(changedAt(signed, path), native));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ CONTENT_ALTERED: paths.length });
  });

  it('refuses entries removed, added or reordered, and a changed timestamp: CONTENT_ALTERED', async () => {
    const signed = received(await signedBy(alice, bundleOf(alice.accountId)));
    const entries = () => objectAt(signed).entry as unknown[];
    const altered = [
      { ...signed, entry: entries().slice(0, -1) },
      { ...signed, entry: [...entries(), entries()[1]] },
      { ...signed, entry: [entries()[1], entries()[0], ...entries().slice(2)] },
      { ...signed, timestamp: '2024-06-01T12:00:01Z' },
      { ...signed, id: 'added' },
    ];
    for (const bundle of altered) expect(await check(bundle)).toBe('CONTENT_ALTERED');
  });

  it('refuses a signature swapped for another account’s', async () => {
    const content = bundleOf(alice.accountId);
    const byAlice = received(await signedBy(alice, content));
    const bobsOwn = received(await signedBy(bob, bundleOf(EXAMPLE_PATIENT_ID)));
    const bobsOfThis = received(await signedBy(bob, content));
    const aliceSig = objectAt(byAlice, 'signature');
    const bobSig = objectAt(bobsOwn, 'signature');
    // Bob's whole signature, of his own export, on Alice's: valid for Bob, but over other content.
    expect(await check({ ...byAlice, signature: bobSig })).toBe('CONTENT_ALTERED');
    // Bob's signature bytes under Alice's name and key.
    expect(
      await check({ ...byAlice, signature: { ...aliceSig, data: objectAt(bobsOfThis, 'signature').data } }),
    ).toBe('BAD_SIGNATURE');
    // Bob's name and key over Alice's signature bytes.
    expect(
      await check({
        ...byAlice,
        signature: { ...aliceSig, who: bobSig.who, extension: objectAt(bobsOfThis, 'signature').extension },
      }),
    ).toBe('BAD_SIGNATURE');
    // Bob signing the same content is Bob's signature, and says so.
    expect(await verifyFhirExport(bobsOfThis, ed)).toMatchObject({ ok: true, signer: bob.accountId });
  });

  it('refuses an identity key that does not hash to the signer id: KEY_MISMATCH', async () => {
    const signed = received(await signedBy(alice, bundleOf(alice.accountId)));
    const signature = objectAt(signed, 'signature');
    const withKey = (publicKey: Uint8Array) =>
      extensionsOf(signed).map((e) =>
        e.url === FHIR_SIGNER_KEY_EXTENSION
          ? { url: e.url, valueBase64Binary: Buffer.from(publicKey).toString('base64') }
          : e,
      );
    expect(
      await check({ ...signed, signature: { ...signature, extension: withKey(bob.identity.publicKey) } }),
    ).toBe('KEY_MISMATCH');
    const bobAsSigner = { system: 'urn:hale:account', value: bob.accountId };
    expect(await check({ ...signed, signature: { ...signature, who: { identifier: bobAsSigner } } })).toBe(
      'KEY_MISMATCH',
    );
  });

  it('refuses a Signature.who that points at another person than the signer: KEY_MISMATCH', async () => {
    // Bob signs Alice's export (ok: his copy, signer bob) but names Alice's Patient as `who`: a FHIR viewer
    // showing Signature.who would present it as signed by her.
    const bobsCopy = received(await signedBy(bob, bundleOf(alice.accountId)));
    expect(await check(bobsCopy)).toBe('ok');
    const alicePatient = fhirFullUrl('Patient', fhirId(alice.accountId));
    const posing = await resignedWith(bob, bobsCopy, (unsigned) => ({
      ...unsigned,
      who: { reference: alicePatient, identifier: { system: 'urn:hale:account', value: bob.accountId } },
    }));
    expect(await check(posing)).toBe('KEY_MISMATCH');
    // Nor an entry of the signer's kind that is not in the Bundle, or another kind of entry.
    const dangling = await resignedWith(bob, bobsCopy, (unsigned) => ({
      ...unsigned,
      who: {
        reference: fhirFullUrl('Practitioner', fhirId(bob.accountId)),
        identifier: { system: 'urn:hale:account', value: bob.accountId },
      },
    }));
    expect(await check(dangling)).toBe('KEY_MISMATCH');
    const firstUrl = String(objectAt(bobsCopy, 'entry', 1).fullUrl);
    const elsewhere = await resignedWith(bob, bobsCopy, (unsigned) => ({
      ...unsigned,
      who: { reference: firstUrl, identifier: { system: 'urn:hale:account', value: bob.accountId } },
    }));
    expect(await check(elsewhere)).toBe('KEY_MISMATCH');
    // Alice's own export names her Patient entry, as signFhirExport writes it: fine.
    const own = received(await signedBy(alice, bundleOf(alice.accountId)));
    expect(objectAt(own, 'signature', 'who').reference).toBe(alicePatient);
    expect(await check(own)).toBe('ok');
    // A version of her own entry, well-formed or not, is not her entry's fullUrl (it has no versionId).
    for (const history of ['/_history/1', '/_history/', '/_history/1/x']) {
      const versioned = await resignedWith(alice, own, (unsigned) => ({
        ...unsigned,
        who: {
          reference: `${alicePatient}${history}`,
          identifier: { system: 'urn:hale:account', value: alice.accountId },
        },
      }));
      expect(await check(versioned), history).toBe('KEY_MISMATCH');
    }
  });

  it('signs and verifies Signature.when only as a FHIR instant (zone within ±14:00)', async () => {
    const bundle = bundleOf(alice.accountId);
    // A date-time Hale takes, but no FHIR R4 instant: its zone is past +14:00.
    await expect(signedBy(alice, bundle, '2024-06-01T12:00:00+15:00')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    for (const when of ['2024-06-01T12:00:00+14:00', '2024-06-01T12:00:00.123-12:00']) {
      expect(await check(received(await signedBy(alice, bundle, when)))).toBe('ok');
    }
    const signed = received(await signedBy(alice, bundle));
    const farZone = await resignedWith(alice, signed, (unsigned) => ({
      ...unsigned,
      when: '2024-06-01T12:00:00-23:00',
    }));
    expect(await check(farZone)).toBe('MALFORMED');
  });

  it('refuses a bundle whose signature was removed: SIGNATURE_MISSING', async () => {
    const { signature: _signature, ...unsigned } = received(await signedBy(alice, bundleOf(alice.accountId)));
    expect(await check(unsigned)).toBe('SIGNATURE_MISSING');
    expect(await check(bundleOf(alice.accountId))).toBe('SIGNATURE_MISSING');
  });

  it('refuses a changed signing time or an added signature member: BAD_SIGNATURE', async () => {
    const signed = received(await signedBy(alice, bundleOf(alice.accountId)));
    const signature = objectAt(signed, 'signature');
    expect(await check({ ...signed, signature: { ...signature, when: '2030-01-01T00:00:00Z' } })).toBe(
      'BAD_SIGNATURE',
    );
    expect(await check({ ...signed, signature: { ...signature, onBehalfOf: { display: 'x' } } })).toBe(
      'BAD_SIGNATURE',
    );
  });

  it('refuses what is not a signed Hale export: MALFORMED, never a throw', async () => {
    const signed = received(await signedBy(alice, bundleOf(alice.accountId)));
    const signature = objectAt(signed, 'signature');
    const cyclic: Record<string, unknown> = { resourceType: 'Bundle' };
    cyclic.self = cyclic;
    const throwing = {
      resourceType: 'Bundle',
      get entry(): never {
        throw new Error('getter');
      },
    };
    const withoutExtension = (url: string) => extensionsOf(signed).filter((e) => e.url !== url);
    const malformed: unknown[] = [
      null,
      'Bundle',
      [],
      { resourceType: 'Patient' },
      cyclic,
      throwing,
      { ...signed, entry: {} },
      { ...signed, signature: 'signed' },
      { ...signed, signature: [signature] },
      { ...signed, signature: { ...signature, sigFormat: 'application/jose' } },
      { ...signed, signature: { ...signature, data: 'AAAA' } },
      { ...signed, signature: { ...signature, data: String(signature.data).replace(/=*$/, '') } },
      { ...signed, signature: { ...signature, when: 'yesterday' } },
      {
        ...signed,
        signature: { ...signature, who: { identifier: { system: 'urn:hale:account', value: 'x' } } },
      },
      { ...signed, signature: { ...signature, extension: withoutExtension(FHIR_SIGNER_KEY_EXTENSION) } },
      { ...signed, signature: { ...signature, extension: withoutExtension(FHIR_CONTENT_DIGEST_EXTENSION) } },
      {
        ...signed,
        signature: { ...signature, extension: [...extensionsOf(signed), extensionsOf(signed)[0]] },
      },
    ];
    for (const input of malformed) {
      const verification = await verifyFhirExport(input, ed);
      expect(codeOf(verification), JSON.stringify(verification)).toBe('MALFORMED');
    }
    // Signed, but no patient export: nothing to name as its patient.
    const empty: FhirBundle = { resourceType: 'Bundle', type: 'collection', timestamp: WHEN, entry: [] };
    const verdict = await verifyFhirExport(received(await signedBy(alice, empty)), ed);
    expect(verdict.ok ? 'ok' : `${verdict.code}: ${verdict.message}`).toMatch(
      /^MALFORMED: .*no Hale patient export/,
    );
  });

  it('a provider exporting a patient’s records: signer the provider, patient the patient', async () => {
    const provider = account();
    const records = [
      item('Allergy', exampleRecord('Allergy', { patientId: EXAMPLE_PATIENT_ID })),
      item(
        'Immunization',
        exampleRecord('Immunization', { patientId: EXAMPLE_PATIENT_ID, providerId: provider.accountId }),
      ),
    ];
    const bundle = toFhirBundle({ patientId: EXAMPLE_PATIENT_ID, records, generatedAt: WHEN });
    const signed = received(await signedBy(provider, bundle));
    expect(await verifyFhirExport(signed, ed)).toEqual({
      ok: true,
      signer: provider.accountId,
      patientId: EXAMPLE_PATIENT_ID,
      when: WHEN,
    });
    // The provider has an entry of its own here (the immunization names it): `who` points at it.
    expect(objectAt(signed, 'signature', 'who').reference).toBe(
      fhirFullUrl('Practitioner', fhirId(provider.accountId)),
    );
    expect(validateFhirBundleShape(signed)).toMatchObject({ ok: true });
    // Without one, `who` is a logical reference (identifier only), so no reference dangles.
    const plain = toFhirBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records: records.slice(0, 1),
      generatedAt: WHEN,
    });
    const bare = await signedBy(provider, plain);
    expect(objectAt(bare, 'signature', 'who')).toEqual({
      identifier: { system: 'urn:hale:account', value: provider.accountId },
    });
    expect(codeOf(await verifyFhirExport(received(bare), ed))).toBe('ok');
  });

  it('signs only with the account’s own, unwiped key', async () => {
    const bundle = bundleOf(alice.accountId);
    const signer = (accountId: string, identity: AccountKeys['identity']) =>
      signFhirExport(bundle, { accountId, identity }, ed, WHEN);
    await expect(signer(bob.accountId, alice.identity)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const wiped = { ...alice.identity, secretKey: new Uint8Array(64) };
    await expect(signer(alice.accountId, wiped)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(signFhirExport(bundle, alice, ed, 'now')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const signed = await signedBy(alice, bundle);
    await expect(signedBy(alice, signed)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('has stable failure codes', () => {
    expect(FHIR_EXPORT_CHECK_CODES).toEqual([
      'MALFORMED',
      'SIGNATURE_MISSING',
      'KEY_MISMATCH',
      'BAD_SIGNATURE',
      'CONTENT_ALTERED',
      'SHAPE_INVALID',
    ]);
  });
});

describe('a signed FHIR export that is no well-formed FHIR', () => {
  /** Alice's export with `change` made to a copy of its content before she signs it, as received. */
  const misShaped = async (
    change: (content: Record<string, unknown>) => void,
    patientId = alice.accountId,
  ): Promise<Record<string, unknown>> => {
    const content = received(bundleOf(patientId));
    change(content);
    return received(await signedBy(alice, content as unknown as FhirBundle));
  };

  /** The index of the first entry whose resource is of `resourceType`. */
  const indexOf = (bundle: Record<string, unknown>, resourceType: string): number =>
    (bundle.entry as { resource: { resourceType: string } }[]).findIndex(
      (entry) => entry.resource.resourceType === resourceType,
    );

  const withoutAllergyPatient = (content: Record<string, unknown>) => {
    delete objectAt(content, 'entry', indexOf(content, 'AllergyIntolerance'), 'resource').patient;
  };

  it('is SHAPE_INVALID, naming what is wrong, though its signature holds', async () => {
    const signed = await misShaped(withoutAllergyPatient);
    const allergy = indexOf(signed, 'AllergyIntolerance');
    expect(validateFhirBundleShape(signed).ok).toBe(false);
    const verdict = await verifyFhirExport(signed, ed);
    expect(verdict).toMatchObject({ ok: false, code: 'SHAPE_INVALID' });
    expect(verdict.ok ? '' : verdict.message).toBe(
      `signed by account ${alice.accountId}, but not a well-formed FHIR export: ` +
        `entry[${allergy}].resource.patient: is required`,
    );
    // Read from the file's text alike.
    expect(codeOf(await verifyFhirExport(JSON.stringify(signed), ed))).toBe('SHAPE_INVALID');
  });

  it('names a dangling reference, a Bundle type FHIR has not, and says when there is more', async () => {
    const dangling = await misShaped((content) => {
      objectAt(content, 'entry', indexOf(content, 'AllergyIntolerance'), 'resource').patient = {
        reference: 'urn:hale:Patient/nobody',
      };
    });
    const verdict = await verifyFhirExport(dangling, ed);
    expect(verdict.ok ? '' : `${verdict.code}: ${verdict.message}`).toMatch(
      /^SHAPE_INVALID: .*\.patient\.reference: urn:hale:Patient\/nobody does not resolve to an entry of the bundle$/,
    );
    const many = await misShaped((content) => {
      content.type = 'archive';
      content.timestamp = 'yesterday';
      withoutAllergyPatient(content);
      objectAt(content, 'entry', 0, 'resource').gender = '';
    });
    const refused = await verifyFhirExport(many, ed);
    expect(refused.ok ? '' : `${refused.code}: ${refused.message}`).toMatch(
      /^SHAPE_INVALID: .*: type: must be one of document, .*; timestamp: must be an instant; .*; and more$/,
    );
  });

  it('checks the Signature element’s own FHIR shape too', async () => {
    const signed = received(await signedBy(alice, bundleOf(alice.accountId)));
    const resigned = await resignedWith(alice, signed, (unsigned) => ({
      ...unsigned,
      targetFormat: 'FHIR JSON',
    }));
    const verdict = await verifyFhirExport(resigned, ed);
    expect(verdict.ok ? '' : `${verdict.code}: ${verdict.message}`).toMatch(
      /^SHAPE_INVALID: .*: signature\.targetFormat: must be a MIME type$/,
    );
  });

  it('still reports a changed or forged Bundle as such first: the shape only of what its signer signed', async () => {
    const signed = await misShaped(withoutAllergyPatient);
    const signature = objectAt(signed, 'signature');
    expect(await check({ ...signed, timestamp: '2024-06-01T12:00:01Z' })).toBe('CONTENT_ALTERED');
    expect(await check({ ...signed, signature: { ...signature, when: '2030-01-01T00:00:00Z' } })).toBe(
      'BAD_SIGNATURE',
    );
    const { signature: _signature, ...unsigned } = signed;
    expect(await check(unsigned)).toBe('SIGNATURE_MISSING');
    const bobsKey = extensionsOf(signed).map((e) =>
      e.url === FHIR_SIGNER_KEY_EXTENSION
        ? { url: e.url, valueBase64Binary: Buffer.from(bob.identity.publicKey).toString('base64') }
        : e,
    );
    expect(await check({ ...signed, signature: { ...signature, extension: bobsKey } })).toBe('KEY_MISMATCH');
    // A `who.reference` to no entry also breaks the shape; it is the signer's claim that is refused.
    const dangling = await resignedWith(alice, signed, (element) => ({
      ...element,
      who: {
        reference: fhirFullUrl('Practitioner', fhirId(alice.accountId)),
        identifier: { system: 'urn:hale:account', value: alice.accountId },
      },
    }));
    expect(await check(dangling)).toBe('KEY_MISMATCH');
    // Signed, mis-shaped and no patient export: MALFORMED as before.
    const noPatient = await misShaped((content) => {
      content.entry = (content.entry as unknown[]).slice(1);
      withoutAllergyPatient(content);
    });
    expect(await check(noPatient)).toBe('MALFORMED');
  });
});
