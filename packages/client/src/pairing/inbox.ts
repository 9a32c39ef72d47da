/**
 * One side's view of the other side's messages on the relay: `next(t)` waits (long-polling) for the next
 * one and hands it over if it is of kind `t`.
 *
 * | event | outcome |
 * |---|---|
 * | the expected message | returned |
 * | `cancel` from the other side | PairingError PAIRING_REFUSED (PAIRING_TAMPERED when it saw a bad message) |
 * | another message kind than expected | PAIRING_TAMPERED (the relay takes each kind once, in order) |
 * | a seq already read | skipped (an answer repeated by a retry) |
 * | no answer, a 5xx, RATE_LIMITED | tried again after `wait` (1 s, doubling to 8 s) until the pairing expires |
 * | PAIRING_UNKNOWN from the relay, or the expiry passed | PAIRING_EXPIRED |
 * | `abort` | PAIRING_CANCELLED |
 */
import type { PairingMessage, PairingMessageType } from '@hale/protocol';
import { PAIRING_MAX_WAIT_MS } from '@hale/protocol';
import { isHaleClientError } from '../api/errors';
import { PairingError } from './errors';
import type { PairingRelay } from './relay-client';

export interface InboxDeps {
  readonly relay: PairingRelay;
  readonly code: string;
  readonly token: string;
  /** When the pairing ends on the relay (ms since the epoch). */
  readonly expiresAt: number;
  readonly now: () => number;
  readonly wait: (ms: number) => Promise<void>;
  readonly signal: AbortSignal;
  /** Longest wait asked of the relay per request. */
  readonly pollMs?: number;
}

export interface Inbox {
  next<T extends PairingMessageType>(t: T): Promise<Extract<PairingMessage, { t: T }>>;
  /** Reads what arrived without waiting; throws (as `next`) when the other side cancelled meanwhile. */
  check(): Promise<void>;
}

export const expired = (): PairingError =>
  new PairingError(
    'PAIRING_EXPIRED',
    'the pairing took longer than its 10 minutes and ended; start pairing again on the new device',
  );

export const cancelled = (): PairingError =>
  new PairingError('PAIRING_CANCELLED', 'this pairing was cancelled on this device');

const refusedBy = (reason: string): PairingError =>
  reason === 'tampered'
    ? new PairingError(
        'PAIRING_TAMPERED',
        'the other device saw a pairing message that was changed on the way, and stopped; nothing was taken',
      )
    : new PairingError(
        'PAIRING_REFUSED',
        reason === 'mismatch'
          ? 'the other device was told the digits differ, and stopped: nothing was sent. Start again'
          : 'the other device stopped the pairing (refused or failed): nothing was sent. Start again',
        { byOtherDevice: true },
      );

export function createInbox(deps: InboxDeps): Inbox {
  const pollMs = deps.pollMs ?? PAIRING_MAX_WAIT_MS;
  const queue: PairingMessage[] = [];
  let after = 0;
  let backoff = 1_000;

  const fetchMore = async (waitAtMost = pollMs): Promise<void> => {
    for (;;) {
      if (deps.signal.aborted) throw cancelled();
      const left = deps.expiresAt - deps.now();
      if (left <= 0) throw expired();
      try {
        const answer = await deps.relay.messages(
          deps.code,
          deps.token,
          after,
          Math.max(0, Math.min(waitAtMost, left)),
          deps.signal,
        );
        backoff = 1_000;
        for (const m of answer.messages) {
          if (m.seq <= after) continue;
          queue.push(m.message);
          after = m.seq;
        }
        if (queue.length > 0 || waitAtMost === 0) return;
      } catch (e) {
        if (deps.signal.aborted) throw cancelled();
        if (isHaleClientError(e) && e.code === 'PAIRING_UNKNOWN') throw expired();
        if (!isHaleClientError(e) || !e.retry) throw e;
        await deps.wait(Math.min(backoff, Math.max(0, deps.expiresAt - deps.now())));
        backoff = Math.min(8_000, backoff * 2);
      }
    }
  };

  return {
    async check() {
      await fetchMore(0);
      const cancel = queue.find((m) => m.t === 'cancel');
      if (cancel?.t === 'cancel') throw refusedBy(cancel.reason);
    },
    async next(t) {
      if (queue.length === 0) await fetchMore();
      const message = queue.shift();
      if (message === undefined) throw expired();
      if (message.t === 'cancel') throw refusedBy(message.reason);
      if (message.t !== t) {
        throw new PairingError(
          'PAIRING_TAMPERED',
          `expected the other device's ${t} and got its ${message.t}: the relay changed the order; nothing was taken`,
        );
      }
      return message as Extract<PairingMessage, { t: typeof t }>;
    },
  };
}
