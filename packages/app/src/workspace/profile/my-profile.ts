/**
 * This clinician's directory profile as last published from this device: public words (name, specialty,
 * clinic, identifier, contact) that the directory serves anyone, kept in localStorage per account so the
 * profile form opens filled in and a printed summary can name its clinician. No health content.
 */
import type { ProviderProfileInput } from '@hale/client';

export type PublishedProfile = {
  readonly displayName: string;
  readonly specialty: string;
  readonly clinic: string;
  readonly identifier: string;
  readonly contact?: string;
};

const key = (accountId: string): string => `hale.workspace.profile.${accountId}`;

export const readMyProfile = (accountId: string): PublishedProfile | null => {
  try {
    const raw = localStorage.getItem(key(accountId));
    if (raw === null) return null;
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    const o = v as Record<string, unknown>;
    const s = (k: string): string => (typeof o[k] === 'string' ? o[k] : '');
    if (s('displayName') === '') return null;
    return {
      displayName: s('displayName'),
      specialty: s('specialty'),
      clinic: s('clinic'),
      identifier: s('identifier'),
      ...(s('contact') === '' ? {} : { contact: s('contact') }),
    };
  } catch {
    return null;
  }
};

export const writeMyProfile = (accountId: string, profile: ProviderProfileInput): void => {
  try {
    localStorage.setItem(key(accountId), JSON.stringify(profile));
  } catch {
    // Storage refused (private mode): the form opens empty next time; nothing else depends on it.
  }
};
