// What every kind's example (its description's `example`) is built from: fixed people and times keep
// examples readable in test failures; ids are fresh so examples can be stored side by side (benchmarks
// insert thousands).
import type { FileRef, Provenance, RecordOrigin } from './common-schemas';
import { newId } from './ids';

export const EXAMPLE_PATIENT_ID = 'PatientAccount00000001';
export const EXAMPLE_PROVIDER_ID = 'ProviderAccount0000001';
export const EXAMPLE_CAREGIVER_ID = 'CaregiverAccount000001';
export const EXAMPLE_DEVICE_ID = 'ProviderDevice00000001';

const CREATED = '2024-05-01T09:30:00.000Z';
const UPDATED = '2024-05-02T14:05:00.000Z';

const ORIGIN: RecordOrigin = {
  source: 'Riverside Hospital patient portal',
  resourceType: 'Resource',
  originalId: 'urn:uuid:4f2c1d7a-9a9e-4f5b-8c53-2d7b0f3e6a11',
  importedAt: UPDATED,
  identity: ['https://riverside.example.org/mrn|MRN-22817'],
  digest: '0123456789abcdef0123456789ab',
  recordDigest: 'fedcba9876543210fedcba987654',
  resource: { resourceType: 'Resource', id: 'r1', language: 'en' },
  sourceOnly: ['language'],
};

export interface ExampleParts {
  readonly patientId: string;
  readonly providerId: string;
  readonly caregiverId: string;
  readonly deviceId: string;
  /** When the example records were created and last changed. */
  readonly created: string;
  readonly updated: string;
  /** The fields every patient record has: a fresh id, the example patient, the times, an import origin. */
  base(): { id: string; patientId: string; createdAt: string; updatedAt: string; origin: RecordOrigin };
  file(fileName: string, mediaType: string, size: number): FileRef;
  /** A version's provenance by the example provider. */
  provenance(at: string, reason: string): Provenance;
  newId(): string;
}

export const EXAMPLE_PARTS: ExampleParts = {
  patientId: EXAMPLE_PATIENT_ID,
  providerId: EXAMPLE_PROVIDER_ID,
  caregiverId: EXAMPLE_CAREGIVER_ID,
  deviceId: EXAMPLE_DEVICE_ID,
  created: CREATED,
  updated: UPDATED,
  base: () => ({
    id: newId(),
    patientId: EXAMPLE_PATIENT_ID,
    createdAt: CREATED,
    updatedAt: UPDATED,
    origin: ORIGIN,
  }),
  file: (fileName, mediaType, size) => ({
    blobId: newId(),
    fileName,
    mediaType,
    size,
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  }),
  provenance: (at, reason) => ({ by: EXAMPLE_PROVIDER_ID, deviceId: EXAMPLE_DEVICE_ID, at, reason }),
  newId,
};
