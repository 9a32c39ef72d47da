/**
 * A shared link as its list shows it: whether it still opens, and what it carries. The server's record of
 * a link (`io.links()`) says when it was revoked, when it expires and how many passcode tries are left; a
 * link opens only while none of those stops it.
 */
import { RECORD_KINDS, type RecordKind } from '@hale/model';
import type { HaleSession } from '@hale/client';
import { slugOfKind } from '../../records/kinds';

export type LinkInfo = Awaited<ReturnType<HaleSession['io']['links']>>[number];
export type LinkAccessInfo = Awaited<ReturnType<HaleSession['io']['linkAccesses']>>[number];

export type LinkStatus = 'active' | 'expired' | 'revoked' | 'locked' | 'used';

export const linkStatus = (link: LinkInfo, now: number): LinkStatus => {
  // A one-time link is revoked by the server at its opening, at that opening's time.
  if (link.oneTime === true && link.revokedAt !== undefined && link.revokedAt === link.lastAccessAt)
    return 'used';
  if (link.revokedAt !== undefined) return 'revoked';
  if (link.expiresAt !== undefined && Date.parse(link.expiresAt) <= now) return 'expired';
  if (link.passcode && link.attemptsLeft === 0) return 'locked';
  return 'active';
};

/** The kinds (their list slugs) a link's content counts name, with how many records of each. */
export const contentsOf = (
  link: Pick<LinkInfo, 'contents'>,
): { readonly slug: string; readonly count: number }[] =>
  link.contents.flatMap((c) => {
    const kind = (Object.keys(RECORD_KINDS) as RecordKind[]).find(
      (k) => RECORD_KINDS[k].streamType === c.type,
    );
    const slug = kind === undefined ? undefined : slugOfKind(kind);
    return slug === undefined ? [] : [{ slug, count: c.count }];
  });

/** Expiry choices of the share form, in days; `null`: no expiry. */
export const EXPIRY_DAYS = [1, 7, 30, 90, null] as const;
export type ExpiryChoice = (typeof EXPIRY_DAYS)[number];

export const expiresAtOf = (days: ExpiryChoice, now: number): string | undefined =>
  days === null ? undefined : new Date(now + days * 86_400_000).toISOString();

/** The passcode rule the server enforces (4 to 64 characters), checked before asking it. */
export const passcodeProblem = (passcode: string): 'short' | 'long' | null =>
  passcode === '' ? null : passcode.length < 4 ? 'short' : passcode.length > 64 ? 'long' : null;
