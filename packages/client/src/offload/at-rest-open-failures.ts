/**
 * Why an at-rest envelope does not open, each reason and text written once: at-rest-encryption.ts fails
 * with them (`openPlaintext`, and `runAtRestJob` for an offload), and offload/job-result.ts keeps an
 * offload's message for a failed item only when `isAtRestOpenText` knows it for the item's reason.
 * A module of its own because at-rest-encryption.ts imports job-result.ts: the texts imported from there
 * would make a cycle.
 */
/** Why a sealed value did not open. */
export type AtRestDecryptReason = 'MALFORMED' | 'AUTH_FAILED' | 'CONTEXT_MISMATCH' | 'MISSING';

/** The message of a decryption failure (AT_REST_DECRYPT_FAILED) saying what failed. */
export const atRestDecryptText = (what: string): string => `at-rest decryption failed: ${what}`;

/** What an envelope's open fails on, with its reason; its message is `atRestDecryptText(what)`. */
export const AT_REST_OPEN_FAILURES = {
  notEnvelope: { reason: 'MALFORMED', what: 'stored value is not an at-rest envelope' },
  tampered: { reason: 'AUTH_FAILED', what: 'wrong at-rest key or tampered value' },
  notJson: { reason: 'MALFORMED', what: 'decrypted value is not JSON' },
  otherBinding: {
    reason: 'CONTEXT_MISMATCH',
    what: 'value belongs to another document, field or revision, or its clear fields changed',
  },
  noContent: { reason: 'MALFORMED', what: 'decrypted value has no content' },
} as const satisfies Readonly<Record<string, { reason: AtRestDecryptReason; what: string }>>;

/** What `runAtRestJob` answers (MALFORMED) for an item whose open failed with no AtRestError. */
export const AT_REST_UNEXPECTED_FAILURE = 'unexpected failure';

/** Whether `message` is a text `runAtRestJob` answers a failed open with for `reason`. */
export function isAtRestOpenText(reason: AtRestDecryptReason, message: string): boolean {
  if (message === AT_REST_UNEXPECTED_FAILURE) return reason === 'MALFORMED';
  return Object.values(AT_REST_OPEN_FAILURES).some(
    (f) => f.reason === reason && atRestDecryptText(f.what) === message,
  );
}
