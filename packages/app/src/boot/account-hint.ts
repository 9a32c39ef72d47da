/**
 * Whether this device held an account when last used: a hint in localStorage (no secret), set when a
 * session opens and cleared at sign-out, so the app can show the unlock screen before the library loads.
 * The vault's answer, once the library is there, corrects it (app-state.tsx).
 *
 * `lockedStartPath`: a locked device opened at a chart address goes to `/unlock?next=…` before the router
 * starts, so the chart's screens (lazy routes, fetched for every route an address matches) are not
 * downloaded for a locked app.
 */
const ACCOUNT_HINT = 'hale.device.hasAccount';

export const readAccountHint = (storage: Pick<Storage, 'getItem'>): boolean => {
  try {
    return storage.getItem(ACCOUNT_HINT) === '1';
  } catch {
    return false;
  }
};

export const writeAccountHint = (storage: Pick<Storage, 'setItem' | 'removeItem'>, has: boolean): void => {
  try {
    if (has) storage.setItem(ACCOUNT_HINT, '1');
    else storage.removeItem(ACCOUNT_HINT);
  } catch {
    // Storage refused: the app starts at the spinner instead.
  }
};

/** Where a page load should start instead of `at`, or null to start there. */
export const lockedStartPath = (
  at: { readonly pathname: string; readonly search: string; readonly hash: string },
  storage: Pick<Storage, 'getItem'>,
): string | null => {
  if (!readAccountHint(storage)) return null;
  if (at.pathname === '/unlock' || at.pathname.startsWith('/start')) return null;
  return `/unlock?next=${encodeURIComponent(at.pathname + at.search)}${at.hash}`;
};
