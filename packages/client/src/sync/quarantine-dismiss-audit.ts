/**
 * What a dismissal of quarantine entries (engine.ts `dismiss`) writes to the audit log: the entries it is
 * recorded with, built from the dismissed versions alone.
 *
 * Invariants:
 * - One entry per patient per dismissal call (the patient whose stream a version belongs to; a stream id
 *   that does not parse counts as this account's), in the order the patients first appear in the call.
 * - Action QUARANTINE_DISMISS_ACTION; `count`: the distinct versions of that patient the call dismissed;
 *   `stream`: set only when they are all of one stream.
 * - The summary names each version by stream type, record id, revision and quarantine reason, and the
 *   account that signed it only where the device verified that signature (`author`: a version refused
 *   BAD_TRANSITION, which opened and verified); nothing of any version's content, which a person set aside
 *   and the log must not carry. It stays within MAX_AUDIT_SUMMARY characters: versions beyond it are
 *   counted ("and N more"), never cut in the middle; `count` still holds them all.
 * Failure modes: none (pure); the caller decides what a failed append means for the dismissal.
 */
import { MAX_AUDIT_SUMMARY, isAccountId, isStreamId, parseStreamId, type StreamId } from '@hale/protocol';
import type { QuarantineReason } from './stored-state';
import { namesThatFit } from '../core/names-that-fit';

/** The audit action of a dismissal (documents.ts lists it among the actions the library writes). */
export const QUARANTINE_DISMISS_ACTION = 'quarantine-dismiss';

/** A version the person dismissed, as the dismissal names it. */
export interface DismissedVersion {
  stream: string;
  id: string;
  rev: string;
  reason: QuarantineReason;
  /** The account whose signature over this version the device verified; absent when none did. */
  author?: string;
}

/** One audit entry of a dismissal: the patient whose log it goes to, and what the caller appends. */
export interface DismissalAuditEntry {
  patientId: string;
  detail: { action: string; summary: string; count: number; stream?: StreamId };
}

const nameOf = (v: DismissedVersion): string => {
  const parsed = parseStreamId(v.stream);
  const type = parsed.ok ? parsed.value.type : v.stream;
  const by = v.author !== undefined && isAccountId(v.author) ? ` by ${v.author}` : '';
  return `${type} ${v.id} rev ${v.rev} ${v.reason}${by}`;
};

const summaryOf = (versions: readonly DismissedVersion[]): string => {
  const n = versions.length;
  const head = `dismissed ${n} quarantined version${n === 1 ? '' : 's'}: `;
  return head + namesThatFit(versions.map(nameOf), MAX_AUDIT_SUMMARY - head.length, '; ');
};

/** The audit entries of one dismissal call (see the header); none for no version. */
export const dismissalAuditEntries = (
  versions: readonly DismissedVersion[],
  accountId: string,
): DismissalAuditEntry[] => {
  const byPatient = new Map<string, DismissedVersion[]>();
  for (const v of versions) {
    const parsed = parseStreamId(v.stream);
    const patientId = parsed.ok ? parsed.value.patientId : accountId;
    byPatient.set(patientId, [...(byPatient.get(patientId) ?? []), v]);
  }
  return [...byPatient].map(([patientId, list]) => {
    const streams = new Set(list.map((v) => v.stream));
    const [only] = streams;
    return {
      patientId,
      detail: {
        action: QUARANTINE_DISMISS_ACTION,
        summary: summaryOf(list),
        count: list.length,
        ...(streams.size === 1 && isStreamId(only) ? { stream: only } : {}),
      },
    };
  });
};
