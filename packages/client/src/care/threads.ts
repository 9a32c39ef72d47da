/**
 * Threads and the inbox over `Message` records (pure): a thread is one `threadId` in one patient's chart
 * (messages live in the patient's `message` stream, whoever sent them). A patient sees a thread per
 * clinician conversation; a clinician sees threads across the patients whose messages it holds.
 *
 * Invariants: a thread's messages are in `sentAt` order (then id); its `latest` is the last; `unread`
 * counts messages to this account not yet marked read. The counterpart is the other party of the
 * thread's latest message (for a clinician, the patient). Threads are listed latest first.
 */
import type { RecordOf } from '@hale/model';
import type { StoredRecord } from '../records/records';

/** A message record as stored. */
export type StoredMessage = StoredRecord<'Message'>;

/** A conversation between a patient and one clinician, with its unread count (`inboxOf`). */
export interface Thread {
  /** Whose chart the thread is in. */
  readonly patientId: string;
  readonly threadId: string;
  /** The other party, seen from this account. */
  readonly counterpartId: string;
  readonly latest: RecordOf<'Message'>;
  readonly messages: number;
  readonly unread: number;
  /** Messages to this account not yet delivered (a receipt this device owes). */
  readonly undelivered: number;
}

const bySent = (a: StoredMessage, b: StoredMessage): number =>
  a.record.sentAt < b.record.sentAt
    ? -1
    : a.record.sentAt > b.record.sentAt
      ? 1
      : a.record.id < b.record.id
        ? -1
        : a.record.id > b.record.id
          ? 1
          : 0;

export const threadKey = (patientId: string, threadId: string): string => `${patientId}/${threadId}`;

/** Messages of one thread, oldest first. */
export const threadMessages = (
  all: readonly StoredMessage[],
  patientId: string,
  threadId: string,
): StoredMessage[] =>
  all.filter((m) => m.record.patientId === patientId && m.record.threadId === threadId).sort(bySent);

/**
 * The inbox of `me`: one entry per thread `me` takes part in (sent or received a message of), latest
 * activity first. A clinician granted a patient's `message` stream holds the patient's conversations with
 * other clinicians too (consent is per stream): they are not its inbox.
 */
export const inboxOf = (all: readonly StoredMessage[], me: string): Thread[] => {
  const groups = new Map<string, StoredMessage[]>();
  const mine = new Set(
    all
      .filter((m) => m.record.senderId === me || m.record.recipientId === me)
      .map((m) => threadKey(m.record.patientId, m.record.threadId)),
  );
  for (const m of all) {
    if (!mine.has(threadKey(m.record.patientId, m.record.threadId))) continue;
    const key = threadKey(m.record.patientId, m.record.threadId);
    const list = groups.get(key) ?? [];
    list.push(m);
    groups.set(key, list);
  }
  const threads: Thread[] = [];
  for (const list of groups.values()) {
    list.sort(bySent);
    const latest = list[list.length - 1]!.record;
    const toMe = list.filter((m) => m.record.recipientId === me);
    const counterpartId =
      latest.patientId !== me
        ? latest.patientId
        : latest.senderId === me
          ? latest.recipientId
          : latest.senderId;
    threads.push({
      patientId: latest.patientId,
      threadId: latest.threadId,
      counterpartId,
      latest,
      messages: list.length,
      unread: toMe.filter((m) => m.record.status !== 'read').length,
      undelivered: toMe.filter((m) => m.record.status === 'sent').length,
    });
  }
  return threads.sort((a, b) =>
    a.latest.sentAt < b.latest.sentAt ? 1 : a.latest.sentAt > b.latest.sentAt ? -1 : 0,
  );
};
