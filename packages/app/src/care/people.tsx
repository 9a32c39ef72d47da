/**
 * Who the care screens name: a clinician by its signed directory profile, a patient by the Profile in its
 * chart (as a clinician holds it), this account as "You", anyone else by a short form of the account id.
 *
 * | source | read | kept |
 * |---|---|---|
 * | directory | every page of the directory (at most 10 of 100), once per session and again at most every 5 min when a name is missing | in memory, per session: gone with the lock |
 * | patient profile | `records.list('Profile', { patientId })` (only what a grant lets this device hold) | the store's |
 *
 * Failure modes: offline or a directory that does not answer → the short id, and the next lookup tries again.
 */
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { useTranslation } from 'react-i18next';
import type { HaleSession, VerifiedProvider } from '@hale/client';
import { useRecords, useHaleSession } from '@hale/react';
import { shortId } from '../records/format';

export type Profile = VerifiedProvider['profile'];

interface Directory {
  readonly profiles: Map<string, Profile>;
  readonly listeners: Set<() => void>;
  version: number;
  readAt: number;
  reading: boolean;
}

const PAGES = 10;
const AGAIN_MS = 5 * 60_000;
const directories = new WeakMap<HaleSession, Directory>();

const directoryOf = (session: HaleSession): Directory => {
  let held = directories.get(session);
  if (held === undefined) {
    held = { profiles: new Map(), listeners: new Set(), version: 0, readAt: 0, reading: false };
    directories.set(session, held);
  }
  return held;
};

/** Adds profiles found elsewhere (a directory search the person made) to the session's names. */
export const rememberProfiles = (session: HaleSession, profiles: readonly Profile[]): void => {
  const d = directoryOf(session);
  for (const p of profiles) d.profiles.set(p.accountId, p);
  d.version++;
  for (const l of d.listeners) l();
};

const readDirectory = async (session: HaleSession, force: boolean): Promise<void> => {
  const d = directoryOf(session);
  if (d.reading || (!force && Date.now() - d.readAt < AGAIN_MS)) return;
  d.reading = true;
  try {
    let cursor: string | undefined;
    for (let page = 0; page < PAGES; page++) {
      const answer = await session.directory.search('', { limit: 100, ...(cursor ? { cursor } : {}) });
      rememberProfiles(
        session,
        answer.providers.map((p) => p.profile),
      );
      if (answer.next === undefined) break;
      cursor = answer.next;
    }
    d.readAt = Date.now();
  } catch {
    // Offline: names stay short ids until a later lookup answers.
  } finally {
    d.reading = false;
  }
};

/** A clinician's directory profile, null while unknown (read in the background). */
export function useProviderProfile(accountId: string | undefined): Profile | null {
  const session = useHaleSession();
  const d = directoryOf(session);
  const version = useSyncExternalStore(
    (l) => {
      d.listeners.add(l);
      return () => d.listeners.delete(l);
    },
    () => d.version,
  );
  const profile = accountId === undefined ? undefined : d.profiles.get(accountId);
  useEffect(() => {
    if (accountId !== undefined && profile === undefined && accountId !== session.account.accountId) {
      void readDirectory(session, d.readAt === 0);
    }
  }, [accountId, profile, session, d]);
  return useMemo(() => profile ?? null, [profile, version]);
}

/** Names of the given accounts the directory knows (for exports and filters); unknown ids are left out. */
export function useDirectoryNames(ids: readonly string[]): Map<string, string> {
  const session = useHaleSession();
  const d = directoryOf(session);
  const version = useSyncExternalStore(
    (l) => {
      d.listeners.add(l);
      return () => d.listeners.delete(l);
    },
    () => d.version,
  );
  const key = [...new Set(ids)].sort().join(',');
  useEffect(() => {
    if (key.split(',').some((id) => id !== '' && !d.profiles.has(id)))
      void readDirectory(session, d.readAt === 0);
  }, [key, session, d]);
  return useMemo(() => {
    const names = new Map<string, string>();
    for (const id of key.split(',')) {
      const p = d.profiles.get(id);
      if (p !== undefined) names.set(id, p.displayName);
    }
    return names;
  }, [key, version, d]);
}

/** The name to show for an account. */
export function usePersonName(accountId: string | undefined): string {
  const { t } = useTranslation();
  const session = useHaleSession();
  const me = session.account.accountId;
  const provider = useProviderProfile(accountId);
  // A clinician names its patients by the profile their chart holds (when shared with it).
  const asPatient = session.account.role === 'provider' && accountId !== undefined && accountId !== me;
  const profiles = useRecords('Profile', { patientId: asPatient ? accountId : me, limit: 1 });
  if (accountId === undefined) return t('care.people.unknown');
  if (accountId === me) return t('common.you');
  if (provider !== null) return provider.displayName;
  const fullName = asPatient ? profiles.items[0]?.record.fullName : undefined;
  if (fullName !== undefined && fullName !== '') return fullName;
  return t('care.people.account', { id: shortId(accountId) });
}

export function PersonName(props: { readonly accountId: string | undefined }): string {
  return usePersonName(props.accountId);
}
