// An invite as a person hands it over: the raw text (`hale-invite:1:<account>:<fingerprint>`), a link that
// carries it (`…/care/sharing/new?invite=…`), or a QR code of either. A safety number's QR code is
// `hale-safety:1:<60 digits>`.
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

export const safetyQrText = (safetyNumber: string): string =>
  `hale-safety:1:${safetyNumber.replace(/\s+/g, '')}`;

/** The digits a scanned safety-number QR code carries (or typed digits), or null. */
export const safetyDigitsIn = (text: string): string | null => {
  const digits = text
    .trim()
    .replace(/^hale-safety:1:/, '')
    .replace(/\s+/g, '');
  return /^\d{30,}$/.test(digits) ? digits : null;
};

/** A safety number in rows of four groups, for reading aloud. */
export const safetyRows = (safetyNumber: string): string[][] => {
  const groups = safetyNumber.trim().split(/\s+/);
  const rows: string[][] = [];
  for (let i = 0; i < groups.length; i += 4) rows.push(groups.slice(i, i + 4));
  return rows;
};
