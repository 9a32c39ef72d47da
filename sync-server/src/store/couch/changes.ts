/*
 * Following the shard logs' `_changes` feed (store.ts): how commits made through other nodes reach this
 * node's live hub. No second message bus: the log database's changes are the bus.
 *
 * | seen in the feed                                   | done                                        |
 * | -------------------------------------------------- | ------------------------------------------- |
 * | a commit of another node, marked applied, not aborted | its advanced heads to `onHeads` (onCommitted) |
 * |                                                    | each of its events to `onChange` (grants changed, device revoked, keys stored) |
 * |                                                    | each link access it logged to `onLinkAccess` (shl.ts)               |
 * | anything else (transactions, own commits, unapplied) | nothing                                     |
 *
 * Invariants: the feed starts at `now` when the store is initialised (commits before were already
 * readable); only commits marked applied are announced, so a listener's read finds their documents. A feed
 * that fails (CouchDB down) is restarted from the last sequence it saw after RETRY_MS, so nothing committed
 * meanwhile is skipped: commits applied while it was down arrive when it is back.
 * Failure modes: none thrown; `onError` hears each failure of the feed.
 */
import type { RemoteChange, StreamHead } from '../types';
import type { CouchDoc, PouchDbLike, ChangesFeed } from './db';
import type { CommitDoc } from './log';

const RETRY_MS = 500;

export interface FollowOptions {
  node: string;
  onHeads(heads: StreamHead[]): void;
  onChange(change: RemoteChange): void;
  onLinkAccess(access: { patientId: string; linkId: string }): void;
  onError(error: unknown): void;
}

const isCommit = (doc: CouchDoc | undefined): doc is CommitDoc =>
  doc !== undefined && doc._id.startsWith('l|') && typeof doc.n === 'number';

export const followCommits = (log: PouchDbLike, options: FollowOptions): { stop(): void } => {
  let since: unknown = 'now';
  let feed: ChangesFeed | null = null;
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const start = (): void => {
    if (stopped) return;
    const current = log.changes({ since, live: true, include_docs: true, heartbeat: 5_000, timeout: false });
    feed = current;
    current.on('change', (change) => {
      since = change.seq;
      const doc = change.doc;
      if (!isCommit(doc) || doc.applied !== true || doc.aborted === true || doc.node === options.node) return;
      if (doc.advanced.length > 0) options.onHeads(doc.advanced.map((h) => ({ ...h })));
      for (const e of doc.events) {
        if (e.k === 'grants')
          options.onChange({ kind: 'grants-changed', granteeId: e.grantee, patientId: e.patient });
        else if (e.k === 'device-revoked') options.onChange({ kind: 'device-revoked', deviceId: e.device });
        else if (e.k === 'shl') options.onLinkAccess({ patientId: e.patient, linkId: e.link });
        else
          options.onChange({
            kind: 'keys-stored',
            recipientId: e.recipient,
            patientId: e.patient,
            streams: [...e.streams],
          });
      }
    });
    current.on('error', (error) => {
      options.onError(error);
      if (stopped || feed !== current) return;
      feed = null;
      retry = setTimeout(start, RETRY_MS);
      retry.unref?.();
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      feed?.cancel();
      feed = null;
    },
  };
};
