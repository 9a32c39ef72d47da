/**
 * Writes from forms. A form's values are untyped by nature (what a person typed); the records API checks
 * every write against the model and refuses with the fields at fault, so these pass the form's record on
 * as the kind's input and let the model judge it.
 */
import type { HaleSession, RecordInput, RecordKind, RecordOf } from '@hale/client';

type Loose = Record<string, unknown>;

export const addRecord = <K extends RecordKind>(
  session: HaleSession,
  kind: K,
  input: Loose,
  options: { patientId?: string } = {},
): Promise<RecordOf<K>> => session.records.add(kind, input as RecordInput<K>, options);

export const updateRecord = <K extends RecordKind>(
  session: HaleSession,
  kind: K,
  id: string,
  patch: Loose,
  reason?: string,
): Promise<RecordOf<K>> =>
  session.records.update(kind, id, patch as Partial<RecordOf<K>>, reason === undefined ? {} : { reason });

/** A record's fields as a plain map (records are plain JSON objects). */
export const fieldsOf = (record: object): Readonly<Record<string, unknown>> => ({ ...record });
