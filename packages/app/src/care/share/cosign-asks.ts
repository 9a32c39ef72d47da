/**
 * Co-signatures that wait for the patient: a clinician asked another to co-sign a note in the patient's
 * chart, and the one asked has no grant in force to read notes and sign them. Pure.
 *
 * - One ask per clinician asked, with who asked (the request's writer) and how many notes wait.
 * - A grant in force with notes (read or write) and note signatures to write covers the ask.
 */
import type { GrantView, StoredRecord } from '@hale/client';
import { inForce } from './grant-state';

export interface CosignAsk {
  /** The clinician asked to co-sign. */
  readonly signerId: string;
  /** Who asked (the accounts that wrote the requests). */
  readonly askedBy: readonly string[];
  readonly notes: number;
}

/** What a clinician asked to co-sign is granted: notes to read and signatures to write. */
export const COSIGN_SCOPE = [
  { type: 'profile', access: 'read' },
  { type: 'note', access: 'read' },
  { type: 'note-signature', access: 'write' },
] as const;

const covers = (g: GrantView, signerId: string): boolean =>
  g.grant.granteeId === signerId &&
  inForce(g) &&
  g.grant.scope.some((s) => s.type === 'note') &&
  g.grant.scope.some((s) => s.type === 'note-signature' && s.access === 'write');

export const cosignAsks = (
  signatures: readonly StoredRecord<'NoteSignature'>[],
  grants: readonly GrantView[],
  me: string,
): CosignAsk[] => {
  const bySigner = new Map<string, { askedBy: Set<string>; notes: Set<string> }>();
  for (const s of signatures) {
    const r = s.record;
    if (r.patientId !== me || r.status !== 'requested' || r.signerId === me) continue;
    if (grants.some((g) => covers(g, r.signerId))) continue;
    const ask = bySigner.get(r.signerId) ?? { askedBy: new Set<string>(), notes: new Set<string>() };
    ask.askedBy.add(r.requestedBy ?? s.by);
    ask.notes.add(r.noteId);
    bySigner.set(r.signerId, ask);
  }
  return [...bySigner].map(([signerId, a]) => ({
    signerId,
    askedBy: [...a.askedBy],
    notes: a.notes.size,
  }));
};
