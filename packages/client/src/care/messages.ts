/**
 * Composing messages and their receipts. A message lives in the patient's `message` stream: a patient
 * writes to its own; a clinician writes to the patient's under a write grant on `message`. Attachments
 * are files sealed into the same stream (files API), so exactly the readers of the thread can open them.
 *
 * | call | writes |
 * |---|---|
 * | `send` | a Message `sent` (new thread unless `threadId`), after its files are uploaded (or queued offline) |
 * | `deliver` | each message to this account still `sent`: `delivered` with the time it reached this device |
 * | `markRead` | each message of a thread to this account not yet `read`: `read` (and delivered) now |
 *
 * Invariants: only the recipient moves a receipt (the model's transitions refuse anyone else); receipts
 * only move on. Failure modes: an empty message with no attachment, or a recipient that is not the other
 * party of a patient's chart → CareError INVALID_INPUT; file and record refusals pass through.
 */
import { newId, type FileRef, type RecordOf } from '@hale/model';
import type { DeviceSession } from '../session/session';
import { CareError } from './errors';
import { threadMessages, type StoredMessage } from './threads';
import { iso } from './time-zones';

/** A file attached to a message: its bytes, name and media type. */
export interface Attachment {
  readonly bytes: Uint8Array;
  readonly fileName: string;
  readonly mediaType: string;
}

/** What `care.messages.send` sends: the recipient, the text and any attachments. */
export interface SendInput {
  /** The other party: the clinician (from a patient), or the patient (from a clinician). */
  readonly to: string;
  readonly body: string;
  /** A reply in this thread; a new thread otherwise. */
  readonly threadId?: string;
  readonly attachments?: readonly Attachment[];
  /** Upload the files now (default), or queue them to upload once online (`enqueue`). */
  readonly upload?: 'now' | 'enqueue';
}

export interface MessagesDeps {
  readonly session: Pick<DeviceSession, 'account' | 'records' | 'files'>;
  readonly now: () => number;
}

export const createMessages = (deps: MessagesDeps) => {
  const { session } = deps;
  const me = session.account.accountId;
  const isProvider = session.account.role === 'provider';

  const receipt = async (m: StoredMessage, read: boolean): Promise<boolean> => {
    const at = iso(deps.now());
    const r = m.record;
    if (r.recipientId !== me || r.status === 'read' || (!read && r.status === 'delivered')) return false;
    const patch: Partial<RecordOf<'Message'>> = read
      ? { status: 'read', readAt: at, ...(r.deliveredAt === undefined ? { deliveredAt: at } : {}) }
      : { status: 'delivered', deliveredAt: at };
    await session.records.update('Message', r.id, patch);
    return true;
  };

  return {
    async send(input: SendInput): Promise<RecordOf<'Message'>> {
      const files = input.attachments ?? [];
      if (input.body.trim() === '' && files.length === 0) {
        throw new CareError('INVALID_INPUT', 'write something or attach a file', { field: 'body' });
      }
      if (input.to === me)
        throw new CareError('INVALID_INPUT', 'a message goes to someone else', { field: 'to' });
      // A clinician writes into the patient's chart; a patient into its own.
      const patientId = isProvider ? input.to : me;
      const refs: FileRef[] = [];
      for (const file of files) {
        const put = { patientId, type: 'message' as const, ...file };
        refs.push(
          input.upload === 'enqueue' ? await session.files.enqueue(put) : await session.files.put(put),
        );
      }
      return session.records.add(
        'Message',
        {
          threadId: input.threadId ?? newId(),
          recipientId: input.to,
          body: input.body,
          status: 'sent',
          sentAt: iso(deps.now()),
          ...(refs.length === 0 ? {} : { attachments: refs }),
        },
        { patientId },
      );
    },

    /** Marks every message to this account still `sent` as delivered; answers how many. */
    async deliver(all: readonly StoredMessage[]): Promise<number> {
      let n = 0;
      for (const m of all) if (await receipt(m, false).catch(() => false)) n++;
      return n;
    },

    /** Marks the thread's messages to this account read; answers how many. */
    async markRead(all: readonly StoredMessage[], patientId: string, threadId: string): Promise<number> {
      let n = 0;
      for (const m of threadMessages(all, patientId, threadId)) if (await receipt(m, true)) n++;
      return n;
    },

    /** The bytes of an attachment of a message held here (checked chunk by chunk). */
    attachment: (message: RecordOf<'Message'>, file: FileRef): Promise<Uint8Array> =>
      session.files.get(file, { patientId: message.patientId, type: 'message' }),
  };
};

export type Messages = ReturnType<typeof createMessages>;
