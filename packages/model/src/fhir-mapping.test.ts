import { describe, expect, it } from 'vitest';
import { EXAMPLE_DEVICE_ID, EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord } from './examples';
import { validateFhirBundleShape, type FhirResource } from './fhir';
import { newId } from './ids';
import type { RecordOf } from './registry';

import {
  UCUM,
  LOINC,
  item,
  exportItems,
  refusal,
  once,
  at,
  entriesOf,
  resourceAt,
  only,
  exampleWithout,
  exportOne,
} from './fhir.test-util';

describe('per-kind mapping', () => {
  it('LabResult: quantity value, reference range, history with one Provenance per version', () => {
    const { record, bundle } = exportOne('LabResult');
    const current = resourceAt(bundle, 'Observation', record.id, 2);
    expect(current.valueQuantity).toEqual({ value: 98, unit: 'mg/dL', system: UCUM, code: 'mg/dL' });
    expect(at(current, 'referenceRange[0].text')).toBe('70-99 mg/dL');
    expect(at(current, 'code')).toEqual({
      coding: [
        { system: LOINC, code: '2345-7' },
        { system: 'http://snomed.info/sct', code: '33747003', display: 'Glucose measurement, blood' },
      ],
      text: 'Glucose [Mass/volume] in Serum or Plasma',
    });
    expect(at(current, 'component[0].code')).toEqual({
      coding: [
        { system: LOINC, code: '2339-0' },
        { system: 'http://snomed.info/sct', code: '444780001', display: 'Glucose measurement, blood' },
      ],
      text: 'Glucose [Mass/volume] in Blood',
    });
    expect(at(current, 'component[0].valueQuantity.value')).toBe(97);

    expect(current.effectiveDateTime).toBe('2024-05-01T08:10:00Z');
    expect(current.issued).toBe(record.publishedAt);
    const prior = resourceAt(bundle, 'Observation', record.id, 1);
    expect(prior.status).toBe('final');
    expect(at(prior, 'valueQuantity.value')).toBe(89);
    expect(at(prior, 'component')).toBeUndefined();
    const provenances = entriesOf(bundle, 'Provenance');
    expect(provenances.map((p) => at(p, 'target[0].reference')).sort()).toEqual([
      `urn:hale:Observation/${record.id}/_history/1`,
      `urn:hale:Observation/${record.id}/_history/2`,
    ]);
    const latest = provenances.find(
      (p) => at(p, 'target[0].reference') === `urn:hale:Observation/${record.id}/_history/2`,
    );
    expect(at(latest, 'reason[0].text')).toBe('Transcription error in value');
    expect(at(latest, 'agent[0].who.reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`);
    expect(at(latest, 'agent[1].who.reference')).toBe(`urn:hale:Device/${EXAMPLE_DEVICE_ID}`);
    const report = only(bundle, 'DiagnosticReport');
    expect(at(report, 'result[0].reference')).toBe(`urn:hale:Observation/${record.id}`);
    expect(at(report, 'presentedForm[0].contentType')).toBe('application/pdf');
    expect(at(only(bundle, 'ServiceRequest'), 'requester.reference')).toBe(
      `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`,
    );
  });

  it('LabResult: a text value is a valueString and no valueQuantity', () => {
    const { record, bundle } = exportOne('LabResult', { value: 'positive' }, ['units']);
    const observation = resourceAt(bundle, 'Observation', record.id, record.version);
    expect(observation.valueString).toBe('positive');
    expect(observation.valueQuantity).toBeUndefined();
  });

  it('LabResult: units without a known UCUM code keep unit only', () => {
    const { record, bundle } = exportOne('LabResult', { units: 'cells/hpf' });
    expect(resourceAt(bundle, 'Observation', record.id, record.version).valueQuantity).toEqual({
      value: 98,
      unit: 'cells/hpf',
    });
  });

  it('TreatmentPlan: versions, period and the acknowledgement of an exact version', () => {
    const { record, bundle } = exportOne('TreatmentPlan');
    const plan = resourceAt(bundle, 'CarePlan', record.id, 2);
    expect(plan.title).toBe('Blood pressure control');
    expect(plan.period).toEqual({ start: '2024-05-01', end: '2024-08-01' });
    expect(plan.created).toBe(record.createdAt);
    expect(resourceAt(bundle, 'CarePlan', record.id, 1).status).toBe('draft');
    const ack = resourceAt(bundle, 'Provenance', `${record.id}-ack`);
    expect(at(ack, 'target[0].reference')).toBe(`urn:hale:CarePlan/${record.id}/_history/2`);
    expect(at(ack, 'agent[0].who.reference')).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
    expect(at(ack, 'activity.text')).toBe('acknowledged');
  });

  it('TreatmentPlan: each version carries its goal (contained) and its recheck (an activity)', () => {
    const { record, bundle } = exportOne('TreatmentPlan');
    const plan = resourceAt(bundle, 'CarePlan', record.id, 2);
    expect(plan.goal).toEqual([{ reference: '#goal' }]);
    expect(at(plan, 'contained[0]')).toEqual({
      resourceType: 'Goal',
      id: 'goal',
      lifecycleStatus: 'active',
      description: { text: 'Systolic blood pressure <140' },
      subject: { reference: `urn:hale:Patient/${EXAMPLE_PATIENT_ID}` },
      target: [
        {
          measure: { coding: [{ system: LOINC, code: '8480-6' }], text: 'Systolic blood pressure' },
          detailString: '<140',
        },
      ],
    });
    expect(at(plan, 'activity[0].detail')).toEqual({
      kind: 'ServiceRequest',
      code: { coding: [{ system: LOINC, code: '2823-3' }], text: 'Potassium' },
      status: 'scheduled',
      scheduledPeriod: { end: '2024-06-01' },
    });
    // The first version's own goal and status, not the current one's.
    const first = resourceAt(bundle, 'CarePlan', record.id, 1);
    expect(at(first, 'contained[0].target[0].detailString')).toBe('<150');
    expect(at(first, 'contained[0].lifecycleStatus')).toBe('proposed');
    expect(at(first, 'activity[0].detail.status')).toBe('not-started');
    // A `#` reference must name a contained resource.
    const dangling = JSON.parse(JSON.stringify(bundle).replace('"#goal"', '"#aim"')) as typeof bundle;
    const shape = validateFhirBundleShape(dangling);
    expect(shape.ok ? [] : shape.error.issues.map((i) => i.reason)).toEqual([
      '#aim names no contained resource',
    ]);
    // No goal, no recheck: neither element.
    const { record: bareRecord, bundle: bare } = exportOne('TreatmentPlan', { versions: [] }, [
      'goal',
      'recheck',
    ]);
    const plain = resourceAt(bare, 'CarePlan', bareRecord.id);
    expect([plain.goal, plain.contained, plain.activity]).toEqual([undefined, undefined, undefined]);
  });

  it('Immunization: completed, occurrence, lot, CVX code, dose, next dose', () => {
    const { record, bundle } = exportOne('Immunization');
    const immunization = only(bundle, 'Immunization');
    expect(immunization).toMatchObject({
      status: 'completed',
      occurrenceDateTime: '2024-04-12',
      lotNumber: 'TD-88213',
      recorded: record.createdAt,
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '115' }] },
      doseQuantity: { value: 0.5, unit: 'mL', system: UCUM, code: 'mL' },
    });
    expect(at(immunization, 'performer[0].actor')).toEqual({
      reference: `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`,
      display: 'Riverside Family Practice',
    });
    const recommendation = only(bundle, 'ImmunizationRecommendation');
    expect(at(recommendation, 'recommendation[0].dateCriterion[0].value')).toBe('2034-04-12');
    expect(at(recommendation, 'recommendation[0].supportingImmunization[0].reference')).toBe(
      `urn:hale:Immunization/${record.id}`,
    );
  });

  it.each([
    ['2 of 3', { protocolApplied: [{ doseNumberPositiveInt: 2, seriesDosesPositiveInt: 3 }] }],
    ['booster', { protocolApplied: [{ doseNumberString: 'booster' }] }],
    ['0.5 mL', { doseQuantity: { value: 0.5, unit: 'mL', system: UCUM, code: 'mL' } }],
  ] as const)('Immunization dose %j', (dose, expected) => {
    const { bundle } = exportOne('Immunization', { dose });
    expect(only(bundle, 'Immunization')).toMatchObject(expected);
  });

  it('Immunization: the proof document points back at it', () => {
    const document = exampleRecord('HealthDocument');
    const immunization = exampleRecord('Immunization', { proofDocumentId: document.id });
    const bundle = exportItems([item('HealthDocument', document), item('Immunization', immunization)]);
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    expect(at(resourceAt(bundle, 'DocumentReference', document.id), 'context.related')).toEqual([
      { reference: `urn:hale:Immunization/${immunization.id}` },
    ]);
  });

  it.each([
    ['10 mg', { doseAndRate: [{ doseQuantity: { value: 10, unit: 'mg', system: UCUM, code: 'mg' } }] }],
    ['one tablet', { text: 'one tablet' }],
  ] as const)('Medication dose %j', (dose, expected) => {
    const { bundle } = exportOne('Medication', { dose }, ['dosageText']);
    const statement = only(bundle, 'MedicationStatement');
    expect(at(statement, 'dosage[0]')).toMatchObject(expected);
    expect(at(statement, 'dosage[0].timing.code.text')).toBe('once daily');
    expect(at(statement, 'medicationCodeableConcept.text')).toBe('Lisinopril');
    expect(statement.effectivePeriod).toEqual({ start: '2023-11-01', end: '2025-11-01' });
  });

  it('HealthDocument: prior versions superseded, current replaces the previous one', () => {
    const { record, bundle } = exportOne('HealthDocument');
    const current = resourceAt(bundle, 'DocumentReference', record.id);
    const prior = resourceAt(bundle, 'DocumentReference', `${record.id}-v1`);
    expect(current.status).toBe('current');
    expect(prior.status).toBe('superseded');
    expect(at(current, 'relatesTo[0]')).toEqual({
      code: 'replaces',
      target: { reference: `urn:hale:DocumentReference/${record.id}-v1` },
    });
    expect(at(current, 'content[0].attachment')).toMatchObject({
      contentType: 'application/pdf',
      url: `hale-blob:${record.file.blobId}`,
      size: record.file.size,
      title: record.title,
    });
    expect(at(current, 'content[0].attachment.extension')).toContainEqual({
      url: 'https://hale.invalid/fhir/StructureDefinition/sha256',
      valueString: record.file.sha256,
    });
    expect(at(prior, 'description')).toBe('First scan.');
  });

  it('Message: topic, sender, recipient, receipts, attachments', () => {
    const { record, bundle } = exportOne('Message');
    const message = only(bundle, 'Communication');
    expect(at(message, 'topic.coding[0]')).toEqual({ system: 'urn:hale:thread', code: record.threadId });
    expect(at(message, 'sender.reference')).toBe(`urn:hale:Patient/${EXAMPLE_PATIENT_ID}`);
    expect(at(message, 'recipient[0].reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`);
    expect(message.sent).toBe(record.sentAt);
    expect(message.received).toBe(record.deliveredAt);
    expect(message.extension).toContainEqual({
      url: 'https://hale.invalid/fhir/StructureDefinition/read-at',
      valueDateTime: record.readAt,
    });
    expect(at(message, 'payload[0].contentString')).toBe(record.body);
    expect(at(message, 'payload[1].contentAttachment.title')).toBe('readings.csv');
  });

  it('Message: an empty body with no attachments exports no payload', () => {
    const { bundle } = exportOne('Message', { body: '', attachments: [] });
    expect(only(bundle, 'Communication').payload).toBeUndefined();
  });

  it('Allergy without a known reaction says the manifestation is unknown', () => {
    const { bundle } = exportOne('Allergy', {}, ['reaction']);
    expect(at(only(bundle, 'AllergyIntolerance'), 'reaction[0]')).toEqual({
      manifestation: [
        {
          extension: [
            { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' },
          ],
        },
      ],
      severity: 'moderate',
    });
  });

  it('AuditEntry written by the server names the sync server as observer', () => {
    const { bundle } = exportOne('AuditEntry', {}, ['actorDeviceId']);
    expect(at(only(bundle, 'AuditEvent'), 'source.observer.reference')).toBe(
      'urn:hale:Device/hale-sync-server',
    );
    expect(at(only(bundle, 'Device'), 'deviceName[0].name')).toBe('Hale sync server');
  });

  it('AuditEntry about a record in the export references its resource', () => {
    const lab = exampleRecord('LabResult');
    const audit = exampleRecord('AuditEntry', { entityType: 'LabResult', entityId: lab.id });
    const bundle = exportItems([item('LabResult', lab), item('AuditEntry', audit)]);
    expect(at(only(bundle, 'AuditEvent'), 'entity[0].what')).toEqual({
      reference: `urn:hale:Observation/${lab.id}`,
    });
  });

  it('restates instants with offsets beyond ±14:00 in UTC', () => {
    const { bundle } = exportOne('Appointment', {
      startAt: '2024-06-03T15:00:00+15:00',
      endAt: '2024-06-03T15:30:00+15:00',
    });
    expect(only(bundle, 'Appointment')).toMatchObject({
      start: '2024-06-03T00:00:00.000Z',
      end: '2024-06-03T00:30:00.000Z',
    });
  });
});

describe('notes', () => {
  const noteId = newId();
  const note = exampleRecord('MedicalNote', { id: noteId, currentVersionNumber: 2, status: 'signed' });
  const v1 = exampleWithout('NoteVersion', ['amendmentReason'], {
    noteId,
    versionNumber: 1,
    kind: 'original',
    subjective: 'Line one\n<script>alert(1)</script> & more',
  });
  const v2 = exampleRecord('NoteVersion', { noteId, versionNumber: 2, kind: 'amendment' });
  const SUPERVISOR_ID = 'SupervisorAccount00001';
  const signature = exampleRecord('NoteSignature', {
    noteId,
    noteVersionId: v2.id,
    signedVersionNumber: 2,
    signerId: SUPERVISOR_ID,
    signerRole: 'attending',
  });
  const authorSignature = exampleRecord('NoteSignature', {
    noteId,
    noteVersionId: v2.id,
    signedVersionNumber: 2,
    signerId: note.authorId,
    signerRole: 'author',
    signedAt: '2024-05-02T10:00:00.000Z',
  });
  const records = [
    item('MedicalNote', note),
    item('NoteVersion', v1),
    item('NoteVersion', v2, 'c2lnbmVkIGJ5IHRoZSBlZGl0b3I='),
    item('NoteSignature', signature, 'AAECAwQFBgcICQ=='),
    item('NoteSignature', authorSignature),
  ];
  const bundle = exportItems(records);

  it('merges the note and its current version into one Composition, older versions as history', () => {
    expect(validateFhirBundleShape(bundle).ok).toBe(true);
    expect(entriesOf(bundle, 'Composition')).toHaveLength(2);
    const current = resourceAt(bundle, 'Composition', noteId, 2);
    expect(current.status).toBe('final');
    expect(current.title).toBe(note.title);
    expect((current.section as unknown[]).map((section) => at(section, 'code.coding[0].code'))).toEqual([
      '61150-9',
      '61149-1',
      '51848-0',
      '18776-5',
    ]);
    // Version 1 was amended by version 2, so it had been final.
    expect(resourceAt(bundle, 'Composition', noteId, 1).status).toBe('final');
  });

  it('escapes section text into XHTML narrative', () => {
    expect(at(resourceAt(bundle, 'Composition', noteId, 1), 'section[0].text.div')).toBe(
      '<div xmlns="http://www.w3.org/1999/xhtml">Line one<br/>&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</div>',
    );
  });

  it('records the co-signature as attester and as a signed Provenance of that version', () => {
    const current = resourceAt(bundle, 'Composition', noteId, 2);
    // The author signs legally, a co-signer professionally; ordered by signing time.
    expect(current.attester).toEqual([
      {
        mode: 'legal',
        time: authorSignature.signedAt,
        party: { reference: `urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}` },
      },
      {
        mode: 'professional',
        time: signature.signedAt,
        party: { reference: `urn:hale:Practitioner/${SUPERVISOR_ID}` },
      },
    ]);
    const signed = resourceAt(bundle, 'Provenance', signature.id);
    expect(at(signed, 'target[0].reference')).toBe(`urn:hale:Composition/${noteId}/_history/2`);
    expect(at(signed, 'signature[0]')).toMatchObject({
      type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.5' }],
      when: signature.signedAt,
      who: { reference: `urn:hale:Practitioner/${SUPERVISOR_ID}` },
      data: 'AAECAwQFBgcICQ==',
    });
    // Passed no signature: no signature element, only the attester the record names (data-model.md).
    const byAuthor = resourceAt(bundle, 'Provenance', authorSignature.id);
    expect(byAuthor.signature).toBeUndefined();
    expect(at(byAuthor, 'agent[0].who.reference')).toBe(`urn:hale:Practitioner/${EXAMPLE_PROVIDER_ID}`);
  });

  it('gives each NoteVersion a Provenance with editor, reason and its author signature', () => {
    const provenance = resourceAt(bundle, 'Provenance', v2.id);
    expect(at(provenance, 'target[0].reference')).toBe(`urn:hale:Composition/${noteId}/_history/2`);
    expect(at(provenance, 'reason[0].text')).toBe(v2.amendmentReason);
    expect(at(provenance, 'activity.text')).toBe(v2.changeSummary);
    expect(at(provenance, 'signature[0].data')).toBe('c2lnbmVkIGJ5IHRoZSBlZGl0b3I=');
    expect(at(resourceAt(bundle, 'Provenance', v1.id), 'signature')).toBeUndefined();
  });

  it('points a signature request at the version asked for', () => {
    const request = exampleWithout('NoteSignature', ['signedAt', 'signedVersionNumber'], {
      noteId,
      noteVersionId: v1.id,
      status: 'requested',
    });
    const withRequest = exportItems([...records, item('NoteSignature', request)]);
    expect(validateFhirBundleShape(withRequest).ok).toBe(true);
    expect(at(resourceAt(withRequest, 'Task', request.id), 'focus.reference')).toBe(
      `urn:hale:Composition/${noteId}/_history/1`,
    );
  });

  // Two clinicians amending version 1 offline both write a version 2: sync keeps both, so must the export.
  describe('two versions with the same number', () => {
    const twin = exampleRecord('NoteVersion', {
      noteId,
      versionNumber: 2,
      kind: 'amendment',
      assessment: 'A concurrent assessment',
      // Newer than v2, yet v2 keeps the number: v2 is the version two signatures attest.
      updatedAt: '2024-05-09T08:00:00.000Z',
    });
    const withTwin = [...records, item('NoteVersion', twin, 'dHdpbiBzaWduYXR1cmU=')];
    // Exported on first use, so a refusal fails these tests rather than the whole file.
    const twinned = once(() => exportItems(withTwin));
    const twinUrl = `urn:hale:Composition/${twin.id}`;

    it('exports a valid bundle instead of failing the whole export', () => {
      expect(validateFhirBundleShape(twinned())).toMatchObject({ ok: true });
    });

    it('keeps the signed version in the note history and the other as its own Composition', () => {
      const numbered = resourceAt(twinned(), 'Composition', noteId, 2);
      expect(at(numbered, 'section[2].text.div')).toContain(v2.assessment);
      expect(numbered.attester).toHaveLength(2);
      const concurrent = resourceAt(twinned(), 'Composition', twin.id);
      expect(at(concurrent, 'meta.versionId')).toBeUndefined();
      expect(at(concurrent, 'identifier')).toEqual({ system: 'urn:hale:id', value: twin.id });
      expect(at(concurrent, 'section[2].text.div')).toContain('A concurrent assessment');
      expect(concurrent.status).toBe('preliminary');
      expect(concurrent.attester).toBeUndefined();
      // It amends the same version 1 as the numbered one.
      expect(concurrent.relatesTo).toEqual([
        { code: 'replaces', targetReference: { reference: `urn:hale:Composition/${noteId}/_history/1` } },
      ]);
    });

    it('links the two both ways with the concurrent-version extension', () => {
      const url = 'https://hale.invalid/fhir/StructureDefinition/concurrent-version';
      const links = (resource: FhirResource) =>
        ((resource.extension ?? []) as { url: string; valueReference?: { reference: string } }[])
          .filter((ext) => ext.url === url)
          .map((ext) => ext.valueReference?.reference);
      expect(links(resourceAt(twinned(), 'Composition', noteId, 2))).toEqual([twinUrl]);
      expect(links(resourceAt(twinned(), 'Composition', twin.id))).toEqual([
        `urn:hale:Composition/${noteId}/_history/2`,
      ]);
    });

    it("gives the concurrent version its own Provenance with its editor's signature", () => {
      const provenance = resourceAt(twinned(), 'Provenance', twin.id);
      expect(at(provenance, 'target[0].reference')).toBe(twinUrl);
      expect(at(provenance, 'signature[0].data')).toBe('dHdpbiBzaWduYXR1cmU=');
      expect(at(resourceAt(twinned(), 'Provenance', v2.id), 'target[0].reference')).toBe(
        `urn:hale:Composition/${noteId}/_history/2`,
      );
    });

    it('attaches a signature of the concurrent version to it, not to the numbered one', () => {
      // Both signed now: the latest edit keeps the number, so this twin is the older one.
      const earlier = { ...twin, id: newId(), updatedAt: '2024-05-02T10:00:00.000Z' };
      const signedTwin = exampleRecord('NoteSignature', {
        noteId,
        noteVersionId: earlier.id,
        signedVersionNumber: 2,
        signerId: SUPERVISOR_ID,
        signerRole: 'attending',
      });
      const bundle = exportItems([
        ...records,
        item('NoteVersion', earlier),
        item('NoteSignature', signedTwin),
      ]);
      expect(validateFhirBundleShape(bundle)).toMatchObject({ ok: true });
      const earlierUrl = `urn:hale:Composition/${earlier.id}`;
      expect(at(resourceAt(bundle, 'Provenance', signedTwin.id), 'target[0].reference')).toBe(earlierUrl);
      expect(resourceAt(bundle, 'Composition', noteId, 2).attester).toHaveLength(2);
      const concurrent = resourceAt(bundle, 'Composition', earlier.id);
      expect(concurrent.status).toBe('final');
      expect(at(concurrent, 'attester[0].party.reference')).toBe(`urn:hale:Practitioner/${SUPERVISOR_ID}`);
    });

    it('without signatures keeps the latest edit in the history, then the greater id', () => {
      const a = exampleRecord('NoteVersion', { noteId, versionNumber: 2, kind: 'amendment' });
      // 10:00+02:00 is 08:00Z: an hour before b although it sorts after it as text.
      const older = { ...a, updatedAt: '2024-05-03T10:00:00+02:00' };
      const b = exampleRecord('NoteVersion', {
        noteId,
        versionNumber: 2,
        kind: 'amendment',
        updatedAt: '2024-05-03T09:00:00Z',
      });
      const base = [item('MedicalNote', note), item('NoteVersion', v1)];
      const chosen = (versions: RecordOf<'NoteVersion'>[]) => {
        const bundle = exportItems([...base, ...versions.map((v) => item('NoteVersion', v))]);
        return at(resourceAt(bundle, 'Provenance', versions[0]!.id), 'target[0].reference') ===
          `urn:hale:Composition/${noteId}/_history/2`
          ? versions[0]!.id
          : versions[1]!.id;
      };
      expect(chosen([older, b])).toBe(b.id);
      expect(chosen([b, older])).toBe(b.id);
      const tied = { ...b, id: newId(), updatedAt: older.updatedAt };
      const greater = tied.id > older.id ? tied.id : older.id;
      expect(chosen([older, tied])).toBe(greater);
      expect(chosen([tied, older])).toBe(greater);
    });

    it('does not depend on the order of the input', () => {
      expect(exportItems([...withTwin].reverse())).toEqual(twinned());
    });

    it('still refuses one NoteVersion listed twice', () => {
      expect(refusal(() => exportItems([...records, item('NoteVersion', v2)]))).toMatchObject({
        code: 'DUPLICATE_RESOURCE',
        recordId: v2.id,
      });
    });
  });
});

// Each device of a new patient may create the Profile before the first sync: the patient then has two.
