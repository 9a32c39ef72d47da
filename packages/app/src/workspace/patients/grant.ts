/**
 * What a grant lets this clinician do in a patient's chart, as the workspace's screens ask it: which record
 * kinds it may read (the chart's tabs), which it may write, and the chart scope the app's record screens
 * take (records/chart-scope.tsx).
 *
 * | kind | written through |
 * |---|---|
 * | LabResult, TreatmentPlan, Encounter, MedicalNote, NoteVersion, others with a write grant | the chart's forms |
 * | Appointment, Message | the care flows (schedule, inbox), never a chart form |
 * | HealthDocument | the patient's upload only |
 */
import { RECORD_KINDS, type RecordKind, type StreamType } from '@hale/model';
import type { ReceivedGrant, ReceivedStream } from '@hale/client';
import { KIND_SLUGS, KINDS, type KindSlug } from '../../records/kinds';
import type { ChartScope } from '../../records/chart-scope';

const FLOW_ONLY: ReadonlySet<RecordKind> = new Set(['Appointment', 'Message', 'HealthDocument']);

export const streamOfKind = (kind: RecordKind): StreamType | null => RECORD_KINDS[kind].streamType;

export const streamOf = (
  grant: ReceivedGrant | undefined,
  type: StreamType | null,
): ReceivedStream | undefined => grant?.streams.find((s) => s.type === type);

export const canRead = (grant: ReceivedGrant | undefined, kind: RecordKind): boolean =>
  streamOf(grant, streamOfKind(kind)) !== undefined;

export const canWrite = (grant: ReceivedGrant | undefined, kind: RecordKind): boolean =>
  streamOf(grant, streamOfKind(kind))?.access === 'write';

/** The chart's kinds this grant lets this account read, in the patient app's order. */
export const grantedSlugs = (grant: ReceivedGrant | undefined): KindSlug[] =>
  KIND_SLUGS.filter((slug) => canRead(grant, KINDS[slug].kind));

export const chartBase = (patientId: string): string => `/workspace/patients/${patientId}/chart`;

export const scopeOf = (patientId: string, grant: ReceivedGrant | undefined): ChartScope => ({
  base: chartBase(patientId),
  patientId,
  canWrite: (kind) => !FLOW_ONLY.has(kind) && canWrite(grant, kind),
  canDelete: false,
});
