// A note version's attesters are listed by signing time. Signers' devices write `signedAt` with their own
// offsets and fraction digits: the order is that of the instants (within one millisecond too), not of the
// text, so every device exporting the same records lists them alike.
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord } from './examples';
import { toFhirBundle, type FhirExportItem } from './fhir';
import { newId } from './ids';

const FIRST_SIGNER = 'FirstSignerAccount0001';
const SECOND_SIGNER = 'SecondSignerAccount001';

/** The attesters' parties of the note's Composition, `first` signed at `firstAt`, `second` at `secondAt`. */
const attesters = (firstAt: string, secondAt: string): string[][] => {
  const noteId = newId();
  const note = exampleRecord('MedicalNote', { id: noteId, currentVersionNumber: 1, status: 'signed' });
  const version = exampleRecord('NoteVersion', { noteId, versionNumber: 1, kind: 'original' });
  const { amendmentReason: _reason, ...original } = version;
  const signature = (signerId: string, signedAt: string) =>
    exampleRecord('NoteSignature', {
      noteId,
      noteVersionId: version.id,
      signedVersionNumber: 1,
      signerId,
      signedAt,
    });
  const signatures = [signature(FIRST_SIGNER, firstAt), signature(SECOND_SIGNER, secondAt)];
  return [signatures, [...signatures].reverse()].map((listed) => {
    const records: FhirExportItem[] = [
      { kind: 'MedicalNote', record: note },
      { kind: 'NoteVersion', record: original },
      ...listed.map((record): FhirExportItem => ({ kind: 'NoteSignature', record })),
    ];
    const bundle = toFhirBundle({
      patientId: EXAMPLE_PATIENT_ID,
      records,
      generatedAt: '2026-06-01T12:00:00Z',
    });
    const composition = bundle.entry.find((entry) => entry.resource.resourceType === 'Composition')
      ?.resource as { attester?: { party?: { reference?: string } }[] } | undefined;
    return (composition?.attester ?? []).map((a) => a.party?.reference?.split('/').pop() ?? '?');
  });
};

describe('FHIR export: attesters in signing order, by instant', () => {
  const inOrder = [FIRST_SIGNER, SECOND_SIGNER];

  it.each([
    ['an offset: 11:00+02:00 is before 09:30Z', '2026-03-01T11:00:00+02:00', '2026-03-01T09:30:00Z'],
    ['within one millisecond, across offsets', '2026-03-01T11:30:00.0001+02:00', '2026-03-01T09:30:00.0002Z'],
    ['nine digits, one nanosecond apart', '2026-03-01T09:30:00.123456788Z', '2026-03-01T09:30:00.123456789Z'],
    ['one digit against three', '2026-03-01T09:30:00.1Z', '2026-03-01T09:30:00.101Z'],
  ])('%s', (_name, earlier, later) => {
    expect(attesters(earlier, later)).toEqual([inOrder, inOrder]);
  });

  it('one instant written two ways: by the text, whichever order the records come in', () => {
    const [first, second] = attesters('2026-03-01T11:30:00+02:00', '2026-03-01T09:30:00Z');
    expect(first).toEqual([SECOND_SIGNER, FIRST_SIGNER]);
    expect(second).toEqual(first);
    expect(attesters('2026-03-01T09:30:00.000Z', '2026-03-01T09:30:00Z')).toEqual([inOrder, inOrder]);
  });
});
