// What a sync issue, a version set aside or a change not sent means and what the person can do, by code
// (the TSDoc of @hale/client/advanced, sync issues); codes the app has no words for read as a general problem with
// the library's own sentence beside it.
import type { TFunction } from 'i18next';
import { RECORD_KINDS, type RecordKind } from '@hale/model';

export const KNOWN_ISSUES = [
  'DEVICE_REVOKED',
  'DEVICE_UNKNOWN',
  'QUARANTINED',
  'NO_KEY',
  'STALE_VERSION',
  'STALE_EPOCH',
  'SERVER_RESTORED',
  'SERVER_RESTORES_REPEATED',
  'OWN_ACCESS_REFUSED',
  'NOT_WRITABLE',
  'CONFLICT_UNREADABLE',
  'UPLOAD_REFUSED',
  'UPLOAD_STUCK',
  'WRAPPED_ROOT_REFUSED',
  'ID_CLASH',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'SUBSCRIBE_FAILED',
  'LOCKED',
  'CONSENT_REVOKED',
  'CONSENT_EXPIRED',
] as const;

export const KNOWN_QUARANTINE = [
  'BAD_SIGNATURE',
  'BAD_CONTENT',
  'NO_KEY',
  'BAD_AUTHOR',
  'BAD_TRANSITION',
] as const;

/**
 * Codes that tell of something that happened rather than something wrong (a patient ended or let run out
 * what they shared): told once as information, never counted as a problem.
 */
export const INFO_ISSUES = ['CONSENT_REVOKED', 'CONSENT_EXPIRED'] as const;

export const isInformation = (code: string): boolean => (INFO_ISSUES as readonly string[]).includes(code);

/** The issues that are problems: information left out. */
export const problemIssues = <T extends { readonly code: string }>(issues: readonly T[]): T[] =>
  issues.filter((i) => !isInformation(i.code));

/** One patient's access that ended, however many of their record streams it ended for. */
export interface AccessEnded {
  readonly patientId: string;
  readonly reason: 'revoked' | 'expired';
  /** Record streams it ended for. */
  readonly streams: number;
  /** The latest issue's time. */
  readonly at: string;
}

/** The information issues, one per patient and reason, latest first. */
export const accessEndings = (
  issues: readonly { readonly code: string; readonly stream?: string; readonly at: string }[],
): AccessEnded[] => {
  const byKey = new Map<string, AccessEnded>();
  for (const issue of issues) {
    if (!isInformation(issue.code)) continue;
    const patientId = issue.stream?.split('/')[0] ?? '';
    const reason = issue.code === 'CONSENT_EXPIRED' ? 'expired' : 'revoked';
    const key = `${patientId}/${reason}`;
    const seen = byKey.get(key);
    byKey.set(key, {
      patientId,
      reason,
      streams: (seen?.streams ?? 0) + 1,
      at: seen === undefined || issue.at > seen.at ? issue.at : seen.at,
    });
  }
  return [...byKey.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
};

const known = (list: readonly string[], code: string): boolean => list.includes(code);

export const issueWords = (t: TFunction, code: string): { title: string; todo: string } =>
  known(KNOWN_ISSUES, code)
    ? { title: t(`problem.${code}.title`), todo: t(`problem.${code}.todo`) }
    : { title: t('problem.generic.title'), todo: t('problem.generic.todo') };

export const quarantineWords = (t: TFunction, reason: string): { title: string; todo: string } =>
  known(KNOWN_QUARANTINE, reason)
    ? { title: t(`quarantine.${reason}.title`), todo: t(`quarantine.${reason}.todo`) }
    : { title: t('quarantine.generic.title'), todo: t('quarantine.generic.todo') };

/** The stream type of `stream` (`<patient>/<type>`). */
export const streamTypeOf = (stream: string | undefined): string | undefined => stream?.split('/')[1];

export const streamTypeOfKind = (kind: RecordKind): string | null => RECORD_KINDS[kind].streamType;
