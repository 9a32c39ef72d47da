/**
 * The pairing relay's state: short-lived mailboxes, one per pairing code, in this node's memory.
 *
 * | rule | how |
 * |---|---|
 * | nothing secret | a mailbox holds a commitment, public keys, nonces and sealed boxes; side tokens only as SHA-256 |
 * | short-lived | a pairing ends PAIRING_TTL_MS after its creation, or ENDED_GRACE_MS after a cancel or `done` |
 * | bounded | at most `maxOpen` open pairings per node and `maxOpenPerAddress` per creating address; 5 messages each |
 * | ordered | each kind once, in PAIRING_ORDER, from its side; `cancel` from either side while open |
 * | one approver | the first claim takes the code; later ones are PAIRING_TAKEN |
 * | long polls | one waiting read per side (a newer one answers the older empty); `close` answers all |
 *
 * Failure modes (ServiceError): unknown or expired code → PAIRING_UNKNOWN; second claim → PAIRING_TAKEN;
 * a token of neither side → UNAUTHENTICATED; a message out of turn or after the end → BAD_MESSAGE; caps
 * reached → RATE_LIMITED with `retryAfterMs`.
 * Several server nodes do not share mailboxes: behind a load balancer, route /v1/pairing sticky by code
 * (docs/operations.md).
 */
import { randomBytes, sha256, constantTimeEqual, base64urlDecode, base64urlEncode } from '@hale/crypto';
import {
  PAIRING_CODE_LENGTH,
  PAIRING_ORDER,
  PAIRING_TTL_MS,
  type HttpPairingMessagesResponse,
  type PairingMessage,
  type PairingRelayed,
  type PairingSide,
} from '@hale/protocol';
import { ServiceError } from '../core/service-error';

/** How long a finished or cancelled pairing stays readable, so the other side reads its last message. */
export const ENDED_GRACE_MS = 60_000;
export const DEFAULT_MAX_OPEN_PAIRINGS = 1_000;
export const DEFAULT_MAX_OPEN_PAIRINGS_PER_ADDRESS = 5;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

interface Mailbox {
  readonly code: string;
  readonly commit: string;
  readonly address: string;
  readonly expiresAt: number;
  readonly tokens: { new: Uint8Array; approver: Uint8Array | null };
  readonly messages: (PairingRelayed & { from: PairingSide })[];
  next: number;
  endedAt: number | null;
  readonly waiters: Map<PairingSide, () => void>;
}

export interface PairingRelayOptions {
  readonly now: () => number;
  readonly maxOpen?: number;
  readonly maxOpenPerAddress?: number;
}

export interface PairingRelayState {
  create(commit: string, address: string): { code: string; token: string; expiresAt: string };
  claim(code: string): { commit: string; token: string; expiresAt: string };
  post(code: string, token: string, message: PairingMessage): { seq: number };
  /** The other side's messages after `after`; waits up to `waitMs` (real time) for one when there is none. */
  read(code: string, token: string, after: number, waitMs: number): Promise<HttpPairingMessagesResponse>;
  /** Open (not ended) pairings. */
  size(): number;
  /** Answers every waiting read; later reads answer at once. */
  close(): void;
}

const unknown = (): ServiceError =>
  new ServiceError(
    'PAIRING_UNKNOWN',
    'no pairing has this code: mistyped, expired, finished or cancelled; start pairing again on the new device',
  );

const hashToken = (token: string): Uint8Array | null => {
  const bytes = base64urlDecode(token);
  return bytes.ok && bytes.value.length === 32 ? sha256(bytes.value) : null;
};

