/*
 * What the store keeps of SMART Health Links (plugins/shl.ts): per link its routing and limits, the
 * content as ciphertext (a JWE whose key is only in the link), its record types and its label and counts
 * sealed to the patient (`sealed`), and an access log per link whose viewer names are sealed to the patient
 * (`sealedRecipient`). Links and accesses stored before sealing keep theirs in clear
 * (`label`, `contents`, `recipient`) and are read as they are; nothing writes those fields any more.
 *
 * Invariants (every store): a link is found by the hash of its manifest token, never by the token; an
 * access that opens a link and the count it adds commit together, and only while the link is neither
 * revoked nor locked (no passcode attempts left); a wrong passcode takes one attempt, never below zero;
 * every access to an existing link is logged, whatever it decided; a one-time link is revoked by the same
 * write that counts its first opening, so no two viewers open it.
 */

export interface ShlContentCount {
  readonly type: string;
  readonly count: number;
}

export interface ShlLink {
  /** The link's public id (22 base64url characters): what the patient lists, revokes, and the audit names. */
  readonly linkId: string;
  /** Hex SHA-256 of the manifest token in the link's URL. */
  readonly tokenHash: string;
  readonly patientId: string;
  /** The stream types the content holds (each opening is an audit entry per type). */
  readonly types: readonly string[];
  /** The label and counts (ShlLinkDetails) sealed to the patient; absent on a link stored before sealing. */
  readonly sealed?: string;
  /** In clear on a link stored before sealing only. */
  readonly label?: string;
  /** `scrypt$N$r$p$salt$hash` (base64url) of the passcode; absent: no passcode. */
  readonly passcodeHash?: string;
  readonly attemptsLeft: number;
  readonly emergency: boolean;
  /** Opens once: the opening that counts the first access also revokes it (one transaction). */
  readonly oneTime?: boolean;
  /** In clear on a link stored before sealing only. */
  readonly contents?: readonly ShlContentCount[];
  readonly contentType: string;
  readonly jwe: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly accessCount: number;
  readonly lastAccessAt?: string;
}

/** A new link as the store takes it: sealed, nothing in clear of its label, counts or accesses. */
export type ShlNewLink = Omit<
  ShlLink,
  'accessCount' | 'revokedAt' | 'lastAccessAt' | 'label' | 'contents' | 'sealed'
> & { readonly sealed: string };

/** A link as listed to its patient: no token hash, passcode hash or content. */
export type ShlLinkListing = Omit<ShlLink, 'tokenHash' | 'passcodeHash' | 'jwe'> & {
  readonly passcode: boolean;
};

export const SHL_ACCESS_OUTCOMES = ['opened', 'wrong-passcode', 'refused'] as const;
export type ShlAccessOutcome = (typeof SHL_ACCESS_OUTCOMES)[number];

/** An access as the store logs it: the viewer's name only sealed. */
export interface ShlAccessWrite {
  readonly at: string;
  readonly outcome: ShlAccessOutcome;
  /** What the viewer said it is (the spec's `recipient`), sealed to the patient for the link. */
  readonly sealedRecipient: string;
}

/** An access as read: sealed, or (logged before sealing) with the name in clear. */
export type ShlAccess =
  | ShlAccessWrite
  | {
      readonly at: string;
      readonly outcome: ShlAccessOutcome;
      readonly recipient: string;
    };

export interface ShlStore {
  /** ALREADY_EXISTS when the link id or token hash is taken. */
  create(link: ShlNewLink): Promise<void>;
  /** The patient's links, newest first (at most `limit`). */
  list(patientId: string, limit: number): Promise<ShlLinkListing[]>;
  byToken(tokenHash: string): Promise<ShlLink | null>;
  /** Revokes (first revocation time kept); NOT_FOUND for a link of no such id of this patient. */
  revoke(patientId: string, linkId: string, at: string): Promise<ShlLinkListing>;
  /**
   * Logs an access and applies it: `opened` adds one to the count, `wrong-passcode` takes an attempt;
   * both only while the link is not revoked and has attempts left. `refused` (expired, revoked, locked) is
   * logged only. Answers the attempts left and the count after it. An `opened` or `wrong-passcode` on a
   * link revoked or locked by then (another viewer's attempt committed first) is logged as `refused` and
   * answers null: every attempt is in the log, concurrent ones too, and the log's `wrong-passcode` entries
   * are exactly the attempts taken.
   */
  recordAccess(
    linkId: string,
    access: ShlAccessWrite,
  ): Promise<{ attemptsLeft: number; accessCount: number } | null>;
  /** A link's accesses, newest first (at most `limit`); NOT_FOUND for a link of no such id of this patient. */
  accesses(patientId: string, linkId: string, limit: number): Promise<ShlAccess[]>;
  /** Accesses to any of the patient's links logged after `since` (ISO), oldest first (at most `limit`). */
  accessesSince(
    patientId: string,
    since: string,
    limit: number,
  ): Promise<(ShlAccess & { readonly linkId: string })[]>;
  /** Keeps a one-time file ticket (hex SHA-256) for the link until `expiresMs`. */
  putTicket(linkId: string, ticketHash: string, expiresMs: number): Promise<void>;
  /** The link a live ticket names, and forgets the ticket (one use). */
  takeTicket(ticketHash: string, nowMs: number): Promise<ShlLink | null>;
  /**
   * Optional, for stores that several server nodes share (the CouchDB store): subscribes to accesses
   * logged through other instances (any outcome), once they are readable; the caller hears its own.
   * Returns unsubscribe.
   */
  onRemoteAccess?(
    listener: (access: { readonly patientId: string; readonly linkId: string }) => void,
  ): () => void;
}
