// An honest pairing relay in memory for the library's tests (the server's is sync-server/src/plugins/
// pairing-relay.ts, tested there): the same order and side rules, no limits, and a tap through which a
// test plays a hostile server that sees and changes every message.
import { base64urlEncode, randomBytes } from '@hale/crypto';
import {
  PAIRING_ORDER,
  PAIRING_TTL_MS,
  type HttpPairingMessagesResponse,
  type PairingMessage,
  type PairingSide,
} from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import type { PairingRelay } from './relay-client';

interface Box {
  commit: string;
  tokens: { new: string; approver: string | null };
  messages: { seq: number; from: PairingSide; message: PairingMessage }[];
  next: number;
  ended: boolean;
  expiresAt: number;
  wake: Set<() => void>;
}

const refuse = (
  code: 'PAIRING_UNKNOWN' | 'PAIRING_TAKEN' | 'UNAUTHENTICATED' | 'BAD_MESSAGE',
  status: number,
) => new HaleClientError({ code, message: code, status });

export interface MemoryRelay extends PairingRelay {
  /** Creates with a code of the caller's choosing (a hostile server picks the codes it hands out). */
  createWithCode(commit: string, code: string): Promise<{ code: string; token: string; expiresAt: string }>;
  /** Every message posted, in order. */
  readonly log: { code: string; from: PairingSide; message: PairingMessage }[];
}

export function memoryRelay(
  options: {
    now?: () => number;
    /** Sees each posted message; returns what is stored instead (null: dropped). */
    tap?: (from: PairingSide, message: PairingMessage) => PairingMessage | null;
  } = {},
): MemoryRelay {
  const now = options.now ?? Date.now;
  const boxes = new Map<string, Box>();
  const log: MemoryRelay['log'] = [];
  const token = (): string => base64urlEncode(randomBytes(32));
  const live = (code: string): Box => {
    const box = boxes.get(code);
    if (box === undefined || now() >= box.expiresAt) throw refuse('PAIRING_UNKNOWN', 404);
    return box;
  };
  const sideOf = (box: Box, t: string): PairingSide => {
    if (t === box.tokens.new) return 'new';
    if (t === box.tokens.approver) return 'approver';
    throw refuse('UNAUTHENTICATED', 401);
  };
  const createWithCode = async (commit: string, code: string) => {
    const box: Box = {
      commit,
      tokens: { new: token(), approver: null },
      messages: [],
      next: 0,
      ended: false,
      expiresAt: now() + PAIRING_TTL_MS,
      wake: new Set(),
    };
    boxes.set(code, box);
    return { code, token: box.tokens.new, expiresAt: new Date(box.expiresAt).toISOString() };
  };
  const answer = (box: Box, side: PairingSide, after: number): HttpPairingMessagesResponse => ({
    messages: box.messages
      .filter((m) => m.from !== side && m.seq > after)
      .map(({ seq, message }) => ({ seq, message })),
    expiresAt: new Date(box.expiresAt).toISOString(),
  });
  return {
    log,
    createWithCode,
    create: (commit) =>
      createWithCode(
        commit,
        Array.from(randomBytes(10), (b) => '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[b & 31]).join(''),
      ),
    async claim(code) {
      const box = live(code);
      if (box.ended) throw refuse('PAIRING_UNKNOWN', 404);
      if (box.tokens.approver !== null) throw refuse('PAIRING_TAKEN', 409);
      box.tokens.approver = token();
      return {
        commit: box.commit,
        token: box.tokens.approver,
        expiresAt: new Date(box.expiresAt).toISOString(),
      };
    },
    async post(code, t, posted) {
      const box = live(code);
      const from = sideOf(box, t);
      if (box.ended) throw refuse('BAD_MESSAGE', 400);
      if (posted.t !== 'cancel') {
        const expected = PAIRING_ORDER[box.next];
        if (expected?.t !== posted.t || expected.from !== from) throw refuse('BAD_MESSAGE', 400);
        box.next += 1;
      }
      log.push({ code, from, message: posted });
      const message = options.tap ? options.tap(from, posted) : posted;
      if (message === null) return;
      box.messages.push({ seq: box.messages.length + 1, from, message });
      if (posted.t === 'cancel' || posted.t === 'done') box.ended = true;
      for (const wake of [...box.wake]) wake();
    },
    async messages(code, t, after, waitMs, signal) {
      const box = live(code);
      const side = sideOf(box, t);
      const first = answer(box, side, after);
      if (first.messages.length > 0 || waitMs <= 0) return first;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          box.wake.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(waitMs, 200));
        box.wake.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
      if (signal?.aborted) throw new HaleClientError({ code: 'NETWORK', message: 'aborted', status: 0 });
      return answer(live(code), side, after);
    },
  };
}
