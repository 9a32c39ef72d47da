/*
 * Pulls: pages of the streams a device asks for, as far as its access and the answer's budget allow.
 *
 * Invariants:
 * - Each stream is decided at the start; the grantee streams a page hands documents of are decided again
 *   once the pages are read, and once more inside the transaction that logs the access (`decideAndLog`,
 *   sync-access-log.ts): a stream refused at either is listed in `denied` with its code, not logged and
 *   not served.
 * - The answer stays within MAX_BATCH_BYTES: only its first document may be over the budget (so a stream
 *   can always progress).
 *
 * Failure modes: an access that cannot be logged throws (sync-access-log.ts); nothing is served then.
 */
import type { DeniedStream, PullFrame, ServedDoc, StreamCheckpoint } from '@hale/protocol';
import type { RepeatableAccess } from './access-windows';
import type { ServiceError } from './service-error';
import { decideAccess, type Principal } from './access';
import { toServedDoc } from './sync-signing';
import type { Consent } from './sync-consent';
import type { AccessLog } from './sync-access-log';
import type { SyncContext } from './sync-context';

type PullAnswer = { docs: ServedDoc[]; streams: StreamCheckpoint[]; denied: DeniedStream[] };

/** `answer` without the streams of `refused`, which are listed in `denied` instead, with their codes. */
const withdraw = (answer: PullAnswer, refused: ReadonlyMap<string, ServiceError>): PullAnswer =>
  refused.size === 0
    ? answer
    : {
        docs: answer.docs.filter((d) => !refused.has(d.stream)),
        streams: answer.streams.filter((s) => !refused.has(s.stream)),
        denied: [
          ...answer.denied,
          ...answer.streams.flatMap(({ stream }) => {
            const refusal = refused.get(stream);
            return refusal === undefined ? [] : [{ stream, code: refusal.code }];
          }),
        ],
      };

export const createPull = (
  { store, now }: SyncContext,
  { grantsFor, endedLookups, explain }: Consent,
  { decideAndLog, repeatable }: AccessLog,
) => {
  const pull = async (
    p: Principal,
    frame: Pick<PullFrame, 'streams' | 'limit' | 'maxBytes'>,
  ): Promise<PullAnswer> => {
    const grants = await grantsFor(
      p,
      frame.streams.map((c) => c.stream),
    );
    const t = now();
    const ended = endedLookups();
    let budgetDocs = frame.limit;
    let budgetBytes = frame.maxBytes;
    const docs: ServedDoc[] = [];
    const streams: StreamCheckpoint[] = [];
    const denied: DeniedStream[] = [];
    const events: RepeatableAccess[] = [];
    for (const cursor of frame.streams) {
      const decision = await explain(
        p,
        cursor.stream,
        decideAccess(p, cursor.stream, 'pull', grants, t),
        t,
        ended,
      );
      if (!decision.ok) {
        denied.push({ stream: cursor.stream, code: decision.code });
        continue;
      }
      if (budgetDocs <= 0 || budgetBytes <= 0) {
        streams.push({ stream: cursor.stream, checkpoint: cursor.since, done: false });
        continue;
      }
      const page = await store.docs.readDocs(cursor.stream, cursor.since, budgetDocs, budgetBytes);
      // readDocs serves one document over budget so a stream can always progress; that exception is
      // for the answer's first document only. Past it, the answer could exceed MAX_BATCH_BYTES, which the
      // device's decoder refuses, so it would never get past this pull.
      const first = page.docs[0];
      if (docs.length > 0 && first !== undefined && first.ct.byteLength > budgetBytes) {
        streams.push({ stream: cursor.stream, checkpoint: cursor.since, done: false });
        continue;
      }
      for (const d of page.docs) {
        docs.push(toServedDoc(d));
        budgetBytes -= d.ct.byteLength;
      }
      budgetDocs -= page.docs.length;
      streams.push({ stream: cursor.stream, checkpoint: page.checkpoint, done: page.done });
      if (page.docs.length > 0 && decision.level !== 'owner') {
        events.push(repeatable('pull', cursor.stream, page.docs.length, decision));
      }
    }
    // Decided again now that the pages are read, and once more inside the transaction that logs the access
    // (the guard), so what is logged is what is handed out: a stream refused at either is in `denied`, not
    // logged, not served.
    // Only the grantee streams it hands documents of: one whose page is empty hands out nothing, so nothing
    // of it needs deciding again (its checkpoint says only where the stream stands; the next pull decides
    // anew), and a caught-up pull reads no grants twice.
    const refused = await decideAndLog(
      p,
      'pull',
      events.map((e) => e.stream),
      events,
    );
    return withdraw({ docs, streams, denied }, refused);
  };

  return pull;
};
