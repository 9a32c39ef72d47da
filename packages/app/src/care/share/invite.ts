// An invite as a person hands it over: the raw text (`hale-invite:1:<account>:<fingerprint>`), a link that
// carries it (`…/care/sharing/new?invite=…`), or a QR code of either. A safety number's QR code is
// `hale-safety:2:<account of the screen showing it>:<60 digits>`, so the other side knows whose it is;
// `hale-safety:1:<60 digits>` (older apps) and typed digits are read too.
const INVITE = /hale-invite:1:[A-Za-z0-9_-]{22}:[0-9A-Za-z]+/;

/** The invite inside `text` (raw, a link, percent-encoded), or null. */
export const inviteIn = (text: string): string | null => {
  let plain = text.trim();
  try {
    plain = decodeURIComponent(plain);
  } catch {
    // Not percent-encoded: read as it is.
  }
  return INVITE.exec(plain)?.[0] ?? null;
};

/** The link that opens the invite in this app (`origin`: where the app is served). */
export const inviteLink = (origin: string, invite: string): string =>
  `${origin}/care/sharing/new?invite=${encodeURIComponent(invite)}`;

/** The QR text of the safety number that `accountId` (this screen's account) shows. */
export const safetyQrText = (safetyNumber: string, accountId: string): string =>
  `hale-safety:2:${accountId}:${safetyNumber.replace(/\s+/g, '')}`;

export interface SafetyCode {
  /** The account whose screen showed the code; null when it does not say (v1, typed digits). */
  readonly accountId: string | null;
  readonly digits: string;
}

/** The safety code a scanned QR code (or typed digits) carries, or null. */
export const safetyCodeIn = (text: string): SafetyCode | null => {
  const plain = text.trim();
  const v2 = /^hale-safety:2:([A-Za-z0-9_-]{22}):(\d{30,})$/.exec(plain);
  if (v2 !== null) return { accountId: v2[1] ?? null, digits: v2[2] ?? '' };
  const digits = plain.replace(/^hale-safety:1:/, '').replace(/\s+/g, '');
  return /^\d{30,}$/.test(digits) ? { accountId: null, digits } : null;
};

/** The digits a scanned safety-number QR code carries (or typed digits), or null. */
export const safetyDigitsIn = (text: string): string | null => safetyCodeIn(text)?.digits ?? null;

/**
 * Whether a code scanned from the other side's screen matches this side's number (`digits`): the same
 * digits, shown by `from` (the other account) when the code says whose it is.
 */
export const safetyMatches = (code: SafetyCode | null, digits: string, from: string): boolean =>
  code !== null && code.digits === digits && (code.accountId === null || code.accountId === from);

/** A safety number in rows of four groups, for reading aloud. */
export const safetyRows = (safetyNumber: string): string[][] => {
  const groups = safetyNumber.trim().split(/\s+/);
  const rows: string[][] = [];
  for (let i = 0; i < groups.length; i += 4) rows.push(groups.slice(i, i + 4));
  return rows;
};