export function createPairingRelay(options: PairingRelayOptions): PairingRelayState {
  const { now } = options;
  const maxOpen = options.maxOpen ?? DEFAULT_MAX_OPEN_PAIRINGS;
  const maxPerAddress = options.maxOpenPerAddress ?? DEFAULT_MAX_OPEN_PAIRINGS_PER_ADDRESS;
  const boxes = new Map<string, Mailbox>();
  let closed = false;

  const gone = (box: Mailbox, t: number): boolean =>
    t >= box.expiresAt || (box.endedAt !== null && t >= box.endedAt + ENDED_GRACE_MS);

  const sweep = (): void => {
    const t = now();
    for (const [code, box] of boxes) {
      if (!gone(box, t)) continue;
      boxes.delete(code);
      for (const wake of box.waiters.values()) wake();
    }
  };

  const live = (code: string): Mailbox => {
    sweep();
    const box = boxes.get(code);
    if (box === undefined) throw unknown();
    return box;
  };

  const sideOf = (box: Mailbox, token: string): PairingSide => {
    const hash = hashToken(token);
    if (hash !== null) {
      if (constantTimeEqual(hash, box.tokens.new)) return 'new';
      if (box.tokens.approver !== null && constantTimeEqual(hash, box.tokens.approver)) return 'approver';
    }
    throw new ServiceError('UNAUTHENTICATED', "this token is neither side's of this pairing");
  };

  const open = (): Mailbox[] => [...boxes.values()].filter((b) => b.endedAt === null);

  const newToken = (): { token: string; hash: Uint8Array } => {
    const raw = randomBytes(32);
    return { token: base64urlEncode(raw), hash: sha256(raw) };
  };

  const newCode = (): string => {
    for (;;) {
      const code = Array.from(randomBytes(PAIRING_CODE_LENGTH), (b) => ALPHABET[b & 31]).join('');
      if (!boxes.has(code)) return code;
    }
  };

  const answer = (box: Mailbox, side: PairingSide, after: number): HttpPairingMessagesResponse => ({
    messages: box.messages
      .filter((m) => m.from !== side && m.seq > after)
      .map(({ seq, message }) => ({ seq, message })),
    expiresAt: new Date(box.expiresAt).toISOString(),
  });

  return {
    create(commit, address) {
      sweep();
      const opened = open();
      const mine = opened.filter((b) => b.address === address);
      if (opened.length >= maxOpen || mine.length >= maxPerAddress) {
        const first = (mine.length >= maxPerAddress ? mine : opened).reduce((a, b) =>
          a.expiresAt <= b.expiresAt ? a : b,
        );
        throw new ServiceError('RATE_LIMITED', 'too many pairings are open; finish or cancel one first', {
          retryAfterMs: Math.max(0, first.expiresAt - now()),
        });
      }
      const { token, hash } = newToken();
      const code = newCode();
      const expiresAt = now() + PAIRING_TTL_MS;
      boxes.set(code, {
        code,
        commit,
        address,
        expiresAt,
        tokens: { new: hash, approver: null },
        messages: [],
        next: 0,
        endedAt: null,
        waiters: new Map(),
      });
      return { code, token, expiresAt: new Date(expiresAt).toISOString() };
    },

    claim(code) {
      const box = live(code);
      if (box.endedAt !== null) throw unknown();
      if (box.tokens.approver !== null) {
        throw new ServiceError('PAIRING_TAKEN', 'another device already answered this pairing code');
      }
      const { token, hash } = newToken();
      box.tokens.approver = hash;
      return { commit: box.commit, token, expiresAt: new Date(box.expiresAt).toISOString() };
    },

    post(code, token, message) {
      const box = live(code);
      const side = sideOf(box, token);
      if (box.endedAt !== null) {
        throw new ServiceError('BAD_MESSAGE', 'this pairing has ended: nothing more is relayed');
      }
      if (message.t !== 'cancel') {
        const expected = PAIRING_ORDER[box.next];
        if (expected === undefined || expected.t !== message.t || expected.from !== side) {
          throw new ServiceError('BAD_MESSAGE', `a ${message.t} from this side is not expected now`, {
            expected: expected === undefined ? null : `${expected.t} from ${expected.from}`,
          });
        }
        box.next += 1;
      }
      const seq = box.messages.length + 1;
      box.messages.push({ seq, message, from: side });
      if (message.t === 'cancel' || message.t === 'done') box.endedAt = now();
      const other: PairingSide = side === 'new' ? 'approver' : 'new';
      const wake = box.waiters.get(other);
      box.waiters.delete(other);
      wake?.();
      return { seq };
    },

    async read(code, token, after, waitMs) {
      let box = live(code);
      const side = sideOf(box, token);
      const first = answer(box, side, after);
      if (first.messages.length > 0 || waitMs <= 0 || closed || box.endedAt !== null) return first;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done(): void {
          clearTimeout(timer);
          if (box.waiters.get(side) === done) box.waiters.delete(side);
          resolve();
        }
        // One waiting read per side: the older one answers now (what it has: nothing).
        box.waiters.get(side)?.();
        box.waiters.set(side, done);
      });
      box = live(code);
      return answer(box, side, after);
    },

    size: () => {
      sweep();
      return open().length;
    },

    close() {
      closed = true;
      for (const box of boxes.values()) {
        for (const wake of [...box.waiters.values()]) wake();
      }
    },
  };
}
