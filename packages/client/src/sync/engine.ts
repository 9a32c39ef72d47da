/**
 * The replication engine: one RxDB replication of the device's `records` collection over the device's
 * one WebSocket, multiplexing every stream the device may follow.
 *
 * Invariants:
 * - Encryption happens inside the push handler (so conflicts come back as plaintext to RxDB's conflict
 *   handler) and decryption of pulls before RxDB sees them; RxDB never stores ciphertext, the server never
 *   sees plaintext.
 * - Checkpoints are per stream ({ s: { [stream]: seq } }): a stream that becomes readable (new grant)
 *   starts at 0, so the device receives its whole history; so does one readable again after a purge,
 *   whose position RxDB's stored checkpoint keeps until it stores one of the pull from 0: the stream stays
 *   marked (persisted) until RxDB hands back a checkpoint carrying that pull's token (`r`), so a failed
 *   call RxDB retries, or a session opened again, never resumes it from before the purge. A pull starts
 *   from the checkpoint RxDB hands over (what it has stored), never from what the engine has merely seen:
 *   RxDB drops live changes it had not stored yet when it resyncs, and those must be served again. RxDB
 *   stores a batch's position only
 *   with at least one document, so a pull page or live frame that hands it nothing (echoes of this
 *   device's own pushes, versions that are the settled local copy, stale, clashing or quarantined
 *   versions) moves the engine's pull floor instead (persisted): the next pull starts there once RxDB's
 *   stored checkpoint reaches what was handed before that batch. A caught-up device fetches nothing again
 *   after a reconnect or restart, also one closed right after a batch was stored: RxDB writes a batch's
 *   position after its documents and skips that write once cancelled, so stop() lets it finish first (at
 *   most STOP_SETTLE_MS; past that, or for a batch RxDB dropped, the batch is pulled again). No record is
 *   ever handed over only to carry a position, nor a version that is the settled local copy itself
 *   (recognised as an echo or not: after a restart `sent` holds only the versions sent and not answered,
 *   a resync re-serves): RxDB stores a handed version after the batches before it, and a local edit
 *   acknowledged meanwhile would be replaced by it (RxDB then finds its copy equal to the assumed master
 *   state and takes the served version; replication-protocol/downstream.ts, rxdb 17.6).
 * - A served document this device cannot open, or whose tag, author or signature does not verify, or (on
 *   the patient's devices, `writeGrants`) whose author account held no write grant of the patient for it
 *   at its time (NO_WRITE_GRANT, record-codec.ts), is quarantined (kept aside, reported) and never written
 *   locally; the device never pushes anything for a record it could not read, so server state is never
 *   overwritten with an empty or stale copy.
 * - A served version of a record this device holds must also be a state that may follow the one held as
 *   the server's (received-transition.ts: the model's transition rules, author rules against the
 *   verified writer for signed versions; for a deletion the records API's removal rules, a NoteVersion's
 *   against its note and signatures as held): judged against the settled local copy on pulls, live frames
 *   and retries, and against RxDB's assumed master state for the server's side of a conflict, never
 *   against an unsent local edit. One that may not is quarantined BAD_TRANSITION (final: not fetched
 *   again; the same version served again is set aside again, also as the server's side of a later
 *   conflict, whatever state RxDB assumes then) and the held version stays; the server's
 *   side of a conflict is not merged. Where that refusal is sure to hold for the version's writer
 *   (`forgedOver`: on the patient's device, a version another account signed one write after RxDB's
 *   assumed master state, itself a state the server held, judged now; no restore being caught up with),
 *   the local change is sent over it (conflicts.ts `overwriteRefused`), numbered past it, and RxDB takes
 *   what the server took as its state and local copy: the record is the patient's again on every device
 *   that takes it. The refusal is this build's: another build's rules may allow that version, which the
 *   server no longer holds. So once the server took the local change, the overwrite is reported
 *   (OVERWROTE_REFUSED: record, the version's tag and signer, no content) and the version's quarantine
 *   entry, its only trace, is marked (`overwritten`) and kept: stored versions of the record do not
 *   end it; only the cap or a dismissal does (below). Its content stays readable on this device where
 *   it is kept (next point), so a person can enter it again.
 *   Otherwise the local change goes to unsent (CONFLICT_UNREADABLE), except where the server's version
 *   failed for a reason that can pass (NO_KEY, AUTHOR_LOOKUP_FAILED, NO_WRITE_GRANT; RxDB's own rows and
 *   the key-wait list's): then it stays pending and is sent again until that version opens and is merged
 *   like any conflict; meanwhile it is set aside as any such version. RxDB's upstream sends nothing until the
 *   handler answered the batch, holding every later push and every pull meanwhile, and its answer has no
 *   "not yet" for a row (rxdb 17.6, replication-protocol/upstream.ts): so the row waits on the key-wait
 *   list (below), answered as sent, which the engine sends again from there (a row left out of the
 *   answer is RxDB's assumed server state from then; the served version replaces the local copy once it
 *   opens, and the list's merge writes the result over either). Beyond the list's bound the batch is
 *   thrown back to RxDB and sent again instead. The wait is bounded per server version, so a change
 *   does not stay pending for good on a version that never opens: CONFLICT_WAIT_MS of time connected
 *   (`connectedTime`: offline no key can come, so a night offline does not use it up, nor does a
 *   connection that keeps dropping extend it) since this session first met it, and met again since,
 *   after the keyring fetched that stream's envelopes or the author's devices were asked for again; then
 *   the local change goes to unsent (CONFLICT_UNREADABLE, saying the key or the author's devices did not
 *   come). Its
 *   waiting issue (CONFLICT_WAIT) leaves `errors` when the wait ends either way. A record this device
 *   never held (initial sync) has nothing to compare with: its first version is taken as verified. Nor
 *   is a version judged whose local copy is a version the server refused (diverged, also after such a
 *   conflict): the server's state it builds on is not known here.
 * - A version set aside BAD_TRANSITION opened and verified: its record and its writer (account, device)
 *   are known, so its content is kept with its entry (`content`, read by `quarantinedVersion`), in device
 *   meta under a random key name (`quarantine-kept/<slot>`, sealed at rest as all device meta; key names
 *   lie in clear and name nothing of the record), written before the list that names it and removed
 *   after the list that no longer does; a key no entry names is removed at start. Nothing is kept for
 *   other reasons (a version that did not open or verify, BAD_CONTENT included, which is judged before
 *   its author is: it is no one's known content). Bounded: a version over MAX_KEPT_VERSION_BYTES (JSON,
 *   UTF-8) is not kept (`too-large`); beyond MAX_KEPT_BYTES in all, the content of the oldest entries not
 *   marked `overwritten` goes first, then that of the oldest marked ones (`budget`, reported
 *   QUARANTINE_CONTENT_DROPPED). It goes with its entry (answered, dropped beyond the cap, dismissed)
 *   and with its stream's purge (`purged`; the entry stays); a list replaced while its stream is not
 *   readable (a page judged while the purge ran) keeps none of it. Lists are written in the order they
 *   replace each other (one queue with the content work). Only a refusal BAD_TRANSITION writes content;
 *   a list holding none costs no more than before.
 * - Quarantine for a reason that can pass (NO_KEY; AUTHOR_LOOKUP_FAILED, the author's device list could
 *   not be fetched; NO_WRITE_GRANT, a grant this device has not learnt yet) is not final: such records are
 *   fetched again (re-pulling their stream from just before their seq; only they are decoded) after
 *   reconnecting, after access changes, when the grants change (the keyring's `onGuardChange`, which
 *   consent's every change of its copy of the grants calls: an own stream's epoch key may derive now, a
 *   grant made on another of the patient's devices is known now) and with backoff, and applied if they
 *   now verify. A version refused NO_WRITE_GRANT by a forger stays so, fetched again as the others
 *   (the backoff reaching RETRY_MAX_MS between fetches, besides reconnects and grant changes), each
 *   decode reading the grant list at most every WRITE_SPANS_REFRESH_MS (consent). Tampering reasons stay.
 *   An entry leaves the list only once RxDB has stored that record or a newer revision of it
 *   (`received$`), or the server no longer serves it, or the
 *   person dismisses it (below); a local copy that is not the server's (a write not acknowledged, or
 *   diverged) never counts as stored. An entry marked `overwritten` leaves neither way, only beyond the cap
 *   or dismissed.
 * - A refusal other rules may turn into a pass is kept with the identity of the rules that judged it:
 *   content refused by the record rules (BAD_CONTENT: the schemas are closed, a newer client may have
 *   written it) with `ContentModel.version` (MODEL_VERSION by default); an author refused (BAD_AUTHOR: no
 *   device of the account as far as the session could tell, e.g. a revoked one while revoked devices are
 *   not looked up) with the author rules (`authorRules`: AUTHOR_RULES_VERSION and whether revoked devices
 *   are looked up, device-directory.ts). A session judging that reason by other rules fetches it again
 *   once, the same way (an entry kept without them counts as refused under unknown rules); if it fails
 *   again it is kept under this session's rules, not fetched again until they change, and not reported
 *   again.
 * - The quarantine list holds at most MAX_QUARANTINE entries: beyond it the oldest that can never pass go
 *   first, then the oldest others, each drop reported (QUARANTINE_DROPPED). A dropped entry whose record
 *   may still be shown widens its stream's gap (one persisted seq range per stream), which the retry
 *   fetches again like the entries, decoding only what this device neither stored nor keeps aside.
 * - A person may dismiss entries they have seen (`dismissQuarantined`, all named or none): they leave the
 *   list and the count and are not fetched again (nor decoded in a gap). Each dismissed version (stream,
 *   id, revision) is remembered in device meta with its reason, written before the list (at most
 *   MAX_DISMISSED, the oldest forgotten first: such a version is listed again if served and refused
 *   again). Served again (a reconnect, a reset's pull from 0, a new grant's history) it is judged as it
 *   was — one refused BAD_TRANSITION is refused again over a local copy, even one with changes not yet
 *   sent; a device that holds no copy of the record (after a purge) takes it as a first version, listed or
 *   dismissed alike — and, refused again for the reason dismissed, neither listed nor reported
 *   QUARANTINED; refused for another reason (a NO_KEY one that now opens and proves TAMPERED) it is listed
 *   and reported as new. Dismissing never makes a version pass. A newer revision is judged afresh.
 * - A dismissal is a person setting aside what may be someone's clinical content, so it is recorded in the
 *   audit log before it is stored (`auditDismissal`; quarantine-dismiss-audit.ts builds the entries: one
 *   `quarantine-dismiss` entry per patient whose streams the call names, with the versions' ids,
 *   revisions, reasons and verified signers, never content), after every named entry was found listed:
 *   a call refused NOT_QUARANTINED, or naming none, records nothing. A dismissal that cannot be recorded
 *   (the hook rejects: the account locked meanwhile, a patient's wrapping key not to be had) is not
 *   stored: the call rejects with that error and the entries stay listed. Once recorded, the dismissals'
 *   write is tried again (DISMISSAL_WRITE_RETRIES_MS) before the call rejects with its error, the entries
 *   still listed; what it recorded is remembered, in device meta too (RECORDED_UNSTORED_KEY: written at
 *   that write's first failure, emptied once dismissals are written, read at start without those stored
 *   meanwhile): dismissed again for the same reason, after a restart too, it is not recorded again, and it
 *   is stored with the next dismissals written, whichever they name, or at the next start, which stores
 *   what the key holds before it lists anything. Only a store that refuses that write
 *   as well (remembered in memory then), or a process ending between the log's append and the dismissals'
 *   first write, leaves the log with an entry for versions listed again after a restart. The append only
 *   queues the entry in the audit outbox, so dismissing offline is recorded and delivered later
 *   (audit-log.ts).
 * - Once the connection is fatal DEVICE_REVOKED, every pending local version goes to unsent (code
 *   DEVICE_REVOKED, one issue for all), as does any written or handed again later: a revoked device can
 *   never send it and a device joined anew starts empty, so its content is kept where the app can show it.
 *   A server that lied about the revocation costs these versions their sending (the person re-enters them).
 * - A push or pull request that fails is retried by RxDB until it passes; one the server refused as busy
 *   or failing (RATE_LIMITED, UNAVAILABLE, INTERNAL) only after a backoff (PUSH_BACKOFF_BASE_MS doubling,
 *   per direction; ended early by stop() and by a new connection, started over once a request of that
 *   direction passes). Its issue (the code the handler threw, NETWORK for a dropped link; also STALE_EPOCH,
 *   and the push handler's own NO_KEY per record without a write key beyond the key-wait list's bound)
 *   leaves `errors` once a request of the same direction passes (`fromLoop`), a NO_KEY one also once its
 *   record is stored. So does a failed live subscription's, the quarantine retry's and
 *   a restore catch-up's once that task passes (`retryPassed`); a failed live subscription is asked again
 *   on the same connection with backoff (`followAll`), since `online` promises live changes. Every other
 *   issue stays until pushed out or cleared by its own reporter.
 * - A local version of a stream this device holds no key to write (NO_KEY: a grant whose envelopes are not
 *   published yet, an own stream's re-keying not confirmed) is not thrown back to RxDB, which holds every
 *   pull and live change while a push is under way: one such write would stop all incoming sync, for as
 *   long as the key takes (another device must come online). It goes on the key-wait list (`keyWaits`,
 *   at most MAX_KEY_WAITS; beyond it the push fails as before), persisted with the server state it was
 *   made on before the push handler returns, and RxDB takes it as sent. It stays pending (also after a
 *   restart: counted from the list), its record is marked diverged (a served version of it may replace
 *   the local copy meanwhile) and it has a NO_KEY issue until answered. The engine sends it itself once
 *   the key is held: at each connection, at each access change (the server tells of stored envelopes so),
 *   when the write guard changes, and after a backoff (KEY_WAIT_RETRY_BASE_MS doubling), while no push of
 *   RxDB's runs. A version RxDB hands that was made on a waiting one is sent against that one's base and
 *   replaces it; another version of the record (made on a served one) sends the waiting one to unsent. A
 *   server version met once the key came is merged with it as RxDB merges a conflict, the merge sent on
 *   top and written here; a stream no longer writable sends it to unsent, a purge drops it (UNSENT_PURGED),
 *   a revocation of this device keeps it in unsent.
 * - Writes to streams the device may not write are not sent; writes for streams it lost access to are
 *   dropped with the purge of that stream (and stop counting as pending), as are its versions kept
 *   unsent: the ids and kinds of those never sent are reported (UNSENT_PURGED, one issue per purge), their
 *   content is not kept. A purge empties every local document of the stream, deletions included, and
 *   removes the content kept of its refused versions (their entries stay, marked `purged`), so no
 *   content stays once access ended; neither an emptied deletion (nobody's change) nor a version RxDB
 *   gathered before the purge emptied its record is ever sent, also once access came back.
 * - What this device may access (the server's list at each connection, then its access changes) is kept
 *   in device meta (`access`, sealed at rest: a provider's patient list), with the streams whose access
 *   ended and whose purge has not completed. Each grant's end holds on this device's clock: `readable`,
 *   `writable` and `access()` go by it at once (no entry whose end passed is listed), and a timer armed for
 *   the soonest end (at start, at every access change, after each end it enforced) purges the stream.
 *   Where a read grant outlasts the write grant a stream is described by (`readExpiresAt`, protocol
 *   version 10), writing ends at the write grant's end (`writable`; `access()` lists the entry as read
 *   from then) and the end that purges is the read grant's; from an older server, which does not tell it,
 *   the write grant's end purges the stream and the next connection pulls it again from 0. A
 *   session opening, offline too, purges every stream whose end passed and every purge owed before it is
 *   handed out, the way an online end does (CONSENT_EXPIRED / CONSENT_REVOKED, `onPurged`). Until a
 *   connection's first listing the kept list decides what may be written locally; a push waits for that
 *   listing (the server checks again in any case), which ends what it no longer lists.
 * - Never for the account's own streams: the server saying access to one ended (a listing without it, an
 *   `accessChanged` removing it, a pull denying it) or narrowed (listed other than owner, or with an end)
 *   is refused and reported (OWN_ACCESS_REFUSED), nothing removed or changed: taken, one frame of a broken
 *   or hostile server would delete the patient's records, unsent edits included.
 * - Nothing of a stream is handed to RxDB once access to it ended, nor its position: a pull call checks
 *   what its pages gathered when it hands it over (earlier pages were fetched while access lasted), live
 *   frames and retries are checked when applied, in order with purges. A version handed over before
 *   access ended can still be stored by RxDB after the purge (it persists handed batches later, a live one
 *   only once no push runs, and tells neither when nor whether): what RxDB stores of a stream this device
 *   may not read is emptied and removed again as soon as RxDB reports it stored (`received$`, `sweep`):
 *   it is in the store for that moment, not after it.
 * - A record counts as a pending write until the server acknowledged its newest local revision (pending
 *   is kept by id and revision number: the one the records API wrote, or that of a version RxDB hands
 *   the push handler, a local change not noted): the reply to the push of an older one
 *   leaves it counted. A conflict RxDB resolves to the server's version itself answers it too (nothing
 *   is sent again), as does the server taking a version sent over a refused one (`forgedOver`), but
 *   RxDB writes that version into the local copy only after the push handler returned: until it has
 *   (the next write of the record's local document), the record still counts as pending and unsettled
 *   (`resolving`, in memory only: after a restart RxDB either wrote it or hands the local version to
 *   the push handler again), so a device reporting nothing pending holds what the server holds, not a
 *   version of its own under the server's number. The persisted list is written
 *   once for a burst of local writes, and before the push handler returns for what the server
 *   answered. A crash before a burst's save loses its notes, not the writes: RxDB hands every version
 *   it has not pushed to the push handler again after the restart (its own push checkpoint), which
 *   counts each as pending again on arrival, offline too.
 * - A version this device sent is never met as another's change, also when its answer was lost and the
 *   session ended before it came. Within a session RxDB sends a failed batch again, the very rows (the
 *   server answers a version it holds as stored), and sends a later local version only on top of it;
 *   after a restart RxDB sends the local copy against the last state the server acknowledged, and the
 *   server answers with the device's own version as the current one. So the tags of versions sent are
 *   written to device meta as each frame goes out, beside the send (one write of that frame's ids and tags
 *   into the next of UNANSWERED_SLOTS slots, in turn: a constant cost per frame, never the whole list,
 *   since thousands of rows may be in flight), and the push handler returns once it is written; read at
 *   start, into `unanswered` and `sent`. A crash within the write's few milliseconds, a write that fails,
 *   or a version whose slot was since written over, leaves such a version a conflict as before: both
 *   sides kept. A server version a push meets that is one of them (same tag, written by this device) and
 *   numbered below the local version is what that version was made on (the local history of a record is
 *   linear, and the slots are as old as the store they lie in: they name only versions that store held):
 *   the local version is sent on top of it, once, as for a tag computed otherwise (`sameVersion`). Any
 *   other server version, also an older one of this device's that the slots do not name (a device store
 *   restored from a backup that predates it), is merged as a conflict, both sides kept. An answer
 *   (stored, refused, or a conflict with another version) forgets the tag in memory (with those sent
 *   before it; STALE_EPOCH: that tag only, it is sealed again under another); the slots are not rewritten
 *   for it: a tag of an answered version still names a version of the record's local history, all the
 *   rule above needs.
 * - A local version the server will not take (refused for good, not writable here, or a newer server
 *   version that cannot be verified) is copied to the persisted `unsent` list before the push handler
 *   returns: RxDB takes it as pushed, so a later pulled version replaces it in the collection, but its
 *   content stays visible there until the person discards it (or access to its stream ends). A later
 *   refused version of the record replaces its entry only if it is that version again or was made on it
 *   (the refused copy edited further); one made on a pulled version is kept beside it. At most MAX_UNSENT
 *   entries, the oldest dropped beyond that and reported (UNSENT_DROPPED).
 * - Its record is also marked diverged (persisted, at most MAX_DIVERGED): the local copy is a version the
 *   server never took, whatever becomes of the unsent entry, so served versions of the record are left to
 *   RxDB rather than judged against that copy (freshness.ts). The mark goes only when a served version of
 *   the record is stored (`received$`) or its stream is purged.
 * - A push goes out in frames within MAX_BATCH_DOCS and MAX_BATCH_BYTES (ciphertext bytes counted as the
 *   server counts them, `docBytes`). A sealed version over MAX_DOC_BYTES is never sent: refused TOO_LARGE
 *   into unsent. A frame the server refuses as a whole for what it carries (TOO_LARGE, BAD_MESSAGE: one
 *   row can break the document rules) is split and sent again down to the row that causes it, which goes
 *   to unsent with that code; the rest of the batch proceeds. So no version can hold up later ones.
 * - Status is observable: online/offline/syncing, pending writes, last synced time, initial-sync
 *   progress (which never goes back within a session, reconnects included; its total counted from the
 *   positions RxDB stored, never before the pull handler has them, and grown by every document the pass
 *   serves beyond that count, so done stays below it until the pass is stored), errors with a reason a
 *   person can act on, and whether this device holds the account's
 *   current passphrase (set by the session's passphrase watch; the engine only carries it) and how many files
 *   wait in the upload queue (set by the session from files/upload-queue.ts; carried likewise). A connection
 *   gone fatal (the server refused this device) is an issue with the code of its failure (DEVICE_UNKNOWN,
 *   DEVICE_REVOKED, …), and `awaitInSync` rejects with it rather than wait for ever. Issues never
 *   carry record content: an error of RxDB's replication loop is reported by the code and message of the
 *   error met, never by RxDB's own message (a failed push's holds the whole batch, decrypted), and not
 *   at all when it is the app's own stop of the connection (STOPPED: close, goOffline) or comes after
 *   stop(); every message is cut at MAX_ISSUE_MESSAGE characters.
 * - The server store's incarnation (`ready.incarnation`) is recorded in device meta. When it changes (the
 *   store was restored from a backup and lost what was stored after it; `incarnationAction` → reset),
 *   before anything served is applied, every local version of this account's records in streams it may
 *   write is sent again as a creation (not writes still pending, which RxDB sends, nor versions refused
 *   before); then every readable stream is pulled again from 0. The new incarnation is recorded only once
 *   that pull caught up and everything local was pushed, so a catch-up cut short starts over at the next
 *   `ready`. A server version a push conflicts with was served before the restore only if the server
 *   says it kept it from a backup of the store of the incarnation recorded here (`keptFrom`, protocol
 *   version 8) and it is at or below the positions seen before the restore (the floor, persisted with the
 *   first run). Such a version older than the one a push builds on is overwritten (the store took
 *   versions in increasing numbers, so it is an ancestor); a newer one is left to the pull. Any other is
 *   another device's change, or cannot be told from one (an older server), and is merged like any
 *   conflict, both sides kept: positions alone prove nothing, since a restored store's may restart below
 *   those served before (nothing carried: a lost disk), so a version stored since the restore can sit at
 *   a position seen before it, with any revision number. For the same reason live frames
 *   received before a catch-up starts are dropped, and its pull from 0 starts the engine's positions (`known`,
 *   whence subscriptions and live checkpoints) over and counts RxDB's stored checkpoint of then, which
 *   RxDB replaces only with a document, as no position until RxDB stored another (`voided`, persisted
 *   with the pull floor); while the run lasts, a stale version at or below its floor is dropped without a
 *   report, as one already seen.
 *   A device seeing the incarnation it recorded does nothing of this.
 * - A full catch-up is costly (every local version sent, every stream pulled from 0), and only the
 *   server says when one is due, so a broken or hostile server announcing a new incarnation at every
 *   connection must not get one each time. Each catch-up started is kept in device meta (`resyncs`:
 *   incarnation and this device's clock, RESYNC_WINDOW_MS back, at most MAX_RESYNCS). The first within
 *   that window runs at once, as do up to RESYNC_FREE_RESTARTS restarts of the last one for the same
 *   incarnation (a catch-up cut short); any other waits RESYNC_BACKOFF_BASE_MS after the last one,
 *   doubling with each one kept, at most RESYNC_BACKOFF_MAX_MS (`resyncDelay`). Until then the
 *   announcement is not acted on: it is reported (SERVER_RESTORES_REPEATED, for whoever runs the
 *   server), the floor is fixed as for a catch-up (so the one that follows knows what was served before
 *   the restore), sync goes on from the checkpoints, and the first `ready` after the wait starts it.
 * - `online` means caught up and live on every readable stream: set only by a pull whose last page asked
 *   for every stream readable after the latest reconnect or access change, and only while the link is
 *   still up; a reconnect or an access change sets `syncing` until then.
 * Failure modes: network errors make RxDB retry (idempotent: pulls by checkpoint, pushes by tag); while
 * there is no connection the handlers wait for one (never RxDB's pause(), which can skip a push batch);
 * STALE_EPOCH refreshes keys and retries once; a busy or failing server is sent a push again with backoff;
 * `lastSyncedAt` moves only for a push the server stored something of or that left nothing to send;
 * permanent refusals are reported per record; a purge, or the removal of a version RxDB stored after one,
 * that fails is reported (PURGE_FAILED), and a purge that failed stays owed: it runs again at the next
 * session open. A catch-up
 * after a restore that cannot send everything again is reported (RESTORE_RESYNC_FAILED) and starts over
 * at the next connection; the push handler waits for nothing the pull handler holds (RxDB holds pulls back
 * while a push runs), except right after start, until RxDB's first pull (which nothing holds). RxDB can drop
 * a RESYNC queued behind a live change, so resyncs are counted and asked for again whenever the
 * replication goes idle before a pull covered them; a stream list that cannot be fetched at connect
 * fails the pull (RxDB retries it) rather than leave the connection unsubscribed.
 */
import {
  Subject,
  type Observable,
  type Subscription,
  BehaviorSubject,
  first,
  skip,
  skipWhile,
  tap,
} from 'rxjs';
import { replicateRxCollection, type RxReplicationState } from 'rxdb/plugins/replication';
import type { Static } from '@sinclair/typebox';
import {
  createRevision,
  prepareQuery,
  type RxDocumentData,
  type RxReplicationPullStreamItem,
  type WithDeleted,
} from 'rxdb';
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  MAX_DOC_BYTES,
  docBytes,
  errorInfo,
  incarnationAction,
  isErrorCode,
  parseRevTag,
  parseStreamId,
  HEAD_VERSION,
  isStreamId,
  SignedHead,
  validate,
  type AccessChangedFrame,
  type ChangesFrame,
  type HeadFrame,
  type PulledFrame,
  type PushedFrame,
  type PushDoc,
  type PushRow,
  type ReadyFrame,
  type ServedDoc,
  type ServerFrame,
  type StreamAccess,
  type StreamsFrame,
} from '@hale/protocol';
import { base64urlEncode, randomBytes, utf8Encode, type Ed25519 } from '@hale/crypto';
import { SyncError, type Connection } from './connection';
import {
  AUTHOR_QUARANTINE,
  CONTENT_QUARANTINE,
  MAX_RESYNCS,
  META_SCHEMAS,
  RETRYABLE_QUARANTINE,
  type DeviceMeta,
  type KeptContentLoss,
  type QuarantineReason,
} from '../session/device-meta';
import { authorRulesId, type DeviceKeyLookup } from './device-directory';
import type { DeviceRecord, RecordsCollection } from '../store/device-db';
import { isAtRestError } from '../store/at-rest-encryption';
import type { Keyring } from './keyring';
import type { CryptoOffload } from '../offload/crypto-offload';
import { createRecentMap } from '../util/recent-map';
import { coalescedSave } from '../util/coalesced-save';
import { namesThatFit } from '../util/names-that-fit';
import { createPagePrefetcher } from './page-prefetch';
import { createStreamList, type StreamList } from './stream-list';
import { createFreshnessCheck, type FreshnessDeps, type LocalVersion } from './freshness';
import { receivedTransitionRefusal } from './received-transition';
import { readNoteVersionContexts } from '../records/removal-rules';
import { overwriteRefused, type MergingDevice } from './conflicts';
import { createHeadSync, HEAD_SEEN_SCHEMA, heldReader } from './head-sync';
import { dismissalAuditEntries, type DismissalAuditEntry } from './quarantine-dismiss-audit';
import {
  BUILD_CONTENT_MODEL,
  canonicalOrNull,
  decodeRecords,
  emptied,
  encodeRecords,
  sameVersion,
  tagOf,
  type ContentModel,
  type EncodeInput,
  type PlainRecord,
  type WriteGrantLookup,
} from './record-codec';

export interface StreamCheckpoint {
  s: Record<string, number>;
  /**
   * Streams being pulled again from 0 after a purge → the token of that pull (`restartTokens`): present
   * only while one is, and proof that RxDB stored a checkpoint of it once handed back.
   */
  r?: Record<string, string>;
}

export interface SyncIssue {
  code: string;
  message: string;
  stream?: string;
  id?: string;
  /**
   * The records an issue is about, when there can be several (UNSENT_PURGED: the local changes never sent
   * that a purge removed): id and kind only, never content; at most MAX_ISSUE_RECORDS.
   */
  records?: Array<{ id: string; kind: string }>;
  at: string;
}

/** A local version the server did not take, kept so its content is not lost (see `unsent`). */
export interface UnsentChange {
  stream: string;
  id: string;
  kind: string;
  /** The version's write counter and whether it was a deletion. */
  rv: number;
  deleted: boolean;
  data: Record<string, unknown>;
  /**
   * Why it was not taken: the server's row error code, `NOT_WRITABLE`, `CONFLICT_UNREADABLE`, `TOO_LARGE`
   * (sealed over MAX_DOC_BYTES: never sent), the code the server refused a frame of this row alone with,
   * or `DEVICE_REVOKED` (pending when this device was revoked: it can never send it).
   */
  code: string;
  message: string;
  at: string;
}

export interface QuarantinedItem {
  stream: string;
  id: string;
  seq: number;
  rev: string;
  reason: QuarantineReason;
  message: string;
  at: string;
  /** MODEL_VERSION of the rules that judged it; absent in entries kept before it was recorded. */
  model?: string;
  /** The author rules that judged it (`authorRulesId`); absent in entries kept before it was recorded. */
  authorRules?: string;
  /**
   * Set once this device sent its own version over this one and the server took it (`forgedOver`): when,
   * and the account that signed this one. The server no longer holds it; the entry, its only trace here,
   * stays when later versions of the record are stored (see the header).
   */
  overwritten?: { at: string; by: string };
  /**
   * Of a version refused BAD_TRANSITION (it opened and verified): its content is kept on this device
   * (`kept`, `bytes` counted against the budget; `quarantinedVersion` reads it), or it is not, and why:
   * `too-large` for one entry, dropped beyond the budget, or `purged` with its stream. Absent for other
   * reasons and in entries kept before content was.
   */
  content?: QuarantinedContent;
}

/** What is kept of a refused version's content (see `QuarantinedItem.content`). */
export type QuarantinedContent =
  { kept: true; bytes: number } | { kept: false; why: KeptContentLoss; at: string };

/** A quarantine entry as kept: with the random name of the key its content lies under, if kept. */
type Listed = QuarantinedItem & { slot?: string };

/**
 * A version refused BAD_TRANSITION as this device opened and verified it (`quarantinedVersion`): its entry,
 * the account and device whose signature verified, and its content as that version holds it.
 */
export interface QuarantinedVersion {
  stream: string;
  id: string;
  rev: string;
  reason: QuarantineReason;
  message: string;
  at: string;
  overwritten?: { at: string; by: string };
  author: { accountId: string; deviceId: string };
  record: {
    kind: string;
    rv: number;
    deleted: boolean;
    updatedAt: string;
    data: Record<string, unknown>;
    conflict: boolean;
    conflictData: Record<string, unknown> | null;
  };
}

/** What names a quarantine entry: the served version (`dismissQuarantined` takes it, or the entry itself). */
export type QuarantineKey = Pick<QuarantinedItem, 'stream' | 'id' | 'rev'>;

/** A quarantine entry the person dismissed: the version, the reason it was set aside, and when. */
interface Dismissal {
  stream: string;
  id: string;
  rev: string;
  reason: QuarantineReason;
  at: string;
}

/**
 * The rules a record refused under this session's rules waits for (only the ones its reason depends on);
 * for a gap, those of every record in it (see `quarantineGaps`).
 */
type Waits = Pick<QuarantinedItem, 'model' | 'authorRules'>;

/**
 * A served document as judged: decoded (the codec's outcome), or refused, by the codec or by the rules after
 * it (then with the verified `record` they refused: BAD_TRANSITION).
 */
type Judged =
  | { ok: true; record: PlainRecord }
  | { ok: false; reason: QuarantineReason; message: string; record?: PlainRecord };
/** A served document set aside, with the verified record when the rules after the codec refused it. */
interface Refused {
  doc: ServedDoc;
  reason: QuarantineReason;
  message: string;
  record?: PlainRecord;
}

/** A seq range of a stream whose quarantine entries were dropped beyond the cap (see `quarantineGaps`). */
interface QuarantineGap extends Waits {
  stream: string;
  from: number;
  to: number;
}

/**
 * Whether this device opens with the account's current passphrase (see session/passphrase-watch.ts):
 * `unknown` until the server says (a server older than protocol version 2 never does); `current`;
 * `updated` — this session took a passphrase changed on another device, the old one no longer opens
 * this device; `changed-elsewhere` — the server holds a newer one this device has not taken (the session
 * has no vault and API to take it, or taking it failed: see `errors`); `refused` — the server offered a
 * wrap this device refused and kept its own (`WRAPPED_ROOT_REFUSED` in `errors`).
 */
export type PassphraseStatus = 'unknown' | 'current' | 'updated' | 'changed-elsewhere' | 'refused';

export interface SyncState {
  status: 'offline' | 'connecting' | 'syncing' | 'online' | 'stopped' | 'fatal';
  pendingWrites: number;
  /**
   * Files queued on this device that the server has not confirmed whole (`files.uploads()`, refused ones
   * included: they are not on the server either). The session sets it from the upload queue
   * (`setPendingUploads`); the engine only carries it.
   */
  pendingUploads: number;
  /** When a pull, push or live change last completed, kept across restarts; null if never. */
  lastSyncedAt: string | null;
  /**
   * Documents of the catch-up this session: neither number goes down, across reconnects too (what is
   * left at a reconnect is added to what was done). Done counts what was pulled but the latest page, which
   * it counts once the pass is stored: done equals total once every record of the catch-up can be queried.
   */
  initialSync: { done: number; total: number };
  errors: SyncIssue[];
  quarantined: number;
  /** Local versions the server did not take (`unsent()`). */
  unsent: number;
  streams: number;
  passphrase: PassphraseStatus;
}

export interface RemovedStream {
  stream: string;
  reason: 'expired' | 'revoked' | 'device-revoked';
}

/**
 * Why this device may not write a stream, as far as it knows (`whyNotWritable`): no consent it knows of
 * covers it (never granted, or ended before this session opened), consent lets it read only (a read
 * grant, or a write grant ended while a read grant lasts), or access to it ended: expired, or revoked
 * (the account's device revoked counts as revoked).
 */
export type NotWritableReason = 'no-consent' | 'read-only' | 'expired' | 'revoked';

export interface EngineDeps {
  collection: RecordsCollection;
  connection: Connection;
  keyring: Keyring;
  ed: Ed25519;
  accountId: string;
  device: { deviceId: string; secretKey: Uint8Array };
  /** The author device's key; `unavailable` (could not ask) quarantines for a retry, not for good. */
  lookupDeviceKey: (accountId: string, deviceId: string) => Promise<DeviceKeyLookup>;
  /**
   * When an account held write access to a patient's streams by the grants the patient signed, as this
   * device keeps them (record-codec.ts `writeGrants`; the session asks consent): a version by another
   * account than the patient outside them is set aside NO_WRITE_GRANT and fetched again when the grants
   * change (the keyring's `onGuardChange`). Absent, such versions are not checked against grants.
   */
  writeGrants?: WriteGrantLookup;
  now: () => number;
  replicationId: string;
  /** Persisted per-device lists (pending ids, quarantine); injected so the engine stays storage-agnostic. */
  meta: DeviceMeta;
  /** Called after a stream was purged because access ended (consent expired or revoked). */
  onPurged?: (removed: RemovedStream, count: number) => void;
  /**
   * Records a dismissal in the audit log (the session appends each entry to its patient's log): called
   * once per `dismissQuarantined` call that names listed entries, after they are checked and before
   * anything is written; a rejection refuses the dismissal with its error (see the header). Absent,
   * nothing is recorded.
   */
  auditDismissal?: (entries: readonly DismissalAuditEntry[]) => Promise<void>;
  onAccessChanged?: (frame: AccessChangedFrame) => void;
  /**
   * The server's list of streams, read whole (every page; stream-list.ts), shared with the keyring by the
   * session; one over `connection` when absent. The engine feeds it every `accessChanged` frame on arrival.
   */
  streamList?: StreamList;
  batchSize?: number;
  /** Least time between two stream head statements this device signs of one stream (default 60 s). */
  headSignEveryMs?: number;
  /** Backoff of re-fetching records quarantined for a reason that can pass (default 30 s doubling to 30 min). */
  quarantineRetry?: { baseMs: number; maxMs: number };
  /**
   * How long a local change waits, connected, for a newer server version it met that cannot be verified
   * yet (default CONFLICT_WAIT_MS; see the header); lowered by tests.
   */
  conflictWaitMs?: number;
  /** Backoff of sending versions waiting for their write key again (default KEY_WAIT_RETRY_BASE_MS, …_MAX_MS). */
  keyWaitRetry?: { baseMs: number; maxMs: number };
  /**
   * RxDB's retry wait and the backoff of requests refused as busy or failing (default RETRY_MS,
   * PUSH_BACKOFF_BASE_MS, PUSH_BACKOFF_MAX_MS); lowered by tests.
   */
  busyRetry?: { retryMs: number; baseMs: number; maxMs: number };
  /** Where batches of wire seals and opens run (a worker); this thread when absent. */
  offload?: CryptoOffload;
  /** The record rules served content is judged by: this build's `@hale/model` unless a test injects others. */
  contentModel?: ContentModel;
  /**
   * The identity of the rules `lookupDeviceKey` judges authors by now (the device directory's
   * `authorRules`), read as records are judged; `authorRulesId(false)` when absent.
   */
  authorRules?: () => string;
  /** Quarantine entries kept (default MAX_QUARANTINE); lowered by tests. */
  maxQuarantine?: number;
  /** Dismissed quarantine entries remembered (default MAX_DISMISSED); lowered by tests. */
  maxDismissed?: number;
  /**
   * Bytes of refused versions' content kept: per entry (default MAX_KEPT_VERSION_BYTES) and in all
   * (default MAX_KEPT_BYTES); lowered by tests.
   */
  keptContent?: { entryBytes: number; totalBytes: number };
}

const MAX_ERRORS = 50;
/**
 * Issues kept from `error` frames the server sent unasked (their code and words are the server's): the
 * oldest of them go first, so a server sending many cannot push out the issues this device raised.
 */
const MAX_SERVER_ISSUES = 5;
/** Longest issue message kept (characters); longer ones are cut. */
const MAX_ISSUE_MESSAGE = 500;
/** Records one issue names in `records` (the message gives the whole count). */
const MAX_ISSUE_RECORDS = 1_000;
const MAX_QUARANTINE = 10_000;
/**
 * Most bytes (JSON, UTF-8) of one refused version's content kept: what one sealed version may carry, so no
 * verified version is too large for its own size; a larger one (none the server takes) is not kept.
 */
const MAX_KEPT_VERSION_BYTES = MAX_DOC_BYTES;
/** Most bytes of refused versions' content kept in all; beyond it the oldest go (see the header). */
const MAX_KEPT_BYTES = 8 * 1024 * 1024;
/** Device meta keys of kept content: `quarantine-kept/<slot>`, a random name (keys lie in clear). */
const KEPT_PREFIX = 'quarantine-kept/';
const keptKey = (slot: string): string => `${KEPT_PREFIX}${slot}`;
/**
 * Dismissed quarantine entries remembered (a version key each, no content): as many as the list holds, so
 * dismissing a full list forgets none. Beyond it the oldest dismissals are forgotten: such a version, if
 * served again and refused again, is listed and reported again.
 */
const MAX_DISMISSED = 10_000;
/**
 * Waits before writing the dismissals again after a failed write, once the dismissal was recorded in the
 * audit log (a store that refuses one write, e.g. a transaction aborted, usually takes the next).
 */
const DISMISSAL_WRITE_RETRIES_MS = [50, 500];
/**
 * Device meta key of the dismissals recorded in the audit log whose write failed (`recordedUnstored`), in
 * the shape of the dismissals' own key: written when that write fails, emptied once one succeeds, read at
 * start, so a restart in between does not record them again.
 */
const RECORDED_UNSTORED_KEY = 'quarantine-dismiss-recorded';
/** Unsent versions kept (each holds a record's content); beyond it the oldest go, reported. */
const MAX_UNSENT = 1_000;
/**
 * Local versions kept waiting for their stream's write key (`keyWaits`, each with its content and that of
 * the state it was made on). Beyond it a push with versions lacking a key fails as a whole and RxDB sends
 * it again until the key comes, holding every pull meanwhile, as before the list existed.
 */
const MAX_KEY_WAITS = 1_000;
/** Backoff of sending versions waiting for their write key again (doubling up to the max); see `keyWaits`. */
const KEY_WAIT_RETRY_BASE_MS = 2_000;
const KEY_WAIT_RETRY_MAX_MS = 60_000;
/**
 * How long a local change waits for a newer server version it met that cannot be verified yet (NO_KEY,
 * AUTHOR_LOOKUP_FAILED, NO_WRITE_GRANT) before it goes to unsent, counting only time connected (offline
 * nothing can arrive, and nothing is sent). It waits on the key-wait list, holding up nothing else, and
 * is sent again at each access change (the server tells of stored envelopes so) and with backoff
 * (KEY_WAIT_RETRY_BASE_MS doubling), each send fetching the keys and asking for the author's devices
 * again (and judging the version by the grants as they stand then). One still missing
 * after that waits for another device to come online (a wrap not yet made), for hours or for ever: the
 * change goes to unsent rather than stay pending (its content stays on this device, to enter again).
 */
const CONFLICT_WAIT_MS = 60_000;
/**
 * The issue code of a local change waiting so (the reason in its message), and of the push error that has
 * RxDB send its batch again meanwhile.
 */
const CONFLICT_WAIT = 'CONFLICT_WAIT';
/**
 * Records marked diverged (a key each, no content). Beyond it the oldest marks go, reported: such a record
 * is judged as settled again, so a served version under its number with other content is dropped as
 * stale until a newer one comes.
 */
const MAX_DIVERGED = 10_000;
/** Pushed versions remembered for echo detection (at least this many; a forgotten echo is just decoded). */
const MAX_SENT = 50_000;
/** Device meta key prefix of the slots naming the versions in the last frames sent (`unanswered`). */
const UNANSWERED_KEY = 'push-unanswered-';
/**
 * Slots written in turn, one per push frame (at most PUSH_PIPELINE_CHUNK rows, or one batch without an
 * offload): the versions of the last this many frames sent are known after a restart.
 */
const UNANSWERED_SLOTS = 32;
/** Records kept in memory in `unanswered` (beyond it the oldest go: a conflict, both sides kept, as before). */
const MAX_UNANSWERED = 10_000;
/**
 * Tags kept per record in `unanswered`: each restart whose push of the record goes unanswered again adds
 * one (a newer local version sent before the older one's answer came); the oldest go first.
 */
const MAX_UNANSWERED_REVS = 8;
/** Documents per push request when sealing runs on an offload (pipelined with the server's work). */
const PUSH_PIPELINE_CHUNK = 100;
/**
 * Backoff of a push or pull the server refused as busy or failing (`PUSH_BACKOFF_CODES`): RxDB sends a
 * failed request again after its own constant retryTime (RETRY_MS), so the handler waits the rest of a
 * wait doubling from PUSH_BACKOFF_BASE_MS up to PUSH_BACKOFF_MAX_MS before it rejects (1, 2, 4 … s
 * between sends), per direction; one that passes starts its direction over, and a new connection ends a
 * wait under way.
 * Without it every device would send a failing server a request once a second for as long as it fails.
 */
const PUSH_BACKOFF_BASE_MS = 1_000;
const PUSH_BACKOFF_MAX_MS = 60_000;
/** RxDB's wait before it sends a failed push or pull request again (`retryTime`). */
const RETRY_MS = 1_000;
const PUSH_BACKOFF_CODES: ReadonlySet<string> = new Set(['RATE_LIMITED', 'UNAVAILABLE', 'INTERNAL']);
/** Local documents read and sent again per page after a restore of the server's store. */
const REPUSH_PAGE = 500;
/**
 * At most this long, stop() lets RxDB store the position of a batch it was handed (`settleHanded`): long
 * enough for a page of documents to be stored, short enough that a close never hangs on one RxDB dropped.
 */
const STOP_SETTLE_MS = 1_000;
/**
 * Device meta key of `lastSyncedAt`: kept across restarts, so a device opened offline says how old what it
 * shows is instead of "never".
 */
const LAST_SYNCED_KEY = 'last-synced';
/** The per-stream positions of a pull checkpoint RxDB stored (its meta holds it untyped); none if malformed. */
const storedPositions = (data: unknown): Record<string, number> => {
  if (typeof data !== 'object' || data === null || !('s' in data)) return {};
  const s: unknown = data.s;
  if (typeof s !== 'object' || s === null) return {};
  return Object.fromEntries(Object.entries(s).filter((e): e is [string, number] => typeof e[1] === 'number'));
};
/**
 * Most streams one pull or subscribe names: a provider that follows many patients reads more streams
 * than one request may name (MAX_STREAMS_PER_REQUEST), so it asks for them in slices of this many.
 */
export const STREAMS_PER_REQUEST = 1000;
/** How many records' server versions met in push conflicts are remembered (`conflictMet`). */
const MAX_CONFLICTS_MET = 10_000;
/** How far back the catch-ups after restores of the server's store count (see `resyncDelay`). */
export const RESYNC_WINDOW_MS = 24 * 60 * 60_000;
/** Wait after a catch-up before another one; doubles with each catch-up in the window. */
export const RESYNC_BACKOFF_BASE_MS = 15 * 60_000;
export const RESYNC_BACKOFF_MAX_MS = 24 * 60 * 60_000;
/** Restarts of a catch-up cut short (same incarnation as the last one) that run at once. */
export const RESYNC_FREE_RESTARTS = 2;

/** A catch-up started after a restore of the server's store: the incarnation and this device's clock. */
export interface ResyncStart {
  readonly to: string;
  readonly at: number;
}

/**
 * How long a catch-up with incarnation `to` must still wait at `now` (0: start it now), given the ones
 * started before (oldest first). A start ahead of `now` (the clock went back) counts as started now.
 */
export const resyncDelay = (resyncs: readonly ResyncStart[], to: string, now: number): number => {
  const recent = recentResyncs(resyncs, now);
  const last = recent.at(-1);
  if (last === undefined) return 0;
  if (last.to === to && recent.filter((r) => r.to === to).length <= RESYNC_FREE_RESTARTS) return 0;
  const wait = Math.min(RESYNC_BACKOFF_BASE_MS * 2 ** (recent.length - 1), RESYNC_BACKOFF_MAX_MS);
  return Math.max(0, last.at + wait - now);
};

/** The catch-ups started within RESYNC_WINDOW_MS of `now`, oldest first; one ahead of `now` as at `now`. */
const recentResyncs = (resyncs: readonly ResyncStart[], now: number): ResyncStart[] =>
  resyncs.map((r) => ({ to: r.to, at: Math.min(r.at, now) })).filter((r) => now - r.at < RESYNC_WINDOW_MS);

/** Backoff of the retry of records quarantined for a reason that can pass (doubling up to the max). */
const RETRY_BASE_MS = 30_000;
/** First wait before a refused subscribe is asked again on the same connection; doubles up to the max. */
const SUBSCRIBE_RETRY_BASE_MS = 1_000;
const SUBSCRIBE_RETRY_MAX_MS = 30_000;
const RETRY_MAX_MS = 30 * 60_000;

/** Content of a refused version to keep under `slot` (see `saveQuarantine`). */
interface KeptWrite {
  slot: string;
  value: Static<typeof META_SCHEMAS.quarantineKept>;
}

/** A version this device sends over a server version it refused (`forgedOver`), and that version. */
interface Overwrite {
  version: WithDeleted<PlainRecord>;
  master: ServedDoc;
  /** The account that signed `master`. */
  by: string;
}

type PushInput = Array<{
  newDocumentState: WithDeleted<PlainRecord>;
  assumedMasterState?: WithDeleted<PlainRecord>;
}>;
interface PushOptions {
  /** Rows are RxDB's (the push handler's): RxDB resolves the conflicts answered and stores the result. */
  rxdb?: boolean;
  /** Rows are local copies sent again after a restore of the server's store (no assumed state). */
  repush?: boolean;
  /**
   * A row this device holds no write key for goes on the key-wait list (`keyWaits`) and is answered as
   * sent, instead of failing the push: RxDB's rows and the list's own retries.
   */
  park?: boolean;
  /** The floor of the restore being caught up with, when the caller holds it (see `ResetRun`). */
  floor?: Record<string, number>;
  /** Filled with the ids of server versions rows conflicted with that were served before the restore. */
  servedBefore?: Set<string>;
}
/**
 * Catching up with a restore of the server's store (`ready.incarnation` changed). The pull handler fixes
 * `floor` (the per-stream positions this device had seen before the restore: a version at or below them
 * that the server kept from the backup, `servedBefore`, was served before it; persisted, so a run that
 * starts over keeps it), then sends every
 * local document this device may send again (`repush`, before any served version is applied, so none of
 * them is replaced before the server has it), then pulls every readable stream from 0 (`fromZero`). The new
 * incarnation is recorded once that pull caught up and everything local was pushed; until then each
 * `ready` starts a new run.
 */
interface ResetRun {
  to: string;
  floor: Record<string, number> | null;
  floorReady: Promise<void>;
  /** Resolves `floorReady` (when the floor is fixed, or the run is given up). */
  release: () => void;
  /** The floor persisted. */
  saved: Promise<void> | null;
  /** Resolves true when every local document this device may send was sent again. */
  repush: Promise<boolean> | null;
  fromZero: boolean;
  finishing: boolean;
  /**
   * Announced while catch-ups are backed off (`resyncDelay`): only the floor is fixed (and used by pushes,
   * as in a catch-up); nothing is sent again, nothing pulled from 0, nothing recorded.
   */
  deferred: boolean;
}
/** A local copy, the server version stored since a restore it conflicted with, and their merge. */
interface Merge {
  copy: WithDeleted<PlainRecord>;
  master: WithDeleted<PlainRecord>;
  resolved: WithDeleted<PlainRecord>;
}
interface IncarnationMeta {
  recorded?: string;
  reset?: { to: string; floor: Record<string, number> };
  resyncs?: ResyncStart[];
}

/** A push frame the server answered: its rows, the index in RxDB's batch of each, the reply. */
interface SentFrame {
  out: PushRow[];
  byIndex: number[];
  reply: PushedFrame;
}
/** A local version sent later, once its stream's write key came, and the server state it was made on. */
interface KeyWait {
  record: WithDeleted<PlainRecord>;
  base: WithDeleted<PlainRecord> | undefined;
  at: string;
  /** Sent, and met a server version that cannot be verified yet (CONFLICT_WAIT), not a missing write key. */
  conflict?: boolean;
}
/** A local version the server will not take, and the state RxDB's row built it on (see `hold`). */
interface Refusal {
  record: PlainRecord;
  base: PlainRecord | undefined;
  code: string;
  message: string;
}
/** A row the server refused alone as a whole frame (see `sendFrame`). */
interface FrameRefusal {
  i: number;
  doc: PushDoc;
  code: string;
  message: string;
}

/** Which request of RxDB's replication loop failed (see `replicationIssue`, `fromLoop`). */
type LoopDirection = 'push' | 'pull';

const recordKey = (stream: string, id: string): string => `${stream}\u0000${id}`;
/** One served version of a record (quarantine entries are kept by it). */
const versionKey = (stream: string, id: string, rev: string): string =>
  `${recordKey(stream, id)}\u0000${rev}`;
const revNumber = (rev: string): number => parseRevTag(rev)?.n ?? 0;

/**
 * What an error of RxDB's replication loop says to a person. RxDB's own errors (RC_PUSH, RC_PULL, …)
 * carry their parameters in `message` — for a push, the whole batch with every record's decrypted
 * content — so their message is never used: the code and message of the error the handler threw
 * (`parameters.errors[0]`, a SyncError's as plain JSON) are, or else only RxDB's code.
 */
const replicationIssue = (error: unknown): { code: string; message: string; loop?: LoopDirection } => {
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const params = (
    typeof e['parameters'] === 'object' && e['parameters'] !== null ? e['parameters'] : {}
  ) as Record<string, unknown>;
  const causes = params['errors'];
  const direction = params['direction'];
  const cause = Array.isArray(causes) ? (causes[0] as Record<string, unknown> | undefined) : undefined;
  const rxCode = text(e['code']);
  if (cause && typeof cause === 'object') {
    const code = text(cause['code']) ?? rxCode ?? 'REPLICATION';
    // A cause that is itself an RxDB error carries its parameters in its message too.
    const message = cause['rxdb'] === true ? undefined : text(cause['message']);
    // A failed handler call (RC_PUSH, RC_PULL) names its direction; RxDB retries the call until it passes.
    const loop = direction === 'push' || direction === 'pull' ? direction : undefined;
    return {
      code,
      message: message ?? `replication failed (${code}); retrying`,
      ...(loop === undefined ? {} : { loop }),
    };
  }
  if (e['rxdb'] === true) {
    return {
      code: rxCode ?? 'REPLICATION',
      message: `replication failed (${rxCode ?? 'unknown'}); retrying`,
    };
  }
  return { code: rxCode ?? 'REPLICATION', message: error instanceof Error ? error.message : String(error) };
};

export const createSyncEngine = (deps: EngineDeps) => {
  const { connection, keyring, collection } = deps;
  const codecDeps = {
    keyring,
    ed: deps.ed,
    device: deps.device,
    accountId: deps.accountId,
    lookupDeviceKey: deps.lookupDeviceKey,
    offload: deps.offload ?? null,
    model: deps.contentModel ?? BUILD_CONTENT_MODEL,
    ...(deps.writeGrants === undefined ? {} : { writeGrants: deps.writeGrants }),
  };
  const modelVersion = codecDeps.model.version;
  const authorRules = deps.authorRules ?? ((): string => authorRulesId(false));
  const maxQuarantine = deps.maxQuarantine ?? MAX_QUARANTINE;
  const maxDismissed = deps.maxDismissed ?? MAX_DISMISSED;
  const keptEntry = deps.keptContent?.entryBytes ?? MAX_KEPT_VERSION_BYTES;
  const keptTotal = deps.keptContent?.totalBytes ?? MAX_KEPT_BYTES;
  const conflictWait = deps.conflictWaitMs ?? CONFLICT_WAIT_MS;
  const iso = (): string => new Date(deps.now()).toISOString();
  const access = new Map<string, StreamAccess>();
  const subscribed = new Set<string>();
  const known: Record<string, number> = {};
  /**
   * Positions past served batches that handed RxDB nothing to store (all echoes, the settled local copy,
   * stale, clashing or set aside), which RxDB cannot store (it stores a position only with a document):
   * `at` is where the next pull may start, valid once RxDB's stored checkpoint reaches `after` (everything
   * handed to it before them is then stored). Persisted (`pull-floor`); null when there is none.
   */
  let floor: { at: Record<string, number>; after: Record<string, number> } | null = null;
  /**
   * RxDB's stored checkpoint as it stood when a restore's pull from 0 began: positions in the store from
   * before the restore, which RxDB replaces only with a document. While RxDB hands over exactly this, it
   * stands for no position at all (the floor then says where the pull from 0 got to); once RxDB stored
   * another, it is forgotten. Persisted with the floor; null when there is none.
   */
  let voided: Record<string, number> | null = null;
  /**
   * Bumped when a catch-up with a restore starts: live frames received before it come from the store before
   * the restore (or before the catch-up started over) and are dropped; its pull from 0 serves what they held.
   */
  let liveEra = 0;
  let floorWriting: Promise<void> = Promise.resolve();
  const pullStream$ = new Subject<RxReplicationPullStreamItem<PlainRecord, StreamCheckpoint>>();
  /**
   * Streams purged and not pulled again since, as far as RxDB stored (see `restartTokens`): RxDB's stored
   * checkpoint may still hold their old positions (it is not rewritten by a pull that brings nothing), so
   * they start from 0 when readable again, and what RxDB holds for them is ignored while marked.
   */
  const restart = new Set<string>();
  /**
   * Streams of `restart` whose pull from 0 began → a random token put in every checkpoint the pull
   * handler hands RxDB (`r`). RxDB retries a failed call, and starts after a restart, with the checkpoint it
   * stored, which holds the stream's position from before the purge until it stores one of the pull from
   * 0; only a checkpoint handed back with the token proves it did, and ends the mark. Persisted
   * (`pull-restarted`; a token whose stream is not in `purged` means nothing).
   */
  const restartTokens = new Map<string, string>();
  /**
   * Tokens first: a purge drops the stream's token before it marks it, so no crash between the writes
   * leaves a stream marked with an old token, which RxDB's checkpoint from before this purge may carry.
   */
  const saveRestart = async (): Promise<void> => {
    await deps.meta.set('pull-restarted', Object.fromEntries(restartTokens));
    await deps.meta.set('purged', [...restart]);
  };
  /** The incarnation of the server's store recorded, and a reset not finished yet (persisted). */
  let incarnation: IncarnationMeta = {};
  /** A restore of the server's store being caught up with; null when in step (see `ResetRun`). */
  let reset: ResetRun | null = null;
  /** Whether the pull handler was handed RxDB's stored positions yet (they are then in `known`). */
  let checkpointSeen = false;
  /** Live frames and purges, applied strictly in order. */
  let liveQueue: Promise<void> = Promise.resolve();
  // A RESYNC handed to RxDB may never run: its downstream queue drops one that sits right behind a live
  // change in the same batch (both wait while a push is in flight or the downstream is busy; see
  // replication-protocol/downstream.ts, rxdb 17.6). So resyncs wanted are counted, the pull handler
  // records how many its last page covered (a page asks for every stream readable at that moment), and
  // when the replication goes idle with one not covered it is asked for again (see start()).
  let resyncWanted = 0;
  let resyncCovered = 0;
  const askResync = (): void => {
    resyncWanted++;
    drained.clear();
    pullStream$.next('RESYNC');
  };
  const removed$ = new Subject<RemovedStream>();
  let quarantine: Listed[] = [];
  /** recordKey of every quarantined entry: the only per-record cost of quarantine is one lookup here. */
  let quarantinedKeys = new Set<string>();
  /**
   * versionKey → the quarantine entries the person dismissed, oldest first (persisted, at most
   * maxDismissed): such a version is not fetched again, and served again it is judged as it was (one
   * refused BAD_TRANSITION is refused again, see `refusedTransition`) and, refused again, neither listed
   * nor reported QUARANTINED. Dismissing never makes a version pass.
   */
  let dismissed = new Map<string, Dismissal>();
  /** Dismissals run one at a time: each checks and writes the lists as the one before left them. */
  let dismissing: Promise<void> = Promise.resolve();
  /**
   * versionKey → dismissals recorded in the audit log whose write then failed (kept under
   * RECORDED_UNSTORED_KEY too, read at start): not recorded again when dismissed again for the same
   * reason, and stored with the next dismissals written.
   */
  const recordedUnstored = new Map<string, Dismissal>();
  /** Whether RECORDED_UNSTORED_KEY may hold entries (it is emptied after the next dismissals written). */
  let recordedKept = false;
  /**
   * Writes `recordedUnstored` under RECORDED_UNSTORED_KEY; answers whether it was written. A store that
   * refused the dismissals may refuse this too: they are then remembered in memory only.
   */
  /** The newest `maxDismissed` of `all` (insertion order: the oldest go). */
  const newest = (all: ReadonlyMap<string, Dismissal>): Map<string, Dismissal> =>
    new Map([...all].slice(Math.max(0, all.size - maxDismissed)));
  /** `base` with the dismissals recorded and not stored put last, newest `maxDismissed` kept. */
  const withRecorded = (base: ReadonlyMap<string, Dismissal>): Map<string, Dismissal> => {
    const next = new Map(base);
    for (const [key, d] of recordedUnstored) {
      next.delete(key);
      next.set(key, d);
    }
    return newest(next);
  };
  const keepRecorded = async (): Promise<boolean> => {
    try {
      await deps.meta.set(RECORDED_UNSTORED_KEY, [...recordedUnstored.values()]);
      recordedKept = recordedUnstored.size > 0;
      return true;
    } catch {
      return false;
    }
  };
  // id → revision tag of the last version this device pushed (registered before sending, since the live
  // echo can overtake the push reply; dropped again when the server refuses it). The server serves that
  // version back (live echo of the device's own push, or a later pull); its content is what this device
  // holds or held, so it is neither decoded nor applied (a batch of them alone moves the pull floor,
  // `carry`); skipping it also means a replayed old version of our own is never applied.
  const sent = createRecentMap<string, string>(MAX_SENT);
  // id → revision tags (oldest first) of versions this device sent whose answer has not come, written to
  // a slot (UNANSWERED_KEY) as the frame goes out and read at start. The server may hold one of them (it
  // took the push, the answer was lost, the process ended before RxDB sent the batch again, as it does
  // within a session): RxDB then sends the newer local version against the last state the server
  // acknowledged, and the server answers with that own version. It is an ancestor of the local copy, not
  // another's change: the local version is sent on top of it (`pushRows`), as within a session. Only the
  // exact tag counts, so a device store rolled back to an older copy (a backup), whose slots are as old,
  // never writes over a version it lost: that stays a conflict.
  const unanswered = new Map<string, string[]>();
  /** Frames noted so far (the last one read at start included): the next slot is the next number's. */
  let unansweredSeq = 0;
  const remember = (id: string, rev: string): void => {
    const revs = (unanswered.get(id) ?? []).filter((r) => r !== rev);
    revs.push(rev);
    // Re-inserted: the map's order is the order of sends, the oldest dropped first.
    unanswered.delete(id);
    unanswered.set(id, revs.slice(-MAX_UNANSWERED_REVS));
    if (unanswered.size > MAX_UNANSWERED) unanswered.delete(unanswered.keys().next().value!);
  };
  /** Notes the rows of a frame being sent, in the next slot; resolves once the slot is written. */
  const noteUnanswered = (rows: readonly PushRow[]): Promise<void> => {
    for (const { doc } of rows) remember(doc.id, doc.rev);
    const seq = ++unansweredSeq;
    return deps.meta.set(`${UNANSWERED_KEY}${seq % UNANSWERED_SLOTS}`, {
      seq,
      rows: rows.map(({ doc }) => ({ id: doc.id, rev: doc.rev })),
    });
  };
  /**
   * Whether server version `master` (opened as `version`), met by the push of `local`, is a version this
   * device sent and heard no answer for, numbered below `local`: an ancestor of it (see `unanswered`).
   */
  const followsUnanswered = (master: ServedDoc, version: PlainRecord, local: PlainRecord): boolean =>
    master.author === deps.device.deviceId &&
    version.rv < local.rv &&
    (unanswered.get(master.id)?.includes(master.rev) ?? false);
  /**
   * The server answered the version `rev` of `id`: forgets it, and with `older` the versions sent before it
   * (the server holds this one or another's over them). In memory only: the slots keep it (see the header).
   */
  const answeredRev = (id: string, rev: string, older: boolean): void => {
    const revs = unanswered.get(id);
    const at = revs?.indexOf(rev) ?? -1;
    if (revs === undefined || at < 0) return;
    const left = older ? revs.slice(at + 1) : revs.filter((r) => r !== rev);
    if (left.length === 0) unanswered.delete(id);
    else unanswered.set(id, left);
  };
  // id → revision number of the newest local version the server has not acknowledged (the records API
  // passes the number it wrote). An edit made while the push of the version before it is in flight must
  // stay pending when that reply comes, so a reply clears only revisions up to the one it acknowledges.
  // 0: not known (a list persisted before numbers were kept), cleared by any acknowledgement.
  let pending = new Map<string, number>();
  /** Ids pending only because RxDB handed them to the push handler (`pushHandler`): never saved. */
  const handed = new Set<string>();
  /** Highest revision answered for good per id (`settlePending`), for a write noted after its reply. */
  const answered = createRecentMap<string, number>(MAX_SENT);
  /**
   * versionKey of a server version a pushed local change met that could not be verified yet → when this
   * session first met it, on the clock of time connected (`connectedTime`), in memory: a restart waits
   * again. See CONFLICT_WAIT_MS.
   */
  const unopenedSince = createRecentMap<string, number>(MAX_UNSENT);
  /**
   * id → the local version whose push the server answered with a version RxDB's conflict handler takes
   * whole: settled, but RxDB writes the server's version into the local copy only after the push handler
   * returned. Counted as pending (and unsettled) until the record's local document is written again.
   */
  const resolving = new Map<string, WithDeleted<PlainRecord>>();
  const pendingCount = (): number =>
    pending.size + [...resolving.keys()].filter((id) => !pending.has(id)).length;
  /** Ends the wait of `resolving` at the next write of each record's local document. */
  let resolvingWatch: Subscription | undefined;
  const state$ = new BehaviorSubject<SyncState>({
    status: 'offline',
    pendingWrites: 0,
    pendingUploads: 0,
    lastSyncedAt: null,
    initialSync: { done: 0, total: 0 },
    errors: [],
    quarantined: 0,
    unsent: 0,
    streams: 0,
    passphrase: 'unknown',
  });
  const patch = (p: Partial<SyncState>): void => state$.next({ ...state$.value, ...p });
  // The pending list is persisted whole, so writing it for every local write made N writes cost O(N²).
  // Local writes only schedule a save (`noteSoon`: a note lost to a crash is made again when RxDB hands
  // the write to the push handler after the restart); what the server answered is awaited before the
  // push handler returns, or a restart after RxDB took the batch as done would count it pending for ever.
  const pendingSave = coalescedSave(() =>
    deps.meta.set(
      'pending',
      [...pending].filter(([id]) => !handed.has(id)).map(([id, rv]) => ({ id, rv })),
    ),
  );
  const savePending = (): Promise<void> => {
    patch({ pendingWrites: pendingCount() });
    return pendingSave.save();
  };
  /** Persists the pending list once after the current burst of local writes (a macrotask later). */
  const noteSoon = (): void => {
    patch({ pendingWrites: pendingCount() });
    pendingSave.soon();
  };
  // Persisted once per burst, as the pending list: a crash loses at most the last burst's time.
  const syncedSave = coalescedSave(() => deps.meta.set(LAST_SYNCED_KEY, state$.value.lastSyncedAt));
  /** A pull, push or live change completed now (`lastSyncedAt`, with `also` in the same state). */
  const noteSynced = (also: Partial<SyncState> = {}): void => {
    patch({ ...also, lastSyncedAt: iso() });
    syncedSave.soon();
  };
  /**
   * The server answered revision `rv` of `id` for good (acknowledged it, or it will never be sent: refused
   * into unsent, or its stream is not readable any more): what is pending up to that revision is done.
   * Answers whether the pending list changed (the caller persists it).
   */
  const settlePending = (id: string, rv: number): boolean => {
    answered.set(id, Math.max(answered.get(id) ?? 0, rv));
    const want = pending.get(id);
    if (want === undefined || want > rv) return false;
    pending.delete(id);
    handed.delete(id);
    return true;
  };
  /** Issues in the state that came from unasked `error` frames (see MAX_SERVER_ISSUES). */
  const fromServer = new WeakSet<SyncIssue>();
  /**
   * Issues of RxDB's replication loop (its `error$`), by the direction that failed: RxDB retries that
   * request until it passes, and once one of that direction passes (`loopPassed`) the failure has ended,
   * so its issue goes. A person is not told "connection lost" by a device that is caught up.
   */
  const fromLoop = new WeakMap<SyncIssue, LoopDirection>();
  const report = (
    raw: Omit<SyncIssue, 'at'>,
    { server = false, loop }: { server?: boolean; loop?: LoopDirection } = {},
  ): void => {
    // Issues are written for a person and kept in the state: never a record's worth of text.
    const issue =
      raw.message.length > MAX_ISSUE_MESSAGE
        ? { ...raw, message: `${raw.message.slice(0, MAX_ISSUE_MESSAGE - 1)}…` }
        : raw;
    // A retry that fails again replaces its earlier entry, so retries cannot push other issues out.
    const same = (e: SyncIssue): boolean =>
      e.code === issue.code && e.stream === issue.stream && e.id === issue.id && e.message === issue.message;
    const added: SyncIssue = { ...issue, at: iso() };
    if (server) fromServer.add(added);
    if (loop !== undefined) fromLoop.set(added, loop);
    let errors = [...state$.value.errors.filter((e) => !same(e)), added];
    const served = errors.filter((e) => fromServer.has(e));
    if (served.length > MAX_SERVER_ISSUES) {
      const dropped = new Set(served.slice(0, served.length - MAX_SERVER_ISSUES));
      errors = errors.filter((e) => !dropped.has(e));
    }
    patch({ errors: errors.slice(-MAX_ERRORS) });
  };
  /** Drops the kept issues `ended` picks (their condition ended); the state is left as is if none. */
  const dropIssues = (ended: (e: SyncIssue) => boolean): void => {
    // Runs for every record a push stored: nothing to copy when nothing is listed.
    if (state$.value.errors.length === 0) return;
    const errors = state$.value.errors.filter((e) => !ended(e));
    if (errors.length !== state$.value.errors.length) patch({ errors });
  };
  /**
   * Drops the kept issues about record or item `id` of `stream` (absent: of none), of `code` (absent: of
   * any), whatever their message: a reporter whose condition ended (a removal that failed, then passed)
   * clears its own issue; the rest stay.
   */
  const clearIssues = (match: { code?: string; stream?: string; id: string }): void =>
    dropIssues(
      (e) =>
        (match.code === undefined || e.code === match.code) && e.id === match.id && e.stream === match.stream,
    );
  /**
   * The retried work behind `code` passed (a subscription, the quarantine's retry, a restore's catch-up):
   * its earlier failures' issues have ended, whatever their message. Only for codes one retried task
   * reports, never per record.
   */
  const retryPassed = (
    code: 'SUBSCRIBE_FAILED' | 'QUARANTINE_RETRY_FAILED' | 'RESTORE_RESYNC_FAILED',
  ): void => dropIssues((e) => e.code === code);
  /**
   * A new connection is ready: what the server said unasked to come back later (a retryable `backoff`
   * code: UNAVAILABLE as it shut down, RATE_LIMITED, TOO_MANY_CONNECTIONS, INTERNAL) was about the
   * connection that ended, and no longer holds.
   */
  const reconnected = (): void =>
    dropIssues((e) => fromServer.has(e) && isErrorCode(e.code) && errorInfo(e.code).action === 'backoff');
  /** A request of `direction` passed: the loop's issues of that direction have ended (see `fromLoop`). */
  const loopPassed = (direction: LoopDirection): void => dropIssues((e) => fromLoop.get(e) === direction);

  let initialTotal = 0;
  /** Documents of the catch-up received this session (pull pages). */
  let initialDone = 0;
  /**
   * Progress shows what RxDB may already have stored: the latest page of a pass is held back until the
   * pass is stored (`passStored`), so done reaches total only when every record of the catch-up can be
   * queried. RxDB stores pages in order while it fetches the next, so earlier pages lag by about one.
   */
  let heldBack = 0;
  let storedDone = 0;
  const showProgress = (): void => {
    const was = state$.value.initialSync.done;
    const done = Math.min(initialTotal, Math.max(was, storedDone, initialDone - heldBack));
    if (done !== was || initialTotal !== state$.value.initialSync.total)
      patch({ initialSync: { done, total: initialTotal } });
  };
  /** Stream heads of the latest listing (audit streams aside): what the catch-up is counted from. */
  let listedHeads: ReadonlyArray<{ stream: string; head: number }> = [];
  /**
   * A listing not counted yet: it came before RxDB handed the pull handler its stored positions (at start,
   * `known` holds none of them), so the count waits for the handler, which has them.
   */
  let countDue = false;
  /**
   * Per stream, the positions the latest count put in the total: one served document each past `at` up to
   * `head` (`at` moves with each one counted). A pass may serve others: documents written after the
   * listing, served again below where the count began (a retried call), of a stream granted meanwhile.
   * Each of those is added to the total as it is to done, so done stays below the total while a pass
   * still pulls, and never passes it. Emptied when a pass ends: what later passes serve (live resyncs, a
   * grant's history) is no part of the catch-up, and is not counted until the next listing.
   */
  const counted = new Map<string, { at: number; head: number }>();
  /** Counts what the latest listing leaves to pull from the positions this device holds (`known`). */
  const countLeft = (): void => {
    countDue = false;
    counted.clear();
    let left = 0;
    for (const { stream, head } of listedHeads) {
      const at = known[stream] ?? 0;
      counted.set(stream, { at, head });
      left += Math.max(0, head - at);
    }
    // Progress only moves forward within a session: a listing mid-sync (a reconnect, the push's
    // STALE_EPOCH retry) adds what is left to what was done instead of counting from 0 again, and the
    // total grows with streams or documents added, never shrinks.
    initialTotal = Math.max(initialTotal, initialDone + left);
    showProgress();
  };
  /** A pull page served `docs`: each counts in done, and in the total too where the count left it out. */
  const countServed = (docs: ReadonlyArray<{ stream: string; seq: number }>): void => {
    if (counted.size === 0 || docs.length === 0) return;
    for (const d of docs) {
      const c = counted.get(d.stream);
      if (c !== undefined && d.seq > c.at && d.seq <= c.head) c.at = d.seq;
      else initialTotal++;
    }
    initialDone += docs.length;
    heldBack = docs.length;
  };

  // When access to a stream ends, parsed once per access entry: `readable` runs for every applied record.
  // That is the end of reading: a read grant can outlast the write grant the server describes the stream
  // by (`readExpiresAt`), and the stream is purged only when reading ends.
  const ends = new WeakMap<StreamAccess, number>();
  const endOf = (a: StreamAccess): number => {
    let end = ends.get(a);
    if (end === undefined) {
      const at = a.readExpiresAt ?? a.expiresAt;
      end = at === undefined ? Infinity : Date.parse(at);
      ends.set(a, end);
    }
    return end;
  };
  /** When the grant describing the entry ends: writing, under a write grant a read grant outlasts. */
  const writeEndOf = (a: StreamAccess): number =>
    a.expiresAt === undefined ? Infinity : Date.parse(a.expiresAt);

  /**
   * Streams whose access ended and whose purge has not completed: persisted with the access list, so a
   * session that ends first (closed, killed, or a purge that failed) purges them at the next open.
   */
  const ending = new Map<string, RemovedStream>();
  /** Why access to a stream ended in this session, until it is listed again: names a refused write. */
  const endedBecause = new Map<string, RemovedStream['reason']>();
  // The list is persisted whole, folded like the pending list.
  const accessSave = coalescedSave(() =>
    deps.meta.set('access', { streams: [...access.values()], ended: [...ending.values()] }),
  );
  const saveAccess = accessSave.save;
  const noteAccess = (): void => {
    patch({ streams: access.size });
    void saveAccess().catch(() => undefined);
  };

  /** A stream of this device's own account (see `ownAccess`). */
  const isOwn = (stream: string): boolean => {
    const parsed = parseStreamId(stream);
    return parsed.ok && parsed.value.patientId === deps.accountId;
  };
  /**
   * A claim of the server's about a stream of this account that can never be true (its access ended,
   * narrowed or with an end): reported, and nothing changed. The account owns its streams whatever the
   * server says; taken, such a claim would delete the patient's records, unsent edits included.
   */
  const refuseOwnClaim = (stream: string | undefined, claim: string): void =>
    report(
      {
        code: 'OWN_ACCESS_REFUSED',
        message:
          `the server said ${claim} of ${stream ?? "this account's own streams"}, a stream of this ` +
          'account: that is never so, and nothing was changed or removed on this device. If it keeps ' +
          "saying so, tell the server's operator: it is broken or not to be trusted",
        ...(stream === undefined ? {} : { stream }),
      },
      // The server's claim, however many it makes: capped as its unasked errors are.
      { server: true },
    );
  /** `s` as taken: an own stream is always owned, with no end (a claim otherwise is refused). */
  const ownAccess = (s: StreamAccess): StreamAccess => {
    if (!isOwn(s.stream)) return s;
    const { grantId, expiresAt, readExpiresAt, ...owned } = s;
    if (
      s.access === 'owner' &&
      grantId === undefined &&
      expiresAt === undefined &&
      readExpiresAt === undefined
    )
      return s;
    refuseOwnClaim(s.stream, `access ${s.access}${expiresAt === undefined ? '' : ' with an end'}`);
    return { ...owned, access: 'owner' };
  };

  const updateAccess = (streams: StreamAccess[]): void => {
    for (const listed of streams) {
      const s = ownAccess(listed);
      access.set(s.stream, s);
      endedBecause.delete(s.stream);
      keyring.noteServerEpoch(s.stream, s.epoch);
    }
    noteAccess();
    armExpiry();
  };

  // Ends expired grants at their instant even with no connection (the server tells only connected
  // devices). Armed for the soonest end whenever access changes, at start and after each end it enforced
  // (several grants may end while offline); capped so a far end does not overflow the timer.
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  const armExpiry = (): void => {
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    expiryTimer = undefined;
    // A loop, not Math.min(...): a provider at the bounds holds more streams than an engine takes arguments.
    let next = Infinity;
    for (const a of access.values()) next = Math.min(next, endOf(a));
    if (next === Infinity || stopped) return;
    const delay = Math.min(Math.max(next - deps.now(), 0) + 5, 2 ** 31 - 1);
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined;
      const t = deps.now();
      const expired = [...access.values()].filter((a) => endOf(a) <= t);
      // endAccess takes them out of `access` at once, so the timer is armed for the end after them.
      if (expired.length > 0) void endAccess(expired.map((a) => ({ stream: a.stream, reason: 'expired' })));
      armExpiry();
    }, delay);
    (expiryTimer as { unref?: () => void }).unref?.();
  };
  let stopped = false;

  // The push and pull handlers wait here while there is no connection (dropped, or stopped by the user),
  // so no request fails at once and nothing is sealed again every second. RxDB's own pause() is not used:
  // a push batch that returns while paused is neither stored nor checkpointed, and a later batch that
  // succeeds stores the upstream checkpoint past it, so its writes are never pushed (a server killed
  // mid-push lost hundreds that way).
  let linkUp = false;
  /** Counts status changes of the connection: what waits across them (`passStored`) sees one. */
  let linkChanges = 0;
  /**
   * Time this session spent connected (`linkUp`), on `deps.now()`: the clock the wait of a local change
   * for a server version that cannot be verified yet runs on (`unopenedSince`, CONFLICT_WAIT_MS). Offline
   * the device can fetch no key and ask for no device list, so that time does not count.
   */
  let connectedBefore = 0;
  let connectedSince: number | null = null;
  const connectedTime = (): number =>
    connectedBefore + (connectedSince === null ? 0 : Math.max(0, deps.now() - connectedSince));
  let linkWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const untilConnected = (): Promise<void> => {
    if (stopped) return Promise.reject(new SyncError('STOPPED', 'sync stopped', false));
    if (linkUp) return Promise.resolve();
    return new Promise((resolve, reject) => linkWaiters.push({ resolve, reject }));
  };
  // The error that made the connection fatal (the server refused this device), until it connects again:
  // the handlers keep waiting for a link (as offline), but `awaitInSync` callers are told, not left hanging.
  let fatal: SyncError | undefined;
  /** `awaitInSync` callers, rejected when the connection goes fatal or sync stops. */
  const fatalWaiters = new Set<(error: SyncError) => void>();
  const stoppedInSync = (): SyncError =>
    new SyncError('STOPPED', 'sync stopped: unsent changes go with the next session', false);
  const releaseLinkWaiters = (error?: Error): void => {
    const waiters = linkWaiters;
    linkWaiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  };

  // Set at each connection until the server's list was read: access may have changed while away.
  let streamsStale = true;
  const streamList =
    deps.streamList ??
    createStreamList({
      request: (frame) => connection.request<StreamsFrame>(frame),
      version: () => connection.version(),
    });
  const refreshStreams = async (): Promise<void> => {
    // Every page: a stream missing from the list is taken as access ended, and purged.
    const streams = await streamList.list();
    streamsStale = false;
    drained.clear();
    // A stream this device followed or holds records of that the server no longer lists: access ended
    // while the device was not connected (no accessChanged frame reached it).
    const listed = new Set<string>(streams.map((s) => s.stream));
    const ended: RemovedStream[] = [];
    for (const stream of new Set([...access.keys(), ...Object.keys(known)])) {
      // One whose purge is owed already is not ended again (listings at connect run side by side).
      if (listed.has(stream) || stream.endsWith('/audit') || ending.has(stream)) continue;
      const was = access.get(stream);
      const expired = was !== undefined && endOf(was) <= deps.now();
      ended.push({ stream, reason: expired ? 'expired' : 'revoked' });
    }
    // An own stream the list leaves out stays as it was (endAccess refuses to end it). A server lists
    // every own stream of an account (sync-service `ownStreams`): a list with none is told, once per
    // listing, even on a device that knew none yet (a first connection), which else waits in silence.
    if (![...listed].some(isOwn)) refuseOwnClaim(undefined, 'nothing (its stream list holds none)');
    const ownUnlisted = [...access.values()].filter((a) => isOwn(a.stream) && !listed.has(a.stream));
    access.clear();
    for (const a of ownUnlisted) access.set(a.stream, a);
    updateAccess(streams);
    if (ended.length > 0) void endAsServerSays(ended);
    listedHeads = streams
      .filter((s) => !s.stream.endsWith('/audit'))
      .map((s) => ({ stream: s.stream, head: s.head }));
    // Before the pull handler was handed RxDB's stored positions (at start, the connection's listing may
    // come first), `known` lacks them: counted now, the total would be the whole store.
    if (checkpointSeen) countLeft();
    else countDue = true;
  };

  // A grant's end is enforced on this device's clock too, so it holds while the device is offline.
  const current = (a: StreamAccess | undefined): a is StreamAccess =>
    a !== undefined && endOf(a) > deps.now();
  const readable = (stream: string): boolean => current(access.get(stream)) && !stream.endsWith('/audit');
  /** Access to `stream` is listed with an end that passed: the timer is about to end it. */
  const endPassed = (stream: string): boolean => {
    const a = access.get(stream);
    return a !== undefined && !current(a);
  };
  const writable = (stream: string): boolean => {
    const a = access.get(stream);
    return current(a) && (a.access === 'owner' || (a.access === 'write' && writeEndOf(a) > deps.now()));
  };
  /** Why `stream` is not writable now, or null when it is (see NotWritableReason). */
  const whyNotWritable = (stream: string): NotWritableReason | null => {
    if (writable(stream)) return null;
    const a = access.get(stream);
    // Readable still is read-only, also past a write grant's end a read grant outlasts: the server then
    // lists it so, and the reason must not depend on whether the device was online at that end.
    if (a !== undefined) return current(a) ? 'read-only' : 'expired';
    const ended = ending.get(stream)?.reason ?? endedBecause.get(stream);
    if (ended === undefined) return 'no-consent';
    return ended === 'expired' ? 'expired' : 'revoked';
  };
  /**
   * The entry as it holds at `t`: once the write grant describing it ended, reading under the grant that
   * outlasts it, until `readExpiresAt` (which grant that is, the server says at the next connection).
   */
  const asOf = (a: StreamAccess, t: number): StreamAccess => {
    if (a.readExpiresAt === undefined || writeEndOf(a) > t) return a;
    const { readExpiresAt, grantId: _grantId, ...rest } = a;
    return { ...rest, access: 'read', expiresAt: readExpiresAt };
  };

  /** A refusal other rules may turn into a pass: by the record rules (content) or the author rules. */
  const ruled = (reason: QuarantineReason): boolean =>
    CONTENT_QUARANTINE.has(reason) || AUTHOR_QUARANTINE.has(reason);
  /** An entry whose record may still be shown: one that can pass, or one other rules may take. */
  const renewable = (reason: QuarantineReason): boolean => RETRYABLE_QUARANTINE.has(reason) || ruled(reason);
  /** What a record refused for `reason` under this session's rules waits for: other rules of that kind. */
  const waitsFor = (reason: QuarantineReason): Waits =>
    CONTENT_QUARANTINE.has(reason) ? { model: modelVersion } : { authorRules: authorRules() };
  /**
   * Whether the retry fetches an entry's record again: its reason can pass, or it was refused under other
   * rules than this session's for its reason (record rules for content, author rules for an author; an
   * entry kept before they were recorded counts as refused under unknown ones). One refused under this
   * session's rules waits for others.
   */
  const due = (q: Waits & { reason: QuarantineReason }): boolean =>
    RETRYABLE_QUARANTINE.has(q.reason) ||
    (CONTENT_QUARANTINE.has(q.reason) && q.model !== modelVersion) ||
    (AUTHOR_QUARANTINE.has(q.reason) && q.authorRules !== authorRules());
  /** A gap is fetched again unless everything in it waits for rules this session still judges by. */
  const gapDue = (g: Waits): boolean =>
    (g.model === undefined && g.authorRules === undefined) ||
    (g.model !== undefined && g.model !== modelVersion) ||
    (g.authorRules !== undefined && g.authorRules !== authorRules());
  /**
   * What a gap waits for once a record that failed for `reason` joins it (`was`: what it waited for; {}
   * for a new one): null, fetched again at any retry, if it did not wait or the record may pass (`passes`).
   */
  const joinWaits = (was: Waits | null, reason: QuarantineReason, passes: boolean): Waits | null =>
    was === null || passes ? null : { ...was, ...waitsFor(reason) };

  /**
   * Per stream, the seq range of entries dropped beyond the cap whose record may still be shown: the
   * retry fetches it again as it would have fetched them (one range per stream, so memory stays bounded).
   */
  const gaps = new Map<string, QuarantineGap>();
  const saveGaps = (): Promise<void> => deps.meta.set('quarantine-gaps', [...gaps.values()]);
  const widenGaps = (dropped: readonly QuarantinedItem[]): boolean => {
    let widened = false;
    for (const q of dropped) {
      if (!renewable(q.reason)) continue;
      const was = gaps.get(q.stream);
      // Waits for other rules only if everything in it was refused under this session's rules.
      const waits = joinWaits(was === undefined ? {} : gapDue(was) ? null : was, q.reason, due(q));
      gaps.set(q.stream, {
        ...waits,
        stream: q.stream,
        from: Math.min(was?.from ?? q.seq, q.seq),
        to: Math.max(was?.to ?? q.seq, q.seq),
      });
      widened = true;
    }
    return widened;
  };

  /** Entries of the list whose content is kept (with a slot); 0 in the common case, which then costs nothing. */
  let keptSlots = 0;
  const slotsOf = (list: readonly Listed[]): Set<string> => {
    const out = new Set<string>();
    for (const q of list) if (q.slot !== undefined) out.add(q.slot);
    return out;
  };
  /** Writes and removals of kept content, one at a time in order (never rejecting: each caller awaits its own). */
  let keptWork: Promise<void> = Promise.resolve();
  const keptJob = (job: () => Promise<void>): Promise<void> => {
    const run = keptWork.then(job);
    keptWork = run.catch(() => undefined);
    return run;
  };
  /** Removes kept content; a store that cannot remove keys has each overwritten with nothing. */
  const forgetKept = async (slots: readonly string[]): Promise<void> => {
    const keys = slots.map(keptKey);
    try {
      await deps.meta.remove(keys);
    } catch {
      for (const key of keys) await deps.meta.set(key, null);
    }
  };
  /** An entry whose content is not kept (any more), and why. */
  const withoutContent = (q: Listed, why: KeptContentLoss, at: string): Listed => {
    const { slot: _slot, ...rest } = q;
    return { ...rest, content: { kept: false, why, at } };
  };
  /**
   * `list` with content kept within keptTotal bytes: beyond it, the content of the oldest entries not
   * marked `overwritten` goes first, then that of the oldest marked ones (the only trace of a version the
   * server no longer holds); each such entry says so (`budget`). Reported once per list.
   */
  const withinBudget = (list: Listed[]): Listed[] => {
    let total = 0;
    for (const q of list) if (q.slot !== undefined && q.content?.kept === true) total += q.content.bytes;
    if (total <= keptTotal) return list;
    const drop = new Set<Listed>();
    for (const overwritten of [false, true]) {
      for (const q of list) {
        if (total <= keptTotal) break;
        if (q.slot === undefined || q.content?.kept !== true || (q.overwritten !== undefined) !== overwritten)
          continue;
        drop.add(q);
        total -= q.content.bytes;
      }
    }
    const at = iso();
    report({
      code: 'QUARANTINE_CONTENT_DROPPED',
      message: `The content of ${drop.size} refused version(s) set aside was dropped: more than ${keptTotal} bytes were kept; their quarantine entries stay`,
    });
    return list.map((q) => (drop.has(q) ? withoutContent(q, 'budget', at) : q));
  };

  /**
   * `announce` runs as the list changes in memory, before it is written: what `quarantine()` lists and the
   * errors that report it appear together. `contents`: content of entries of `listed` to keep (written
   * before the list, if those entries are still listed after the cap and the budget).
   */
  const saveQuarantine = async (
    listed: Listed[],
    announce?: () => void,
    contents: readonly KeptWrite[] = [],
  ): Promise<void> => {
    // A list computed before a dismissal finished saving (a page set aside meanwhile) does not bring back
    // what it dismissed (for the reason dismissed; see `setAside`).
    const next =
      dismissed.size === 0
        ? listed
        : listed.filter((q) => dismissed.get(versionKey(q.stream, q.id, q.rev))?.reason !== q.reason);
    let kept = next;
    const over = next.length - maxQuarantine;
    if (over > 0) {
      // Entries nothing will fetch again go first, oldest first: they only report. An entry whose record
      // may still be shown leaves its seq in its stream's gap, so dropping it does not hide the record.
      const drop = new Set<Listed>();
      for (const q of next) if (drop.size < over && !renewable(q.reason)) drop.add(q);
      for (const q of next) if (drop.size < over && renewable(q.reason)) drop.add(q);
      kept = next.filter((q) => !drop.has(q));
      const gapped = widenGaps([...drop]);
      report({
        code: 'QUARANTINE_DROPPED',
        message: `${drop.size} quarantine entr${drop.size === 1 ? 'y was' : 'ies were'} dropped: more than ${maxQuarantine} were kept${gapped ? '; records that may still be shown are fetched again all the same' : ''}`,
      });
      if (gapped) await saveGaps();
    }
    // Kept content is looked at only while some is kept or comes now: a list without any costs nothing more.
    const withContent = keptSlots > 0 || contents.length > 0;
    const before = withContent ? slotsOf(quarantine) : null;
    if (withContent) {
      // No content of a stream this device may no longer read: its purge took `access` first, and checks
      // the list for content only after that, so content kept here now would outlive it. Checked in the
      // same synchronous step as the list is replaced, so the purge sees either this or the list.
      const at = iso();
      kept = withinBudget(
        kept.map((q) => (q.slot !== undefined && !readable(q.stream) ? withoutContent(q, 'purged', at) : q)),
      );
    }
    const listedBefore = quarantinedKeys;
    quarantine = kept;
    quarantinedKeys = new Set(quarantine.map((q) => recordKey(q.stream, q.id)));
    patch({ quarantined: quarantine.length });
    // A record that leaves the list now (answered, retried and taken, dismissed, purged) is no longer set
    // aside: its warning ends with it. One dropped for the cap is still not applied: its warning stays.
    if (state$.value.errors.some((e) => e.code === 'QUARANTINED')) {
      const listedNow = over > 0 ? new Set(next.map((q) => recordKey(q.stream, q.id))) : quarantinedKeys;
      dropIssues((e) => {
        if (e.code !== 'QUARANTINED' || e.id === undefined || e.stream === undefined) return false;
        const key = recordKey(e.stream, e.id);
        return listedBefore.has(key) && !listedNow.has(key);
      });
    }
    announce?.();
    // Every list write goes through the one queue of kept-content work, in the order the lists replaced
    // each other above: a list saved later is never overwritten by one computed before it that waited.
    const writeList = (): Promise<void> => keptJob(() => deps.meta.set('quarantine', kept));
    if (before === null) {
      await writeList();
      return;
    }
    const now = slotsOf(kept);
    keptSlots = now.size;
    // Content is written before the list that names it, and removed after the list that no longer does: a
    // crash in between leaves a key no entry names, removed at the next start (`start`).
    const fresh = contents.filter((c) => now.has(c.slot));
    const written =
      fresh.length > 0
        ? keptJob(async () => {
            await Promise.all(fresh.map((c) => deps.meta.set(keptKey(c.slot), c.value)));
          })
        : null;
    written?.catch(() => undefined);
    // After every content write queued so far, this list's and those of lists saved before it.
    await writeList();
    // Listed all the same: content that could not be written is answered as not kept when read.
    if (written !== null) await written;
    const listedNow = slotsOf(quarantine);
    const gone = [...before].filter((slot) => !now.has(slot) && !listedNow.has(slot));
    if (gone.length > 0) await keptJob(() => forgetKept(gone));
  };

  /**
   * Sets aside a batch of served documents with one persisted write. An entry already there for the same
   * revision and reason under this session's rules (record and author rules) stays as it is (a retry that
   * fails again is not reported again); under other rules it is replaced quietly, now judged under these.
   * One for the same revision with another reason, or one of an older revision (never served again) whose
   * record may still be shown, is replaced.
   */
  const setAside = async (items: readonly Refused[]): Promise<void> => {
    if (items.length === 0) return;
    const rules = authorRules();
    const byKey = new Map(items.map((i) => [recordKey(i.doc.stream, i.doc.id), i]));
    const unchanged = new Set<string>();
    /** recordKey → the entry of entries judged again with the same outcome (when first set aside, mark). */
    const again = new Map<string, Listed>();
    const kept = quarantine.filter((q) => {
      const key = recordKey(q.stream, q.id);
      const item = byKey.get(key);
      if (!item) return true;
      if (q.rev === item.doc.rev && q.reason === item.reason) {
        if (q.model === modelVersion && q.authorRules === rules) {
          unchanged.add(key);
          return true;
        }
        again.set(key, q);
        return false;
      }
      return q.rev !== item.doc.rev && !(renewable(q.reason) && q.seq <= item.doc.seq);
    });
    // A version the person dismissed is refused as before, but neither listed nor reported again when it is
    // refused for the reason they saw. Refused for another (a NO_KEY one now opens and proves TAMPERED), it
    // is listed and reported: dismissing what could not be checked yet hides no later finding. It still
    // answers the older entries of its record above, as any newer version set aside does.
    const silenced = (doc: ServedDoc, reason: QuarantineReason): boolean =>
      dismissed.get(versionKey(doc.stream, doc.id, doc.rev))?.reason === reason;
    const added = [...byKey].filter(
      ([key, { doc, reason }]) => !unchanged.has(key) && !silenced(doc, reason),
    );
    if (added.length === 0 && kept.length === quarantine.length) return;
    const contents: KeptWrite[] = [];
    await saveQuarantine(
      [
        ...kept,
        ...added.map(([key, item]): Listed => {
          const { doc, reason, message } = item;
          const before = again.get(key);
          return {
            stream: doc.stream,
            id: doc.id,
            seq: doc.seq,
            rev: doc.rev,
            reason,
            message,
            at: before?.at ?? iso(),
            model: modelVersion,
            authorRules: rules,
            ...(before?.overwritten ? { overwritten: before.overwritten } : {}),
            ...(before?.content
              ? { content: before.content, ...(before.slot === undefined ? {} : { slot: before.slot }) }
              : keep(item, contents)),
          };
        }),
      ],
      () => {
        for (const [key, { doc, reason, message }] of added) {
          if (again.has(key)) continue;
          report({
            code: 'QUARANTINED',
            message:
              reason === 'NO_WRITE_GRANT'
                ? // The codec's message says which: no grant known that covers it, or grants not readable.
                  `A record written by another account was set aside, not shown: this device found no write access you granted that covers it (${reason}): ${message}`
                : RETRYABLE_QUARANTINE.has(reason)
                  ? `A record could not be verified yet (${reason}) and was set aside; will retry: ${message}`
                  : CONTENT_QUARANTINE.has(reason)
                    ? `A record could not be read by this version of the app (${reason}) and was set aside; it is read again after an update: ${message}`
                    : `A record could not be verified (${reason}) and was set aside, not applied: ${message}`,
            stream: doc.stream,
            id: doc.id,
          });
        }
      },
      contents,
    );
    if (added.some(([, i]) => RETRYABLE_QUARANTINE.has(i.reason))) armRetry(true);
  };
  /**
   * What a new entry for `item` says of its content: kept (queued on `contents` under a new slot) for a
   * version refused BAD_TRANSITION, whose record opened and verified, unless larger than keptEntry bytes;
   * nothing for other reasons (a version that did not open or verify is not known to be anyone's).
   */
  const keep = (item: Refused, contents: KeptWrite[]): Pick<Listed, 'content' | 'slot'> => {
    const { doc, reason, record } = item;
    if (reason !== 'BAD_TRANSITION' || record === undefined) return {};
    const value: KeptWrite['value'] = {
      stream: doc.stream,
      id: doc.id,
      rev: doc.rev,
      author: { accountId: record.by, deviceId: record.author },
      record: {
        kind: record.kind,
        rv: record.rv,
        deleted: record._deleted,
        updatedAt: record.updatedAt,
        data: record.data,
        conflict: record.conflict,
        conflictData: record.conflictData,
      },
    };
    const bytes = utf8Encode(JSON.stringify(value)).length;
    if (bytes > keptEntry) return { content: { kept: false, why: 'too-large', at: iso() } };
    const slot = base64urlEncode(randomBytes(16));
    contents.push({ slot, value });
    return { content: { kept: true, bytes }, slot };
  };

  /**
   * The content kept for listed version `q` in `slot` (read from device meta, after pending writes), or null when the value does not open at rest
   * (damaged on disk: content not kept, as documented) or is another version's. Other read errors reject.
   */
  const keptContentOf = async (
    q: QuarantineKey,
    slot: string,
  ): Promise<Static<typeof META_SCHEMAS.quarantineKept> | null> => {
    // An entry is listed as soon as it is set aside, before its content is written (`saveQuarantine`):
    // read after the kept-content work queued so far, or a version asked about at once reads as not kept.
    // Never called from inside that queue (it would wait for itself).
    await keptWork;
    let kept: Static<typeof META_SCHEMAS.quarantineKept> | null;
    try {
      kept = await deps.meta.get(keptKey(slot), META_SCHEMAS.quarantineKept);
    } catch (e) {
      if (!isAtRestError(e)) throw e;
      return null;
    }
    return kept !== null && kept.stream === q.stream && kept.id === q.id && kept.rev === q.rev ? kept : null;
  };

  /**
   * The account whose signature over a listed version this device verified, where it knows it: the
   * signer of one the server took this device's change over, else the author kept with its content (a
   * version refused BAD_TRANSITION). Only names it in the audit entry: a read that fails names none.
   */
  const verifiedAuthorOf = async (q: Listed): Promise<string | undefined> => {
    if (q.reason !== 'BAD_TRANSITION') return undefined;
    if (q.overwritten !== undefined) return q.overwritten.by;
    if (q.slot === undefined) return undefined;
    return (await keptContentOf(q, q.slot).catch(() => null))?.author.accountId;
  };

  /**
   * Dismisses listed entries (`dismissQuarantined`): recorded in the audit log first (`auditDismissal`),
   * then the dismissals are written, then the list without them; after a crash in between, start() drops
   * from the list what was dismissed. Nothing changes and nothing is recorded when one is not listed;
   * nothing changes when the dismissal cannot be recorded or the dismissals cannot be written (after
   * retries); a version recorded is not recorded again (`recordedUnstored`).
   */
  const dismiss = (entries: readonly QuarantineKey[]): Promise<void> => {
    const run = dismissing.then(async () => {
      const listed = new Map(quarantine.map((q) => [versionKey(q.stream, q.id, q.rev), q]));
      // Recorded before and not stored: stored now with this call's (the log already says so).
      const next = withRecorded(dismissed);
      /** This call's entries, each once (named twice, it is one dismissal). */
      const named = new Map<string, Listed>();
      /** Those of them not recorded yet for their reason. */
      const toRecord: Listed[] = [];
      const at = iso();
      for (const e of entries) {
        const key = versionKey(e.stream, e.id, e.rev);
        const q = listed.get(key);
        if (q === undefined) {
          throw new SyncError(
            'NOT_QUARANTINED',
            `no quarantine entry for revision ${e.rev} of ${e.stream} record ${e.id}; nothing was dismissed`,
            false,
          );
        }
        if (named.has(key)) continue;
        named.set(key, q);
        const recorded = recordedUnstored.get(key);
        if (recorded?.reason === q.reason) continue;
        toRecord.push(q);
        next.delete(key);
        next.set(key, { stream: q.stream, id: q.id, rev: q.rev, reason: q.reason, at });
      }
      if (entries.length === 0) return;
      // Before anything is written: a dismissal that cannot be recorded does not happen (see the header).
      if (deps.auditDismissal !== undefined && toRecord.length > 0) {
        const versions = [];
        for (const q of toRecord) {
          const author = await verifiedAuthorOf(q);
          versions.push({
            stream: q.stream,
            id: q.id,
            rev: q.rev,
            reason: q.reason,
            ...(author === undefined ? {} : { author }),
          });
        }
        await deps.auditDismissal(dismissalAuditEntries(versions, deps.accountId));
      }
      for (const q of toRecord) {
        const key = versionKey(q.stream, q.id, q.rev);
        recordedUnstored.set(key, next.get(key)!);
      }
      const kept = newest(next);
      // Recorded: the write is tried again before the call gives up (see the header). What the log holds
      // and the store does not is kept at the first failure, so neither a restart during the retries nor
      // one after the call gave up records it again.
      let keptRecorded = false;
      for (let attempt = 0; ; attempt++) {
        try {
          await deps.meta.set('quarantine-dismissed', [...kept.values()]);
          break;
        } catch (error) {
          if (!keptRecorded) keptRecorded = await keepRecorded();
          const wait = DISMISSAL_WRITE_RETRIES_MS[attempt];
          if (wait === undefined) throw error;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
      recordedUnstored.clear();
      // Stored now: the key is emptied. Left over (that write failed too), it names only dismissals stored,
      // which start skips.
      if (recordedKept) await keepRecorded();
      dismissed = kept;
      await saveQuarantine(quarantine);
      // What it dismissed is not fetched again; with nothing else due, the retry's timer stops too.
      if (!(quarantine.some(due) || [...gaps.values()].some(gapDue))) armRetry();
    });
    dismissing = run.catch(() => undefined);
    return run;
  };

  /**
   * The server took this device's versions sent over server versions it refused (`forgedOver`): their
   * entries are marked (kept from then on, the only trace of those versions here, with their content where
   * it is kept) and each overwrite is reported once, naming the version and its signer, nothing of its
   * content.
   */
  const noteOverwritten = async (items: readonly Overwrite[]): Promise<void> => {
    if (items.length === 0) return;
    const at = iso();
    const byVersion = new Map(items.map((o) => [versionKey(o.master.stream, o.master.id, o.master.rev), o]));
    await saveQuarantine(
      quarantine.map((q) => {
        const o = byVersion.get(versionKey(q.stream, q.id, q.rev));
        return o && q.overwritten === undefined ? { ...q, overwritten: { at, by: o.by } } : q;
      }),
      () => {
        const listed = new Map(quarantine.map((q) => [versionKey(q.stream, q.id, q.rev), q]));
        for (const { master, by } of items) {
          const kept = listed.get(versionKey(master.stream, master.id, master.rev))?.content?.kept === true;
          report({
            code: 'OVERWROTE_REFUSED',
            message: `A change made here was stored over the server's version ${master.rev} of a ${master.stream} record, signed by account ${by}, which this app's rules refused: that version is no longer on the server, only listed in quarantine${kept ? ', its content kept here (quarantinedVersion): if it was a valid change (e.g. by a newer app version), it can be entered again from there' : '. If it was a valid change (e.g. by a newer app version), ask that account to make it again'}`,
            stream: master.stream,
            id: master.id,
          });
        }
      },
    );
  };

  /** The kept content of a listed version (`quarantinedVersion`). */
  const readKept = async (key: QuarantineKey): Promise<QuarantinedVersion> => {
    const find = () =>
      quarantine.find((e) => e.stream === key.stream && e.id === key.id && e.rev === key.rev);
    const q = find();
    if (q === undefined) {
      throw new SyncError(
        'NOT_QUARANTINED',
        `no quarantine entry for revision ${key.rev} of ${key.stream} record ${key.id}`,
        false,
      );
    }
    const notKept = (why: string) =>
      new SyncError(
        'VERSION_NOT_KEPT',
        `the content of revision ${q.rev} of ${q.stream} record ${q.id} is not kept: ${why}`,
        false,
      );
    if (q.slot === undefined) {
      const c = q.content;
      throw notKept(
        c === undefined
          ? q.reason === 'BAD_TRANSITION'
            ? 'it was set aside before content was kept'
            : `only versions refused BAD_TRANSITION are kept, this one is ${q.reason}`
          : c.kept
            ? 'it could not be read'
            : c.why === 'too-large'
              ? 'it is larger than one entry may keep'
              : c.why === 'budget'
                ? 'dropped beyond the total kept'
                : 'purged with its stream when access ended',
      );
    }
    const kept = await keptContentOf(q, q.slot);
    // Dismissed or dropped while it was read: what the person asked for is gone.
    const still = find();
    if (still === undefined || still.slot !== q.slot) throw notKept('the entry changed while it was read');
    if (kept === null) throw notKept('it could not be read');
    return {
      stream: q.stream,
      id: q.id,
      rev: q.rev,
      reason: q.reason,
      message: q.message,
      at: q.at,
      ...(still.overwritten ? { overwritten: { ...still.overwritten } } : {}),
      author: kept.author,
      record: kept.record,
    };
  };

  let unsent: UnsentChange[] = [];
  /** Whether kept version `u` is version `r`: same record, revision number, deletion flag and data. */
  const keptAs = (u: UnsentChange, r: PlainRecord): boolean => {
    if (u.stream !== r.stream || u.id !== r.id || u.rv !== r.rv || u.deleted !== r._deleted) return false;
    // Not plain JSON: not known to be the same, so both are kept.
    const data = canonicalOrNull(u.data);
    return data !== null && data === canonicalOrNull(r.data);
  };
  /**
   * recordKey → record of every record whose local copy is a version the server never took (see `hold`),
   * oldest first. Not the unsent list: discarding an entry, or its dropping out of that list, leaves the
   * refused version in the collection, and taken for the server's state it would make the server's next
   * version under the same number look stale (freshness.ts). `floor`: the revision number of the server's
   * state the refused version was made on, which the device held as the server's: a served version below
   * it is a replay, not the server's next state (freshness.ts `floor`).
   */
  // `wait`: marked for a version on the key-wait list (`parkRows`): the mark goes once the server takes
  // a version of the record from this device (the local copy is then the server's state; its echo is
  // never stored here, so `received$` would not end it).
  let diverged = new Map<string, { stream: string; id: string; floor?: number; wait?: true }>();
  const saveDiverged = async (): Promise<void> => {
    const dropped = diverged.size - MAX_DIVERGED;
    if (dropped > 0) {
      diverged = new Map([...diverged].slice(dropped));
      report({
        code: 'DIVERGED_DROPPED',
        message: `${dropped} record(s) holding a version the server did not take are no longer tracked (more than ${MAX_DIVERGED}); a server version under the same number may be refused as stale`,
      });
    }
    await deps.meta.set('diverged', [...diverged.values()]);
  };
  let divergedTimer: ReturnType<typeof setTimeout> | undefined;
  /** Marks left as records are stored one by one: persisted once for the page. */
  const saveDivergedSoon = (): void => {
    if (divergedTimer !== undefined) return;
    divergedTimer = setTimeout(() => {
      divergedTimer = undefined;
      if (!stopped) void saveDiverged().catch(() => undefined);
    }, 0);
  };
  const saveUnsent = async (next: UnsentChange[]): Promise<void> => {
    const dropped = next.length - MAX_UNSENT;
    if (dropped > 0) {
      report({
        code: 'UNSENT_DROPPED',
        message: `${dropped} unsent change(s) were dropped: more than ${MAX_UNSENT} were kept`,
      });
    }
    unsent = next.slice(-MAX_UNSENT);
    patch({ unsent: unsent.length });
    await deps.meta.set('unsent', unsent);
  };
  /**
   * Keeps local versions the server did not take (one persisted write) and reports each. An earlier kept
   * version of the record goes only if it is that very version (refused again) or the one the new version
   * was made on (`base`, RxDB's state the row builds on: the refused copy edited further, so its content
   * carries on). Any other stays beside it: once a pulled version replaced the local copy, an edit made on
   * that one does not hold the earlier refused content, which exists nowhere else.
   * Awaited before the push handler returns.
   */
  const hold = async (
    items: readonly Refusal[],
    { quiet = false }: { quiet?: boolean } = {},
  ): Promise<void> => {
    if (items.length === 0) return;
    const replaced = (u: UnsentChange): boolean =>
      items.some(({ record, base }) => keptAs(u, record) || (base !== undefined && keptAs(u, base)));
    // The refused version stays the local copy until a served version of the record replaces it.
    for (const { record, base } of items) {
      const key = recordKey(record.stream, record.id);
      // A version refused again keeps the floor of the first: the state it was made on is below both.
      const floor = Math.max(diverged.get(key)?.floor ?? 0, base?.rv ?? 0);
      diverged.delete(key);
      diverged.set(key, { stream: record.stream, id: record.id, ...(floor > 0 ? { floor } : {}) });
    }
    await saveDiverged();
    await saveUnsent([
      ...unsent.filter((u) => !replaced(u)),
      ...items.map(({ record, code, message }) => ({
        stream: record.stream,
        id: record.id,
        kind: record.kind,
        rv: record.rv,
        deleted: record._deleted,
        data: record.data,
        code,
        message,
        at: iso(),
      })),
    ]);
    // Not pending any more: nothing will send them again (a newer local version still is). Only once they
    // are kept, in memory and on disk: pendingWrites never drops before unsent() lists them, and a crash in
    // between leaves them pending (sent again, refused again), not in neither list.
    for (const { record } of items) settlePending(record.id, record.rv);
    await savePending();
    if (quiet) return;
    for (const { record, code, message } of items) {
      report({
        code,
        message: `${message}; the change is kept in unsent changes`,
        stream: record.stream,
        id: record.id,
      });
    }
  };

  /**
   * record id → a local version answered to RxDB as sent while this device held no key to write its
   * stream (see the header), with the server state it was made on; in device meta (`key-wait`).
   * `keyWaitsSending`: those a retry is sending, persisted with the rest until answered.
   */
  let keyWaits = new Map<string, KeyWait>();
  const keyWaitsSending = new Map<string, KeyWait>();
  const storedRecord = (r: WithDeleted<PlainRecord>): WithDeleted<PlainRecord> => ({
    id: r.id,
    stream: r.stream,
    kind: r.kind,
    patientId: r.patientId,
    updatedAt: r.updatedAt,
    rv: r.rv,
    epoch: r.epoch,
    author: r.author,
    by: r.by,
    conflict: r.conflict,
    data: r.data,
    conflictData: r.conflictData,
    _deleted: r._deleted,
  });
  /** `awaitInSync` callers waiting for the list to empty (every change of it is saved here). */
  let keyWaitsDrained: Array<() => void> = [];
  const saveKeyWaits = async (): Promise<void> => {
    await deps.meta.set(
      'key-wait',
      [...new Map([...keyWaitsSending, ...keyWaits]).values()].map((w) => ({
        record: storedRecord(w.record),
        ...(w.base === undefined ? {} : { base: storedRecord(w.base) }),
        at: w.at,
        ...(w.conflict === true ? { conflict: true } : {}),
      })),
    );
    if (keyWaits.size + keyWaitsSending.size > 0) return;
    const waiters = keyWaitsDrained;
    keyWaitsDrained = [];
    for (const w of waiters) w();
  };
  const keyWaitIssue = (record: PlainRecord): Omit<SyncIssue, 'at'> => ({
    code: 'NO_KEY',
    message: `No key yet to write ${record.stream}; the change waits on this device and is sent when the key comes`,
    stream: record.stream,
    id: record.id,
  });
  /**
   * Places on the key-wait list promised to rows not yet on it: RxDB sends a batch's frames at once, and
   * each push decides before any of them puts its rows there (`held`: this push's, released once they are
   * on the list or the push ended).
   */
  let keyWaitsReserved = 0;
  const roomForWait = (id: string, held: { n: number }): boolean => {
    if (keyWaits.has(id)) return true;
    if (keyWaits.size + keyWaitsReserved >= MAX_KEY_WAITS) return false;
    keyWaitsReserved++;
    held.n++;
    return true;
  };
  const releaseWaits = (held: { n: number }): void => {
    keyWaitsReserved -= held.n;
    held.n = 0;
  };
  /**
   * Puts versions lacking a write key on the key-wait list (persisted before the push handler returns, as
   * RxDB then takes them as sent). A version made on a waiting one (the push handler gives it that one's
   * base) or the same one again replaces its entry; any other version of the record (made on a server
   * version stored here meanwhile) cannot carry the waiting one's content, which goes to unsent. Each
   * record is marked diverged: its local copy is a version the server never took (see `hold`).
   */
  const parkRows = async (
    items: ReadonlyArray<{ record: WithDeleted<PlainRecord>; base: WithDeleted<PlainRecord> | undefined }>,
    { conflict = false }: { conflict?: boolean } = {},
  ): Promise<void> => {
    const aside: Refusal[] = [];
    for (const { record, base } of items) {
      const prior = keyWaits.get(record.id);
      const follows =
        prior === undefined ||
        sameVersion(prior.record, record) ||
        (base === undefined
          ? prior.base === undefined
          : prior.base !== undefined && sameVersion(base, prior.base));
      if (prior !== undefined && !follows) {
        aside.push({
          record: prior.record,
          base: prior.base,
          code: 'NO_KEY',
          message: `A newer server version of ${record.stream} record came before the key to send this change did; the change was not sent`,
        });
      }
      keyWaits.delete(record.id);
      keyWaits.set(record.id, { record, base, at: iso(), ...(conflict ? { conflict } : {}) });
      const key = recordKey(record.stream, record.id);
      const floor = Math.max(diverged.get(key)?.floor ?? 0, base?.rv ?? 0);
      diverged.delete(key);
      diverged.set(key, {
        stream: record.stream,
        id: record.id,
        ...(floor > 0 ? { floor } : {}),
        wait: true,
      });
    }
    await saveDiverged();
    await saveKeyWaits();
    await hold(aside);
    // One waiting for a server version to open has that wait's own issue (CONFLICT_WAIT).
    if (!conflict) for (const { record } of items) report(keyWaitIssue(record));
    armKeyWaits();
  };

  /**
   * This device was revoked (DEVICE_REVOKED): nothing pending can ever be sent from it, and a device joined
   * anew starts an empty store. So every pending local version goes to unsent with its content, where the
   * app can show or copy it, instead of counting as pending for ever; one issue says how many. Run again
   * whenever something is pending while revoked (a write made since, RxDB handing the versions again after
   * a restart): a version kept already replaces its entry, so each is listed once. One run at a time.
   */
  let keepingRevoked: Promise<void> = Promise.resolve();
  const keepRevokedUnsent = (): void => {
    keepingRevoked = keepingRevoked
      .then(async () => {
        if (stopped || fatal?.code !== 'DEVICE_REVOKED' || pending.size === 0) return;
        const held = await collection.storageInstance.findDocumentsById([...pending.keys()], true);
        const message = 'this device was removed from its account before the change was sent';
        // Versions waiting for a key (also those being sent now) were answered to RxDB as sent: the
        // local copy may be a served version since, which is no change of this device's. It is one only
        // if a change newer than the waiting version is pending.
        const waits = new Map([...keyWaitsSending, ...keyWaits]);
        const waiting: Refusal[] = [...waits.values()].map(({ record, base }) => ({
          record,
          base,
          code: 'DEVICE_REVOKED',
          message,
        }));
        const items: Refusal[] = [
          ...waiting,
          ...held
            .filter((d) => {
              const want = pending.get(d.id) ?? Infinity;
              const w = waits.get(d.id);
              return !emptied(d) && want <= d.rv && (w === undefined || want > w.record.rv);
            })
            .map((d) => ({ record: plainOf(d), base: undefined, code: 'DEVICE_REVOKED', message })),
        ];
        if (items.length === 0) return;
        await hold(items, { quiet: true });
        if (waiting.length > 0) {
          for (const { record } of waiting)
            clearIssues({ code: 'NO_KEY', stream: record.stream, id: record.id });
          keyWaits = new Map();
          keyWaitsSending.clear();
          await saveKeyWaits();
        }
        report({
          code: 'DEVICE_REVOKED',
          message: `${items.length} change(s) made on this device were never sent and cannot be sent from it now; they are kept in unsent changes`,
        });
      })
      .catch((error: unknown) => {
        report({
          code: 'DEVICE_REVOKED',
          message: `changes not sent before this device was removed could not be listed in unsent changes (${error instanceof Error ? error.message : String(error)}); they stay pending and readable`,
        });
      });
  };

  /**
   * Entries whose record (this revision or a newer one) RxDB has now stored leave the quarantine. Called
   * for every stored record: with nothing quarantined it is one set lookup.
   */
  let settling: Array<{ key: string; rv: number }> = [];
  /** Takes the entries gathered by `settle` off the list (one write). */
  const settleGathered = (): Promise<void> => {
    const done = new Map(settling.map((r) => [r.key, r.rv]));
    settling = [];
    const next = quarantine.filter((q) => {
      const stored = done.get(recordKey(q.stream, q.id));
      return q.overwritten !== undefined || stored === undefined || stored < revNumber(q.rev);
    });
    return next.length < quarantine.length ? saveQuarantine(next) : Promise.resolve();
  };
  const settle = (stream: string, id: string, rv: number): void => {
    if (quarantinedKeys.size === 0) return;
    const key = recordKey(stream, id);
    if (!quarantinedKeys.has(key)) return;
    // RxDB reports stored records one by one: gathered, so a page costs one persisted write. Once stopped,
    // stop() writes what was gathered (RxDB stores the last batch while stop waits for it): a list written
    // only by this timer lost the entries a batch stored just before the app closed answered.
    if (settling.length === 0) {
      setTimeout(() => {
        if (!stopped) void settleGathered().catch(() => undefined);
      }, 0);
    }
    settling.push({ key, rv });
  };
  /**
   * RxDB stored a served version of the record (`received$`): its local copy is the server's again, no
   * longer diverged; quarantine entries it answers leave. With nothing diverged it is one size check.
   */
  const onStored = (stream: string, id: string, rv: number): void => {
    if (diverged.size > 0 && diverged.delete(recordKey(stream, id))) saveDivergedSoon();
    settle(stream, id, rv);
  };

  /**
   * At start: entries whose record the store holds at a newer revision, as the server's (settled), leave
   * the list. RxDB stored that version and the process ended before the list without them was written (a
   * crash), so no `received$` will answer them again: a version the store holds is not handed over again.
   * Strictly newer: a copy of the very revision may be the genuine version a tampered copy of it was served
   * after (the retry judges entries that can pass by the same revision too). Not entries marked
   * `overwritten` (only the cap or a dismissal ends those), nor a purge's emptied tombstones (no copy).
   */
  const settleStored = async (): Promise<void> => {
    const open = quarantine.filter((q) => q.overwritten === undefined);
    if (open.length === 0) return;
    const held = await collection.storageInstance.findDocumentsById(
      [...new Set(open.map((q) => q.id))],
      true,
    );
    const copies = new Map(held.filter((d) => !emptied(d)).map((d) => [d.id, d]));
    const next = quarantine.filter((q) => {
      const local = copies.get(q.id);
      return (
        q.overwritten !== undefined ||
        local === undefined ||
        local.stream !== q.stream ||
        unsettled(q.stream, q.id) ||
        local.rv <= revNumber(q.rev)
      );
    });
    if (next.length < quarantine.length) await saveQuarantine(next);
  };

  /** Quarantines the failures of a decoded batch (one write) and answers what opened. */
  const sortOutcomes = async (docs: readonly ServedDoc[], decoded: readonly Judged[]) => {
    const out: PlainRecord[] = [];
    const failed: Refused[] = [];
    for (const [n, r] of decoded.entries()) {
      if (r.ok) out.push(r.record);
      else
        failed.push({
          doc: docs[n]!,
          reason: r.reason,
          message: r.message,
          ...(r.record === undefined ? {} : { record: r.record }),
        });
    }
    await setAside(failed);
    return out;
  };

  /** Decodes served documents without applying anything; echoes of this device's own pushes are skipped. */
  const decodeServed = async (docs: readonly ServedDoc[]) => {
    const fresh = docs.filter((d) => !(d.author === deps.device.deviceId && sent.get(d.id) === d.rev));
    return { docs, fresh, decoded: await decodeRecords(codecDeps, fresh) };
  };

  /**
   * Whether the local copy of a record is not the server's: a local write not acknowledged, one whose
   * conflict RxDB has yet to replace with the server's version (`resolving`), or diverged.
   */
  const unsettled = (stream: string, id: string): boolean =>
    pending.has(id) || resolving.has(id) || diverged.has(recordKey(stream, id));
  // A served version older than the local copy the server last agreed on is never applied (freshness.ts).
  const freshnessDeps: FreshnessDeps = {
    lookup: async (ids) => {
      const docs = await collection.storageInstance.findDocumentsById([...ids], true);
      // A purge's tombstones (emptied) are no copy: they may carry the number of a local edit never
      // pushed, and the stream's versions come back from the server when access returns.
      const copies = docs.filter((d) => !(d._deleted && emptied(d)));
      return new Map(copies.map((d) => [d.id, { rv: d.rv, deleted: d._deleted, record: d }]));
    },
    unsettled,
    floor: (stream, id) => diverged.get(recordKey(stream, id))?.floor ?? 0,
    pending: (id) => pending.has(id),
    deviceId: deps.device.deviceId,
    // Compares content only: both states under one tag key (epoch 0's), whatever epoch each was sealed
    // under; the local copy of a version this device pushed does not name the epoch it was sealed under.
    tagOf: (r) => tagOf(keyring, r, 0),
  };
  /** The freshness check of one batch, with the local copies it looked up (judged by `judgeReceived`). */
  const freshness = async (records: readonly PlainRecord[]) => {
    let held: ReadonlyMap<string, LocalVersion> = new Map();
    const outcome = await createFreshnessCheck({
      ...freshnessDeps,
      lookup: async (ids) => (held = await freshnessDeps.lookup(ids)),
    })(records);
    return { ...outcome, held };
  };
  /**
   * Why this very version was set aside BAD_TRANSITION, when it was: its quarantine entry, or its
   * dismissal (dismissing an entry does not make its version pass).
   */
  const refusedTransition = (stream: string, id: string, rev: string): { message: string } | undefined => {
    const key = recordKey(stream, id);
    const listed = quarantinedKeys.has(key)
      ? quarantine.find(
          (q) => recordKey(q.stream, q.id) === key && q.rev === rev && q.reason === 'BAD_TRANSITION',
        )
      : undefined;
    if (listed !== undefined || dismissed.size === 0) return listed;
    return dismissed.get(versionKey(stream, id, rev))?.reason === 'BAD_TRANSITION'
      ? { message: 'set aside BAD_TRANSITION before; the quarantine entry was dismissed' }
      : undefined;
  };
  /** This device, writing in its own name what it sends over a refused server version. */
  const writer: MergingDevice = { accountId: deps.accountId, deviceId: deps.device.deviceId };
  /**
   * Whether this device sends its local change over `master`, a server version it refused BAD_TRANSITION
   * against `assumed` (RxDB's assumed master state of the change) as the server's side of a conflict:
   * only where that refusal is sure to hold for the version's writer, so no honest version is replaced.
   * - The patient's device only, over a version another account signed (a grantee): the patient's
   *   record, and the patient's own versions are never overwritten (another of its devices that re-sent
   *   a version after a restore names itself as writer of content another device wrote).
   * - One write after `assumed`, judged with every rule: `assumed` must be a state the server held (not
   *   a version it refused, which RxDB assumes once it went unsent), and the server takes a write only
   *   against its current version with a higher number, so a version numbered one past it was written on
   *   it. Further on (versions in between not received, or numbers skipped) the refusal may come from a
   *   merge and a settlement missed here (received-transition.ts, known limits): not overwritten. Nor is a
   *   merge, judged by its sides.
   * - Not while a restore of the server's store is caught up with: versions written since the restore
   *   may sit on a lost version under the same number as the one assumed.
   * The judgement does not depend on consent or on what this device knows of devices (those refusals
   * are BAD_AUTHOR, not BAD_TRANSITION): only on the two states and, for a deletion of a NoteVersion,
   * on its note and signatures as held.
   */
  const forgedOver = (master: PlainRecord, assumed: PlainRecord | undefined): boolean => {
    if (assumed === undefined || reset !== null) return false;
    const stream = parseStreamId(master.stream);
    return (
      stream.ok &&
      stream.value.patientId === deps.accountId &&
      master.by !== deps.accountId &&
      !master.conflict &&
      assumed.stream === master.stream &&
      master.rv === assumed.rv + 1 &&
      !diverged.has(recordKey(assumed.stream, assumed.id)) &&
      !unsent.some((u) => keptAs(u, assumed))
    );
  };
  /**
   * For the deletions among `pairs` (held state, received version) of held NoteVersions, what decides
   * whether they are final: their notes and the patients' signatures as this device holds them, one read
   * per batch (removal-rules.ts, which the records API reads the same way before its own `remove`).
   */
  const noteVersionContexts = (pairs: ReadonlyArray<readonly [PlainRecord, PlainRecord]>) =>
    readNoteVersionContexts(
      collection,
      pairs.flatMap(([held, received]) => (received._deleted && held.kind === 'NoteVersion' ? [held] : [])),
    );
  /**
   * Of fresh served versions, those that may follow the state this device holds of their record
   * (received-transition.ts); the others are set aside BAD_TRANSITION and the held version stays. Only a
   * settled local copy is the server's last state: an unsettled one is a local edit (RxDB keeps it and the
   * push meets the served version as a conflict, judged against RxDB's assumed master state there) or a
   * version the server refused. A version already set aside BAD_TRANSITION is set aside again, whatever
   * the local copy. A record this device does not hold (initial sync) costs one map lookup.
   */
  const judgeReceived = async (
    fresh: readonly PlainRecord[],
    held: ReadonlyMap<string, LocalVersion>,
    served: ReadonlyMap<string, ServedDoc>,
  ): Promise<PlainRecord[]> => {
    const taken: PlainRecord[] = [];
    const refused: Refused[] = [];
    const contextOf = await noteVersionContexts(
      fresh.flatMap((r) => {
        const mine = held.get(r.id);
        return mine === undefined ? [] : [[mine.record, r] as const];
      }),
    );
    for (const record of fresh) {
      const mine = held.get(record.id);
      const doc = served.get(recordKey(record.stream, record.id));
      if (mine === undefined || doc === undefined) {
        taken.push(record);
        continue;
      }
      const again = refusedTransition(record.stream, record.id, doc.rev);
      const message =
        again?.message ??
        (mine.record.stream === record.stream && !unsettled(record.stream, record.id)
          ? receivedTransitionRefusal(mine.record, record, contextOf(mine.record))
          : null);
      if (message === null) taken.push(record);
      else refused.push({ doc, reason: 'BAD_TRANSITION', message, record });
    }
    await setAside(refused);
    return taken;
  };
  /**
   * Per record (`recordKey`), the server version (its revision tag) a push of this device last met as a
   * conflict and handed to RxDB to resolve: seen, so not served stale when a page brings it again. Kept
   * in memory, the newest MAX_CONFLICTS_MET.
   */
  const conflictMet = new Map<string, string>();
  const metInConflict = (stream: string, id: string, rev: string): void => {
    const key = recordKey(stream, id);
    conflictMet.delete(key);
    conflictMet.set(key, rev);
    if (conflictMet.size > MAX_CONFLICTS_MET) conflictMet.delete(conflictMet.keys().next().value!);
  };
  /**
   * Drops served versions older than what this device holds. One served at a position past what this
   * device had seen of its stream is a replay (a server serving an old genuine version as new) and is
   * reported; one at an old position is a late copy (e.g. a live frame overtaken by this device's own newer
   * push) and is dropped quietly. One whose id this device holds under another stream is never applied
   * (it would replace that record) and is always reported. One that is the settled local copy itself is
   * dropped quietly (nothing to apply; handed to RxDB it could replace an edit acknowledged before RxDB
   * got to it) and answers what RxDB storing it would: quarantine entries of that version or older leave.
   */
  const dropStale = async (
    records: PlainRecord[],
    seqOf: ReadonlyMap<string, number>,
    served: ReadonlyMap<string, ServedDoc>,
  ) => {
    const { fresh, same, stale, clashes, held } = await freshness(records);
    for (const record of same) onStored(record.stream, record.id, record.rv);
    for (const { record, held } of clashes) {
      report({
        code: 'ID_CLASH',
        message: `The server sent a record of ${record.stream} under the id of a record this device holds in ${held}; it was not applied`,
        stream: record.stream,
        id: record.id,
      });
    }
    for (const { record, localRv } of stale) {
      const key = recordKey(record.stream, record.id);
      const seq = seqOf.get(key) ?? 0;
      // While a restore is caught up with, what was seen before it (its floor) counts as seen too.
      if (seq <= Math.max(known[record.stream] ?? 0, reset?.floor?.[record.stream] ?? 0)) continue;
      // The version a push of this device met as the server's (and merged): a page fetched while that
      // push was under way serves it again, overtaken by the merge, as an honest server does.
      const met = conflictMet.get(key);
      if (met !== undefined && served.get(key)?.rev === met) continue;
      report({
        code: 'STALE_VERSION',
        message: `The server sent an older version (${record.rv}) of a record than this device holds (${localRv}); it was not applied`,
        stream: record.stream,
        id: record.id,
      });
    }
    return judgeReceived(fresh, held, served);
  };
  const seqsOf = (docs: readonly ServedDoc[]): Map<string, number> =>
    new Map(docs.map((d) => [recordKey(d.stream, d.id), d.seq]));
  const servedByKey = (docs: readonly ServedDoc[]): Map<string, ServedDoc> =>
    new Map(docs.map((d) => [recordKey(d.stream, d.id), d]));

  /**
   * Applies decoded documents: quarantines what failed, drops what is older than the local copy, moves the
   * per-stream positions past all of them. A batch left with nothing to hand over carries its position by
   * the pull floor (`carry`), never by a record: a version handed to RxDB is stored only after the batches
   * before it, and a local edit can be pushed and acknowledged meanwhile; RxDB then finds its copy equal to
   * the server's and would take the handed version, an older one, in the edit's place.
   */
  const applyDecoded = async (
    { docs, fresh, decoded }: Awaited<ReturnType<typeof decodeServed>>,
    era = liveEra,
  ): Promise<PlainRecord[] | null> => {
    const out = await dropStale(await sortOutcomes(fresh, decoded), seqsOf(fresh), servedByKey(fresh));
    // Served by the store before a restore whose catch-up started meanwhile: nothing of it is applied.
    if (era !== liveEra) return null;
    // A stream whose access ended meanwhile keeps no position: the purge dropped it, and one left here
    // would make the next list of streams end that access again (a second purge, a second audit entry).
    for (const d of docs) {
      if (readable(d.stream)) known[d.stream] = Math.max(known[d.stream] ?? 0, d.seq);
    }
    return out;
  };

  /** Whether `a` is at or past `b` on every stream of `b`. */
  const reaches = (a: Record<string, number>, b: Record<string, number>): boolean =>
    Object.entries(b).every(([s, seq]) => (a[s] ?? 0) >= seq);
  const sameCheckpoint = (a: Record<string, number>, b: Record<string, number>): boolean =>
    reaches(a, b) && reaches(b, a);
  // One write in flight at a time, of the floor as it is when the write starts: a burst of batches that
  // hand nothing (e.g. the echoes of a large push) costs one or two writes, not one each.
  let floorDue = false;
  const saveFloor = (): void => {
    if (floorDue) return;
    floorDue = true;
    floorWriting = floorWriting
      .then(() => {
        floorDue = false;
        return deps.meta.set('pull-floor', {
          ...(floor ?? { at: {}, after: {} }),
          ...(voided ? { voided } : {}),
        });
      })
      .catch(() => undefined);
  };
  /**
   * A batch that handed RxDB nothing moved the positions from `after` (everything before it handed to
   * RxDB or needing nothing) to `at`. Continues the floor when that floor already reaches `after`.
   */
  const carry = (after: Record<string, number>, at: Record<string, number>): void => {
    if (floor !== null && reaches(floor.at, after)) {
      const merged = { ...floor.at };
      for (const [s, seq] of Object.entries(at)) merged[s] = Math.max(merged[s] ?? 0, seq);
      floor = { at: merged, after: floor.after };
    } else {
      floor = { at: { ...at }, after: { ...after } };
    }
    saveFloor();
  };
  /** Forgets a stream's floor (purged, or pulled from 0 again). */
  const dropFloor = (streams: readonly string[]): void => {
    if (floor === null || !streams.some((s) => s in floor!.at || s in floor!.after)) return;
    const at = { ...floor.at };
    const after = { ...floor.after };
    for (const s of streams) {
      delete at[s];
      delete after[s];
    }
    floor = { at, after };
    saveFloor();
  };

  const snapshot = (): StreamCheckpoint => ({ s: { ...known } });

  /** Subscribes every readable stream not yet followed, from where this device stands. */
  const subscribeAll = async (): Promise<void> => {
    const cursors = [...access.keys()]
      .filter((s) => readable(s) && !subscribed.has(s))
      .map((stream) => ({ stream: stream as StreamAccess['stream'], since: known[stream] ?? 0 }));
    if (cursors.length === 0) return;
    for (let i = 0; i < cursors.length; i += STREAMS_PER_REQUEST) {
      const slice = cursors.slice(i, i + STREAMS_PER_REQUEST);
      await connection.request({ t: 'subscribe', streams: slice });
      for (const c of slice) subscribed.add(c.stream);
    }
  };

  // `online` promises live changes on every stream: a subscribe the server refused (UNAVAILABLE, a lost
  // answer) is asked again while this connection lasts, with backoff, since nothing else would ask before
  // the next reconnect or access change. It asks from where the device stands, so what changed meanwhile
  // arrives with the subscription.
  let subscribeAttempts = 0;
  let subscribeTimer: ReturnType<typeof setTimeout> | undefined;
  const followAll = (): void => {
    if (subscribeTimer !== undefined) clearTimeout(subscribeTimer);
    subscribeTimer = undefined;
    const link = linkChanges;
    void subscribeAll().then(
      () => {
        subscribeAttempts = 0;
        retryPassed('SUBSCRIBE_FAILED');
      },
      (error: unknown) => {
        // A connection the app stopped (goOffline, close) is no failure; the next one subscribes anew.
        if (stopped || (error instanceof SyncError && error.code === 'STOPPED')) return;
        report({
          code: 'SUBSCRIBE_FAILED',
          message: error instanceof Error ? error.message : String(error),
        });
        if (!linkUp || link !== linkChanges) return;
        const delay = Math.min(SUBSCRIBE_RETRY_BASE_MS * 2 ** subscribeAttempts, SUBSCRIBE_RETRY_MAX_MS);
        subscribeAttempts++;
        subscribeTimer = setTimeout(() => {
          subscribeTimer = undefined;
          // Another connection (or a pass still running) subscribes at the end of its own pull pass.
          if (!stopped && linkUp && link === linkChanges && state$.value.status === 'online') followAll();
        }, delay);
        (subscribeTimer as { unref?: () => void }).unref?.();
      },
    );
  };

  type PullCursor = { stream: StreamAccess['stream']; since: number };
  /**
   * Streams the server answered as drained (or denied) in the current pull pass — the pages RxDB asks
   * for until one comes back short — with the position it answered and the resyncs asked for when that
   * page was (`covers`): the pass names them no more, so each page names only streams still open, at most
   * STREAMS_PER_REQUEST of them. An entry holds only while no resync was asked after its page (a page in
   * flight when a reconnect or access change asks for one must not mark the new pass's streams), and a
   * live frame of a stream removes it: RxDB drops a live batch queued before its next pull call, so the
   * pass must serve that stream again; a page asked before that frame does not mark it either (`lastLive`).
   * Cleared when a pass ends and at every new list of streams.
   */
  const drained = new Map<string, { at: number; covers: number }>();
  /** Counts live frames; per stream, the count when its last live frame with documents arrived. */
  let liveTick = 0;
  const lastLive = new Map<string, number>();
  /** Whether `stream` at `since` is drained for a page that covers `asOf` resyncs. */
  const isDrained = (stream: string, since: number, asOf: number): boolean => {
    const d = drained.get(stream);
    return d !== undefined && d.covers === asOf && since >= d.at;
  };
  /** Marks `stream` drained by a page asked at live count `asked`, unless a live frame of it came since. */
  const markDrained = (stream: string, at: number, covers: number, asked: number): void => {
    if ((lastLive.get(stream) ?? 0) <= asked) drained.set(stream, { at, covers });
  };
  /**
   * The first STREAMS_PER_REQUEST streams still open in this pass, from `pos`; `asOf`: as a page that
   * covers that many resyncs sees it (by default one asked now).
   */
  const cursorsFrom = (pos: Record<string, number>, asOf = resyncWanted): PullCursor[] => {
    const out: PullCursor[] = [];
    for (const stream of access.keys()) {
      if (!readable(stream)) continue;
      const since = pos[stream] ?? 0;
      if (isDrained(stream, since, asOf)) continue;
      out.push({ stream: stream as StreamAccess['stream'], since });
      if (out.length === STREAMS_PER_REQUEST) break;
    }
    return out;
  };

  /** One page from the server, decoded (on the offload when there is one) but not applied. */
  const fetchPage = async (cursors: PullCursor[], limit: number) => {
    const asked = liveTick;
    const reply = await connection.request<PulledFrame>({
      t: 'pull',
      streams: cursors,
      limit,
      maxBytes: MAX_BATCH_BYTES,
    });
    return { reply, served: await decodeServed(reply.docs), asked };
  };
  // While RxDB stores one page of an initial sync, the next is fetched and decoded, so the device's
  // two threads and the server overlap (only with an offload: otherwise both would run on this thread).
  // A page with a document that had no key is asked for again: the key may have arrived since, and what
  // this device can now read must not be quarantined.
  const pages = createPagePrefetcher({
    fetch: ({ cursors, limit }: { cursors: PullCursor[]; limit: number }) => fetchPage(cursors, limit),
    keyOf: ({ cursors, limit }) => JSON.stringify([cursors, limit]),
    stale: (page) => page.served.decoded.some((d) => !d.ok && d.reason === 'NO_KEY'),
  });
  const takePage = (cursors: PullCursor[], limit: number) => pages.take({ cursors, limit });
  const prefetch = (pos: Record<string, number>, limit: number): void => {
    const cursors = cursorsFrom(pos);
    if (cursors.length === 0 || !deps.offload) return;
    pages.prefetch({ cursors, limit });
  };

  // Records quarantined for a reason that can pass are fetched again: after a reconnect or an access
  // change (once the pull that follows caught up), and with backoff while any remain. Only while
  // 'online': every stream's position is then known, so what is handed to RxDB never moves its stored
  // checkpoint back.
  let retryDue = false;
  let retryRun: Promise<void> | null = null;
  let retryAttempts = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const armRetry = (reset = false): void => {
    if (reset) retryAttempts = 0;
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    retryTimer = undefined;
    if (stopped || !(quarantine.some(due) || [...gaps.values()].some(gapDue))) {
      retryAttempts = 0;
      return;
    }
    const { baseMs, maxMs } = deps.quarantineRetry ?? { baseMs: RETRY_BASE_MS, maxMs: RETRY_MAX_MS };
    const delay = Math.min(baseMs * 2 ** retryAttempts, maxMs);
    retryAttempts++;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      requestRetry();
    }, delay);
    (retryTimer as { unref?: () => void }).unref?.();
  };
  const requestRetry = (): void => {
    retryDue = true;
    if (state$.value.status === 'online') void runRetry();
  };
  // The grants changed: a record set aside NO_KEY under an own stream's epoch minted by a device revoked
  // since may open now (its key derives from the ended grants, which a fresh store learns only after its
  // first pull), and one set aside NO_WRITE_GRANT may pass (a grant made on another of the patient's
  // devices, learnt now). Otherwise it waited for the backoff (30 s at first).
  const unwatchGuard = keyring.onGuardChange(() => {
    if (stopped) return;
    requestRetry();
    wakeKeyWaits(true);
  });
  const runRetry = (): Promise<void> => {
    if (retryRun) return retryRun;
    if (stopped) return Promise.resolve();
    retryDue = false;
    retryRun = retryQuarantined()
      .then(() => retryPassed('QUARANTINE_RETRY_FAILED'))
      .catch((error: unknown) =>
        report({
          code: 'QUARANTINE_RETRY_FAILED',
          message: `Records set aside could not be fetched again; will retry: ${error instanceof Error ? error.message : String(error)}`,
        }),
      )
      .finally(() => {
        retryRun = null;
        armRetry();
        if (retryDue && state$.value.status === 'online') void runRetry();
      });
    return retryRun;
  };

  /**
   * Decodes documents fetched again and applies what now verifies, in order with live frames. What fails
   * is set aside, except documents of a gap (`fromGap`) that fail for a reason that may still pass: they
   * are answered instead, to stay in the gap (set aside they would only push other entries out again).
   */
  const applyRetried = async (
    batch: readonly ServedDoc[],
    fromGap: ReadonlySet<ServedDoc>,
  ): Promise<Array<{ doc: ServedDoc; reason: QuarantineReason }>> => {
    if (batch.length === 0) return [];
    const decoded = decodeRecords(codecDeps, batch);
    decoded.catch(() => undefined);
    const stillOut: Array<{ doc: ServedDoc; reason: QuarantineReason }> = [];
    // In order with live frames and purges: a purged stream's records must not come back.
    const run = liveQueue.then(async () => {
      const opened: PlainRecord[] = [];
      const failed: Array<{ doc: ServedDoc; reason: QuarantineReason; message: string }> = [];
      for (const [n, r] of (await decoded).entries()) {
        const doc = batch[n]!;
        if (r.ok) opened.push(r.record);
        else if (fromGap.has(doc) && renewable(r.reason)) stillOut.push({ doc, reason: r.reason });
        else failed.push({ doc, reason: r.reason, message: r.message });
      }
      await setAside(failed);
      // Fetched again from old positions: a stale one is only dropped, never reported as a replay.
      const documents = (await dropStale(opened, new Map(), servedByKey(batch))).filter((r) =>
        readable(r.stream),
      );
      if (documents.length > 0) pullStream$.next({ documents, checkpoint: snapshot() });
    });
    liveQueue = run.catch(() => undefined);
    await run;
    return stillOut;
  };

  /**
   * Of documents served in a gap, those this device neither stored (that version or a newer one, as the
   * server's) nor keeps aside for that version with nothing that may have changed.
   */
  const notHeld = async (docs: readonly ServedDoc[]): Promise<ServedDoc[]> => {
    if (docs.length === 0) return [];
    const stored = await collection.storageInstance.findDocumentsById(
      docs.map((d) => d.id),
      true,
    );
    const local = new Map(stored.map((d) => [recordKey(d.stream, d.id), d]));
    const aside = new Map(quarantine.map((q) => [versionKey(q.stream, q.id, q.rev), q]));
    return docs.filter((d) => {
      const key = recordKey(d.stream, d.id);
      const l = local.get(key);
      if (l && l.rv >= revNumber(d.rev) && !unsettled(d.stream, d.id)) return false;
      const version = versionKey(d.stream, d.id, d.rev);
      // Dismissed: not fetched again (it would keep the gap open for ever if it may still pass).
      if (dismissed.has(version)) return false;
      const q = aside.get(version);
      return q === undefined || due(q);
    });
  };

  /**
   * Fetches again the records quarantined for a reason that can pass, or refused under other rules than
   * this session's (record rules for content, author rules for an author), and the gaps left by entries
   * dropped beyond the cap, and applies what now verifies. The protocol pulls by per-stream position
   * only, so each stream is re-pulled from just before its first such entry (or gap) to its last; only
   * those records are decoded, the rest (held here already) is skipped. An entry whose record is not
   * served there any more (a newer revision was served at a later seq, or it was removed) is dropped: its
   * revision is no longer the server's. A gap fetched to its end shrinks to what failed again and may
   * still pass, or closes.
   */
  const retryQuarantined = async (): Promise<void> => {
    const entries = quarantine.filter((q) => due(q) && readable(q.stream));
    const open = [...gaps.values()].filter((g) => gapDue(g) && readable(g.stream));
    if (entries.length === 0 && open.length === 0) return;
    // Stored here already (e.g. the app stopped before the entry was settled): nothing to fetch. Not when
    // the local copy is not the server's (a change not acknowledged, or one the server refused for this
    // very version, CONFLICT_UNREADABLE): its revision number then says nothing of the served version.
    const held = await collection.findByIds(entries.map((q) => q.id)).exec();
    const wanted = new Map<string, QuarantinedItem>();
    for (const q of entries) {
      const local = held.get(q.id);
      if (local && local.stream === q.stream && local.rv >= revNumber(q.rev) && !unsettled(q.stream, q.id))
        settle(q.stream, q.id, local.rv);
      else wanted.set(recordKey(q.stream, q.id), q);
    }
    const until = new Map<string, number>();
    const pos = new Map<string, number>();
    const cover = (stream: string, from: number, to: number): void => {
      until.set(stream, Math.max(until.get(stream) ?? 0, to));
      pos.set(stream, Math.min(pos.get(stream) ?? from - 1, from - 1));
    };
    for (const q of wanted.values()) cover(q.stream, q.seq, q.seq);
    for (const g of open) cover(g.stream, g.from, g.to);
    const gapOf = new Map(open.map((g) => [g.stream, g]));
    const servedKeys = new Set<string>();
    const covered = new Set<string>();
    /** Per stream, what of its gap failed again: the range, and the rules all of it waits for (or null). */
    const refailed = new Map<string, { from: number; to: number; waits: Waits | null }>();
    while (pos.size > 0 && !stopped) {
      const asked = [...pos].slice(0, STREAMS_PER_REQUEST);
      const reply = await connection.request<PulledFrame>({
        t: 'pull',
        streams: asked.map(([stream, since]) => ({ stream: stream as StreamAccess['stream'], since })),
        limit: MAX_BATCH_DOCS,
        maxBytes: MAX_BATCH_BYTES,
      });
      const batch: ServedDoc[] = [];
      const inGaps: ServedDoc[] = [];
      for (const d of reply.docs) {
        if (d.seq > (until.get(d.stream) ?? 0)) continue;
        const key = recordKey(d.stream, d.id);
        const g = gapOf.get(d.stream);
        if (wanted.has(key)) {
          batch.push(d);
          servedKeys.add(key);
        } else if (g && d.seq >= g.from && d.seq <= g.to) inGaps.push(d);
      }
      const fromGap = new Set(await notHeld(inGaps));
      batch.push(...fromGap);
      for (const { doc, reason } of await applyRetried(batch, fromGap)) {
        const was = refailed.get(doc.stream);
        refailed.set(doc.stream, {
          from: Math.min(was?.from ?? doc.seq, doc.seq),
          to: Math.max(was?.to ?? doc.seq, doc.seq),
          waits: joinWaits(was === undefined ? {} : was.waits, reason, RETRYABLE_QUARANTINE.has(reason)),
        });
      }
      let progressed = false;
      const answered = new Set<string>();
      for (const c of reply.streams) {
        const since = pos.get(c.stream);
        if (since === undefined) continue;
        answered.add(c.stream);
        if (c.done || c.checkpoint >= (until.get(c.stream) ?? 0)) {
          pos.delete(c.stream);
          covered.add(c.stream);
          progressed = true;
        } else if (c.checkpoint > since) {
          pos.set(c.stream, c.checkpoint);
          progressed = true;
        }
      }
      // Denied or unanswered streams are the normal pull's business; the rest waits for the next retry,
      // as do all asked streams when none of them moved (the server has nothing more of them to give).
      for (const [stream] of asked) if (!answered.has(stream) || !progressed) pos.delete(stream);
    }
    const gone = new Map([...wanted].filter(([key, q]) => covered.has(q.stream) && !servedKeys.has(key)));
    if (gone.size > 0) {
      await saveQuarantine(quarantine.filter((q) => gone.get(recordKey(q.stream, q.id))?.rev !== q.rev));
    }
    // A gap widened meanwhile (entries dropped past the cap again) is another object and stays.
    const done = open.filter((g) => covered.has(g.stream) && gaps.get(g.stream) === g);
    for (const g of done) {
      const left = refailed.get(g.stream);
      if (!left) gaps.delete(g.stream);
      else {
        const { from, to, waits } = left;
        gaps.set(g.stream, { ...waits, stream: g.stream, from, to });
      }
    }
    if (done.length > 0) await saveGaps();
  };

  const pullHandler = async (
    lastCheckpoint: StreamCheckpoint | undefined,
    batchSize: number,
  ): Promise<{ documents: WithDeleted<PlainRecord>[]; checkpoint: StreamCheckpoint }> => {
    // Pull from where RxDB stands (its checkpoint), not from this engine's memory of what it has seen:
    // on a resync RxDB drops live changes it had not stored yet, and those must be served again.
    const given: Record<string, number> = { ...lastCheckpoint?.s };
    // RxDB's checkpoint of the store before a restore stands for nothing until RxDB stored another.
    if (voided !== null && !sameCheckpoint(given, voided)) {
      voided = null;
      saveFloor();
    }
    // A checkpoint handed back with a restarted stream's token is one of its pull from 0: RxDB holds what
    // that pull handed it, and the position it has for the stream is no longer the one from before the purge.
    const proven = [...restartTokens].filter(([s, token]) => lastCheckpoint?.r?.[s] === token);
    for (const [s] of proven) {
      restart.delete(s);
      restartTokens.delete(s);
    }
    const stored: Record<string, number> = voided === null ? { ...given } : {};
    // Positions RxDB holds for a stream purged and not pulled again since are from before the purge.
    for (const s of restart) delete stored[s];
    const pos: Record<string, number> = { ...stored };
    // Past batches that handed RxDB nothing (`carry`), once it holds everything handed before them.
    if (floor !== null && reaches(stored, floor.after)) {
      for (const [s, seq] of Object.entries(floor.at)) pos[s] = Math.max(pos[s] ?? 0, seq);
    }
    for (const [s, seq] of Object.entries(pos)) known[s] = Math.max(known[s] ?? 0, seq);
    checkpointSeen = true;
    if (reset !== null && reset.floor === null) fixFloor(reset);
    const advance = (stream: string, seq: number): void => {
      if (!readable(stream)) return;
      pos[stream] = Math.max(pos[stream] ?? 0, seq);
      known[stream] = Math.max(known[stream] ?? 0, seq);
    };
    const checkpoint = (): StreamCheckpoint => ({
      s: { ...pos },
      ...(restartTokens.size > 0 ? { r: Object.fromEntries(restartTokens) } : {}),
    });
    if (proven.length > 0) await saveRestart();
    await untilConnected();
    // Also when asking at connect failed: the pull fails (RxDB retries it) rather than follow an old list.
    if (access.size === 0 || streamsStale) await refreshStreams();
    const run = reset;
    if (run !== null && !run.deferred) {
      // Nothing served is applied before every local document was sent again (see `ResetRun`).
      run.repush ??= repushAll(run);
      await run.repush;
      if (!run.fromZero && reset === run) {
        run.fromZero = true;
        // Every readable stream from 0 again. Positions of the store before the restore say nothing about
        // the restored one (with nothing carried, its positions restart below them): `known` starts over
        // (what was seen before is the run's floor), and RxDB's checkpoint, which RxDB keeps until it
        // stores a document, stands for nothing until then.
        for (const s of Object.keys(pos)) delete pos[s];
        for (const s of Object.keys(known)) delete known[s];
        voided = given;
        floor = null;
        saveFloor();
        // What is left to pull is every stream's whole history now.
        countDue = true;
      }
    }
    // The checkpoint holds positions of readable streams only: a stream whose copy was purged starts
    // again from 0 (its whole history) if access is granted again. That pull begins here, under a new
    // token; until RxDB hands back a checkpoint with it, every call (a retry, the first after a restart)
    // goes on from what the pull from 0 carried past (the floor), never from RxDB's older position.
    const starting = [...restart].filter((s) => readable(s) && !restartTokens.has(s));
    if (starting.length > 0) {
      for (const s of starting) {
        delete pos[s];
        delete known[s];
        restartTokens.set(s, base64urlEncode(randomBytes(12)));
      }
      dropFloor(starting);
      await saveRestart();
    }
    for (const s of Object.keys(pos)) {
      if (readable(s)) continue;
      delete pos[s];
      delete known[s];
      dropFloor([s]);
    }
    /** Where this pull starts, and what of it RxDB holds: a pull handing nothing moves the floor from it. */
    const start = { ...pos };
    const base = Object.fromEntries(
      Object.entries(pos).map(([s, seq]) => [s, Math.min(seq, stored[s] ?? 0)]),
    );
    // A listing that came before RxDB's stored positions, counted from them now (see `countDue`).
    if (countDue) countLeft();
    let documents: PlainRecord[] = [];
    /** `resyncWanted` when the last page was asked for: the resyncs that page covers. */
    let covers = 0;
    /**
     * Leaves out streams whose access ended since their pages were fetched (their purge may have run
     * already): their records and their positions. Runs with no await before the hand-over, so nothing of
     * a stream that is not readable then reaches RxDB.
     */
    const dropEnded = (): void => {
      for (const s of Object.keys(pos)) {
        if (readable(s)) continue;
        delete pos[s];
        delete known[s];
        delete base[s];
      }
      if (documents.some((d) => !readable(d.stream))) documents = documents.filter((d) => readable(d.stream));
    };
    const handOver = (): { documents: WithDeleted<PlainRecord>[]; checkpoint: StreamCheckpoint } => {
      dropEnded();
      // RxDB ends its resync at a batch shorter than its batch size; a full one is followed by another call.
      if (documents.length < batchSize) {
        resyncCovered = Math.max(resyncCovered, covers);
        drained.clear();
      }
      if (documents.length === 0 && Object.entries(pos).some(([s, seq]) => seq > (start[s] ?? 0)))
        carry(base, pos);
      return { documents, checkpoint: checkpoint() };
    };
    // RxDB asks again after a full page, also after the last page of a pass: with every stream drained
    // nothing is open, and the pass ends as that page left it (its status included, e.g. online).
    if (drained.size > 0 && cursorsFrom(pos).length === 0) {
      covers = resyncWanted;
      return handOver();
    }
    if (linkUp) patch({ status: 'syncing' });
    for (;;) {
      covers = resyncWanted;
      const cursors = cursorsFrom(pos);
      if (cursors.length === 0) return handOver();
      const { reply, served, asked } = await takePage(
        cursors,
        Math.min(batchSize - documents.length, MAX_BATCH_DOCS),
      );
      const denied = heldOf(
        reply.denied.map((d) => ({
          stream: d.stream,
          reason: d.code === 'CONSENT_EXPIRED' ? ('expired' as const) : ('revoked' as const),
        })),
      );
      if (denied.length > 0) void endAccess(denied);
      documents.push(...((await applyDecoded(served)) ?? []).filter((d) => readable(d.stream)));
      for (const d of reply.docs) advance(d.stream, d.seq);
      for (const s of reply.streams) {
        advance(s.stream, s.checkpoint);
        if (s.done) markDrained(s.stream, pos[s.stream] ?? 0, covers, asked);
      }
      // Denied streams leave through endAccess; until then they are not asked for again.
      for (const d of reply.denied) markDrained(d.stream, pos[d.stream] ?? 0, covers, asked);
      countServed(reply.docs);
      // Access may have ended while this page was fetched: what is left decides whether the pass is done
      // or the batch full (one left short by it would end RxDB's pass before the other streams caught up).
      dropEnded();
      // As this page sees it: a resync asked meanwhile starts a pass of its own (the page is handed over
      // first, and the device is not online until that pass is done).
      const allDone = cursorsFrom(pos, covers).length === 0;
      if (allDone) {
        // Counted as done from here on, so a later listing does not show less than this. Positions the
        // count expected and the pass did not serve were versions superseded since.
        initialDone = Math.max(initialDone, initialTotal);
        counted.clear();
      }
      showProgress();
      if (allDone) {
        // Not online if the link went down while this page was applied (the next connection pulls again),
        // nor if access changed after the page was asked for (the resync asked for then still runs).
        const online = linkUp && covers >= resyncWanted;
        passStored(covers, online);
        if (online) {
          followAll();
          if (run !== null && run.fromZero && reset === run) setTimeout(() => void finishReset(run), 0);
        }
        return handOver();
      }
      // RxDB ends a pull at the first page shorter than its batch size, so a page the server cut short
      // (byte limit, MAX_BATCH_DOCS below batchSize) or thinned out (quarantined or echoed documents)
      // must not be returned as if the server were drained: keep pulling until the batch is full.
      // A page that served nothing but drained streams moves on to the streams still open.
      const progressed =
        reply.docs.length > 0 || reply.streams.some((s) => s.done) || reply.denied.length > 0;
      if (documents.length >= batchSize || !progressed) {
        if (reply.docs.length > 0) prefetch(pos, Math.min(batchSize, MAX_BATCH_DOCS));
        return handOver();
      }
    }
  };

  /**
   * Revision tag of an assumed master state. One received from the server is tagged under its `epoch`.
   * One this device pushed keeps the epoch of the version it was based on, but was tagged under the
   * epoch it was sealed under: its tag is the one this device sent, while remembered (`sent`). Otherwise
   * (e.g. after a restart, with the stream re-keyed since) the server answers a conflict whose version
   * is this very state, and the push is sent again against the server's tag (`sameVersion`).
   */
  const assumedTag = async (assumed: PlainRecord): Promise<string | null> => {
    const pushed = sent.get(assumed.id);
    if (pushed !== undefined && parseRevTag(pushed)?.n === assumed.rv) return pushed;
    return tagOf(keyring, assumed);
  };

  /** Whether RxDB's conflict handler resolves this conflict to the server's version itself. */
  const resolvesToMaster = async (
    master: WithDeleted<PlainRecord>,
    row: { newDocumentState: WithDeleted<PlainRecord>; assumedMasterState?: WithDeleted<PlainRecord> },
  ): Promise<boolean> => {
    const handler = collection.conflictHandler;
    const input = {
      realMasterState: master,
      newDocumentState: row.newDocumentState,
      ...(row.assumedMasterState ? { assumedMasterState: row.assumedMasterState } : {}),
    };
    const resolved = await handler.resolve(input, 'hale-pending-check');
    return handler.isEqual(resolved, master, 'hale-pending-check');
  };

  /**
   * Sends one push frame. A frame the server refuses as a whole for what it carries (TOO_LARGE, or
   * BAD_MESSAGE: one row can break the protocol's document rules, e.g. an audit-stream record without
   * the audit header, written by an older build) is split in halves and each sent again, down to single
   * rows; a single row refused that way is answered in `refused` (kept in unsent by the caller) instead of
   * failing the batch, which RxDB would send again for ever with every later write queued behind it.
   * Other failures (network, timeouts, a busy server, a reply that breaks the protocol) reject: the batch
   * fails and RxDB retries it.
   */
  const sendFrame = async (
    out: PushRow[],
    byIndex: number[],
    refused: FrameRefusal[],
  ): Promise<SentFrame[]> => {
    try {
      return [{ out, byIndex, reply: await connection.request<PushedFrame>({ t: 'push', rows: out }) }];
    } catch (error) {
      // `retry` marks the server's own error reply (a reply that breaks the protocol is not retryable).
      const content =
        error instanceof SyncError &&
        error.retry &&
        (error.code === 'TOO_LARGE' || error.code === 'BAD_MESSAGE');
      if (!content) throw error;
      if (out.length === 1) {
        refused.push({
          i: byIndex[0]!,
          doc: out[0]!.doc,
          code: error.code,
          message: `The server refused a record: ${error.message}`,
        });
        return [];
      }
      const half = Math.ceil(out.length / 2);
      const first = await sendFrame(out.slice(0, half), byIndex.slice(0, half), refused);
      return [...first, ...(await sendFrame(out.slice(half), byIndex.slice(half), refused))];
    }
  };

  /**
   * Whether a server version a push conflicted with was served to this device before the restore being
   * caught up with: the server kept it from a backup of the store of the incarnation this device recorded
   * (`keptFrom`; the floor holds that store's positions) and it sits at or below the floor. Its seq alone
   * says nothing: a store restored onto an empty disk gives versions stored since the restore positions it
   * served before. Without `keptFrom` (an older server, a backup of another incarnation) none counts.
   */
  const servedBefore = (
    master: ServedDoc,
    keptFrom: string | undefined,
    floor: Readonly<Record<string, number>>,
  ): boolean =>
    keptFrom !== undefined && keptFrom === incarnation.recorded && master.seq <= (floor[master.stream] ?? 0);

  /** Streams purged since this engine started. */
  const purgedHere = new Set<string>();
  /**
   * Ids of rows RxDB gathered before a purge of their stream emptied the record (the batch waited for a
   * connection meanwhile): their content is what the purge removed, and is not sent, also once access came
   * back (RxDB pushes the emptied deletion after them). Looked up only for streams purged since start: after
   * a restart RxDB gathers the stored state itself.
   */
  const supersededByPurge = async (rows: PushInput): Promise<Set<string>> => {
    const ids = rows
      .map((r) => r.newDocumentState)
      .filter((d) => purgedHere.has(d.stream) && !emptied(d))
      .map((d) => d.id);
    if (ids.length === 0) return new Set();
    const stored = await collection.storageInstance.findDocumentsById(ids, true);
    return new Set(stored.filter(emptied).map((d) => d.id));
  };

  /**
   * The issue of a local change waiting for server version `master` to pass `reason` (`unopenedWait`).
   * One code whatever the reason, which may change while it waits (NO_KEY, then AUTHOR_LOOKUP_FAILED once
   * the key came): the end of the wait clears it by record (`clearIssues`).
   */
  const waitIssue = (master: ServedDoc, reason: string): Omit<SyncIssue, 'at'> => ({
    code: CONFLICT_WAIT,
    message: `A newer server version of ${master.stream} record cannot be verified yet (${reason}); the local change waits for it`,
    stream: master.stream,
    id: master.id,
  });

  const pushRows = async (
    rows: PushInput,
    options: PushOptions = {},
  ): Promise<WithDeleted<PlainRecord>[]> => {
    await untilConnected();
    // While a restore of the server's store is caught up with, which server versions are older ones of
    // this device's depends on the floor the pull handler fixes first (see `ResetRun`).
    // Not fixed only right after start, until RxDB's first pull (which no push holds up) fixes it.
    if (options.floor === undefined) {
      while (reset !== null && reset.floor === null && !stopped) await reset.floorReady;
    }
    const floor = options.floor ?? reset?.floor ?? null;
    // Access must be known before deciding what may be sent: the server's list on this connection, not
    // the one kept from before (a grant may have been revoked or narrowed meanwhile).
    if (access.size === 0 || streamsStale) await refreshStreams();
    const superseded = await supersededByPurge(rows);
    /**
     * RxDB writes `stored`, answered as the server's version of `local`'s record, into the local copy
     * only after the push handler returned: `local` counts as pending until it has (`resolving`). Not
     * when a newer local write is pending (it counts already, and RxDB pushes it next), nor when `stored`
     * is `local` itself (nothing changes; RxDB's write of it would not end the wait).
     */
    const untilStored = (local: WithDeleted<PlainRecord>, stored: WithDeleted<PlainRecord>): void => {
      if (options.rxdb && !pending.has(local.id) && !sameVersion(stored, local))
        resolving.set(local.id, local);
    };
    // RxDB takes every row missing from the returned conflicts as stored on the server and never sends
    // it again. So a row the server did not take must be sent again here (a creation when the server lost
    // the record), or fail the batch so RxDB retries it (no key yet); only refusals that cannot change are
    // reported and left on this device.
    // `rebased`: rows sent against the server's tag given here instead of their assumed master state's;
    // `replaced`: rows sent as the version given here (`overwriteRefused`), not RxDB's new state.
    const attempt = async (
      retryEpoch: boolean,
      only?: ReadonlySet<number>,
      asCreation = false,
      rebased?: ReadonlyMap<number, string>,
      replaced?: ReadonlyMap<number, Overwrite>,
    ): Promise<WithDeleted<PlainRecord>[]> => {
      const held = { n: 0 };
      try {
        return await attemptHolding(held, retryEpoch, only, asCreation, rebased, replaced);
      } finally {
        releaseWaits(held);
      }
    };
    const attemptHolding = async (
      held: { n: number },
      retryEpoch: boolean,
      only?: ReadonlySet<number>,
      asCreation = false,
      rebased?: ReadonlyMap<number, string>,
      replaced?: ReadonlyMap<number, Overwrite>,
    ): Promise<WithDeleted<PlainRecord>[]> => {
      const toSeal: EncodeInput[] = [];
      const candidates: number[] = [];
      const refused: Refusal[] = [];
      const refuse = (i: number, code: string, message: string): void => {
        const row = rows[i]!;
        refused.push({ record: row.newDocumentState, base: row.assumedMasterState, code, message });
      };
      /** Rows the server refused alone as a whole frame (`sendFrame`). */
      const frameRefused: FrameRefusal[] = [];
      let missingKey = false;
      /** Rows without a write key that go on the key-wait list (`options.park`). */
      const waiting: Array<{ record: WithDeleted<PlainRecord>; base: WithDeleted<PlainRecord> | undefined }> =
        [];
      /** A row met a server version that cannot be verified yet (see below): the batch is sent again. */
      let unopened = false;
      let skipped = false;
      /** Per stream, changes of this device's never sent because access to it ended (`reportDiscarded`). */
      const lost = new Map<string, Array<{ id: string; kind: string }>>();
      for (const [i, row] of rows.entries()) {
        if (only !== undefined && !only.has(i)) continue;
        const doc = replaced?.get(i)?.version ?? row.newDocumentState;
        // An emptied deletion is what a purge left, no change of anyone's: never sent, also when access
        // came back before RxDB got to it (the server would take it for a deletion of the record). Nor is
        // a version the purge removed (`superseded`).
        const purged = emptied(doc) || superseded.has(doc.id);
        if (purged || !writable(doc.stream)) {
          // Writes to a stream whose access ended are local only; RxDB takes them as pushed. A purge that is
          // queued or due (the end passed, the timer is about to run) settles and names them as it removes
          // them (one report per stream); without one coming, they stop counting here, named all the same.
          if (purged || !readable(doc.stream)) {
            if (!purged && (ending.has(doc.stream) || endPassed(doc.stream))) continue;
            const settled = settlePending(doc.id, doc.rv);
            skipped = settled || skipped;
            if (settled && !purged) {
              const list = lost.get(doc.stream) ?? [];
              list.push({ id: doc.id, kind: doc.kind });
              lost.set(doc.stream, list);
            }
            continue;
          }
          refuse(i, 'NOT_WRITABLE', `Not allowed to write ${doc.stream}`);
          continue;
        }
        const write = await keyring.writeKey(doc.stream);
        // Waits on the list, answered as sent, so this push holds up nothing else (see `keyWaits`). Not a
        // row sent against a tag alone (`rebased`, `replaced`: the list needs the state it builds on), nor
        // beyond the list's bound.
        if (
          !write &&
          options.park &&
          rebased === undefined &&
          replaced === undefined &&
          roomForWait(doc.id, held)
        ) {
          waiting.push({ record: doc, base: asCreation ? undefined : row.assumedMasterState });
          continue;
        }
        if (!write) {
          // A failure of the push request (RxDB sends the batch again): it ends once a push passes
          // (`fromLoop`), or once this record is stored (below).
          report(
            {
              code: 'NO_KEY',
              message: `No key to write ${doc.stream}; will retry`,
              stream: doc.stream,
              id: doc.id,
            },
            { loop: 'push' },
          );
          missingKey = true;
          continue;
        }
        toSeal.push({ record: doc, write });
        candidates.push(i);
      }
      for (const [stream, records] of lost) reportDiscarded(stream, records, false);
      if (waiting.length > 0) {
        await parkRows(waiting);
        releaseWaits(held);
      }
      // With an offload the batch is sealed in chunks, so the worker seals chunk k+1 while the server
      // stores chunk k. Each sealed chunk goes out in frames packed to the protocol's limits (documents,
      // and ciphertext bytes counted as the server counts them); a version over MAX_DOC_BYTES is never
      // sent (refused TOO_LARGE here, kept in unsent). A failed request fails the batch after every frame
      // settled; RxDB then retries it, which the server answers idempotently (same tag).
      const chunk = deps.offload ? PUSH_PIPELINE_CHUNK : Math.max(1, toSeal.length);
      const sends: Array<Promise<{ sent: SentFrame[] } | { error: unknown }>> = [];
      let out: PushRow[] = [];
      let byIndex: number[] = [];
      let bytes = 0;
      const flush = (): void => {
        if (out.length === 0) return;
        for (const row of out) sent.set(row.doc.id, row.doc.rev);
        // Noted beside the send, not before it (see the header); a note that fails only leaves such a
        // version a conflict after a restart, as before the slots existed.
        const noted = noteUnanswered(out).catch(() => undefined);
        sends.push(
          Promise.all([noted, sendFrame(out, byIndex, frameRefused)]).then(
            ([, frames]) => ({ sent: frames }),
            (error: unknown) => ({ error }),
          ),
        );
        out = [];
        byIndex = [];
        bytes = 0;
      };
      let sealing = encodeRecords(codecDeps, toSeal.slice(0, chunk));
      for (let from = 0; from < toSeal.length; from += chunk) {
        const encoded = await sealing;
        if (from + chunk < toSeal.length) {
          sealing = encodeRecords(codecDeps, toSeal.slice(from + chunk, from + 2 * chunk));
          sealing.catch(() => undefined);
        }
        for (const [n, doc] of encoded.entries()) {
          if (!doc) continue;
          const i = candidates[from + n]!;
          const row = rows[i]!;
          const size = docBytes(doc);
          if (size > MAX_DOC_BYTES) {
            refuse(
              i,
              'TOO_LARGE',
              `A ${row.newDocumentState.kind} record is too large to sync (${size} bytes sealed, at most ${MAX_DOC_BYTES})`,
            );
            continue;
          }
          if (out.length >= MAX_BATCH_DOCS || bytes + size > MAX_BATCH_BYTES) flush();
          const assumedRev =
            rebased?.get(i) ??
            (row.assumedMasterState && !asCreation ? await assumedTag(row.assumedMasterState) : null);
          out.push({ doc, assumedRev });
          byIndex.push(i);
          bytes += size;
        }
        flush();
      }
      if (sends.length === 0) {
        if (skipped) await savePending();
        await hold(refused);
        if (missingKey)
          throw new SyncError('NO_KEY', 'no key yet to write some records; retrying later', true);
        return [];
      }
      const replies = (await Promise.all(sends)).flatMap((r) => {
        if ('error' in r) throw r.error;
        return r.sent;
      });
      for (const { i, doc, code, message } of frameRefused) {
        if (sent.get(doc.id) === doc.rev) sent.delete(doc.id);
        answeredRev(doc.id, doc.rev, true);
        refuse(i, code, message);
      }
      const masters: ServedDoc[] = [];
      /** Index into `rows` of the row each entry of `masters` answers. */
      const masterRows: number[] = [];
      /** Per entry of `masters`, the incarnation the server says it kept it from (`keptFrom`), if any. */
      const keptFroms: Array<string | undefined> = [];
      /** Per entry of `masters`, the tag of the version its row sent. */
      const sentRevs: string[] = [];
      const recreate = new Set<number>();
      /** Versions sent in place of RxDB's (`replaced`) that the server took: answered as its state. */
      const taken: Overwrite[] = [];
      let stale = false;
      /** A record marked diverged for its wait for a key was stored (`diverged`). */
      let settledWaits = false;
      /** The server stored a row of this attempt (`lastSyncedAt`). */
      let stored = false;
      for (const { out, byIndex, reply } of replies) {
        for (const [k, result] of reply.results.entries()) {
          const row = rows[byIndex[k]!]!;
          if (result.status === 'ok') {
            answeredRev(result.id, out[k]!.doc.rev, true);
            settlePending(result.id, row.newDocumentState.rv);
            stored = true;
            // Its wait for a write key (reported above by an earlier attempt) has ended.
            clearIssues({ code: 'NO_KEY', stream: result.stream, id: result.id });
            if (diverged.get(recordKey(result.stream, result.id))?.wait === true) {
              diverged.delete(recordKey(result.stream, result.id));
              settledWaits = true;
            }
            const over = replaced?.get(byIndex[k]!);
            if (over) {
              taken.push(over);
              untilStored(row.newDocumentState, over.version);
            }
            continue;
          }
          if (sent.get(result.id) === out[k]!.doc.rev) sent.delete(result.id);
          if (result.status === 'conflict') {
            if (result.master === null) {
              // The server lost or never had the assumed state: send it again as a creation.
              recreate.add(byIndex[k]!);
              continue;
            }
            masters.push(result.master);
            masterRows.push(byIndex[k]!);
            keptFroms.push(result.keptFrom);
            sentRevs.push(out[k]!.doc.rev);
            continue;
          }
          if (result.code === 'STALE_EPOCH') {
            // Not stored; sealed again under the new epoch (another tag). Versions sent before it stay.
            answeredRev(result.id, out[k]!.doc.rev, false);
            stale = true;
            continue;
          }
          answeredRev(result.id, out[k]!.doc.rev, true);
          refuse(byIndex[k]!, result.code, result.message);
        }
      }
      if (settledWaits) await saveDiverged();
      // The server's versions of every conflicting record, opened as one batch. RxDB takes the versions
      // sent in place of its own as the server's state of their records: it stores each here, as it
      // stores a conflict it resolves to the server's version.
      const conflicts: WithDeleted<PlainRecord>[] = taken.map((o) => o.version);
      await noteOverwritten(taken);
      // A server version that may not follow the state the local change was made on (RxDB's assumed
      // master state, the last one received) is not merged in: set aside BAD_TRANSITION like one that
      // does not verify. The local change is sent over it when that refusal holds for the version's
      // writer (`forgedOver`), else kept unsent. A creation sent again has no such state; one not newer
      // than it is no transition from it (an ancestor kept from before a restore, see below). A version
      // already set aside BAD_TRANSITION is set aside again whatever the assumed state: after a local
      // change it refused went unsent, RxDB assumes that change, which may carry the same number.
      const overwrites = new Map<number, Overwrite>();
      const opened = await decodeRecords(codecDeps, masters);
      const assumedOf = (k: number) =>
        asCreation || options.repush ? undefined : rows[masterRows[k]!]!.assumedMasterState;
      const contextOf = await noteVersionContexts(
        opened.flatMap((decoded, k) => {
          const assumed = assumedOf(k);
          return decoded.ok && assumed !== undefined ? [[assumed, decoded.record] as const] : [];
        }),
      );
      const decodedMasters: Judged[] = opened.map((decoded, k): Judged => {
        if (!decoded.ok) return decoded;
        const row = rows[masterRows[k]!]!;
        const before = refusedTransition(masters[k]!.stream, masters[k]!.id, masters[k]!.rev);
        const assumed = assumedOf(k);
        const message =
          assumed === undefined || decoded.record.rv <= assumed.rv
            ? null
            : receivedTransitionRefusal(assumed, decoded.record, contextOf(assumed));
        const why = before?.message ?? message;
        if (why === null) return decoded;
        // One level only: a version sent over a refused one that meets another is not sent again.
        // RxDB's own rows only: it stores the version the server took as a conflict's answer; another
        // caller (storeMerges) would read it as not taken.
        if (
          options.rxdb &&
          message !== null &&
          !rebased &&
          !replaced &&
          forgedOver(decoded.record, assumed)
        ) {
          overwrites.set(masterRows[k]!, {
            version: overwriteRefused(decoded.record, row.newDocumentState, writer),
            master: masters[k]!,
            by: decoded.record.by,
          });
        }
        return { ok: false, reason: 'BAD_TRANSITION', message: why, record: decoded.record };
      });
      // A server version that is the assumed master state itself is no conflict: only its tag was not the
      // one computed here (see `assumedTag`). Sent again against the server's tag, once.
      // After a restore of the server's store, a server version served before the restore (`servedBefore`)
      // with a lower revision number than the version this row builds on is an older version of that very
      // record (the store took versions in increasing numbers): the newer one is sent on top of it, once. A
      // version stored after the restore is another device's change, whatever its seq: a conflict as any other.
      // A version this device sent and heard no answer for (`followsUnanswered`), numbered below the row, is
      // what the row was made on: within a session RxDB would have sent it again first (answered as stored)
      // and then the row on top of it; after a restart the row is sent on top of it here, once.
      const rebase = new Map<number, string>();
      for (const [k, decoded] of decodedMasters.entries()) {
        const row = rows[masterRows[k]!]!;
        const assumed = row.assumedMasterState;
        const master = masters[k]!;
        const seen = floor !== null && servedBefore(master, keptFroms[k], floor);
        if (seen) options.servedBefore?.add(master.id);
        const base = assumed ?? (options.repush ? row.newDocumentState : undefined);
        const follows =
          decoded.ok &&
          !asCreation &&
          !rebased &&
          ((assumed !== undefined && sameVersion(decoded.record, assumed)) ||
            (seen && base !== undefined && decoded.record.rv < base.rv) ||
            followsUnanswered(master, decoded.record, row.newDocumentState));
        if (follows) rebase.set(masterRows[k]!, master.rev);
        // Not a version this row follows: another's (or one that cannot be told ours) holds over the
        // versions sent before this row.
        else answeredRev(master.id, sentRevs[k]!, true);
      }
      const rebasedIds = new Set([...rebase.keys()].map((i) => rows[i]!.newDocumentState.id));
      conflicts.push(...(await sortOutcomes(masters, decodedMasters)).filter((r) => !rebasedIds.has(r.id)));
      for (const [k, decoded] of decodedMasters.entries()) {
        const master = masters[k]!;
        if (decoded.ok) metInConflict(master.stream, master.id, master.rev);
      }
      /** Per row sent over a refused server version, that version's tag (what the server holds). */
      const over = new Map<number, string>();
      /** Rows waiting for a server version to open, on the key-wait list (`options.park`). */
      const parkAfter: Array<{
        record: WithDeleted<PlainRecord>;
        base: WithDeleted<PlainRecord> | undefined;
      }> = [];
      /**
       * Whether a local change meeting server version `master` (decoded as `decoded`) waits for it to open
       * (`wait`), waited long enough (`over`: CONFLICT_WAIT_MS of time connected passed since it was first
       * met, and it failed again since, after the keyring fetched that stream's envelopes or the author's
       * devices were asked for once more), or is no such wait (`no`). Ends the wait of a version that opened.
       */
      const unopenedWait = (master: ServedDoc, decoded: Judged): 'wait' | 'over' | 'no' => {
        if (!options.rxdb && !options.park) return 'no';
        const key = versionKey(master.stream, master.id, master.rev);
        const since = unopenedSince.get(key);
        if (decoded.ok || !RETRYABLE_QUARANTINE.has(decoded.reason)) {
          if (since !== undefined) {
            unopenedSince.delete(key);
            clearIssues({ code: CONFLICT_WAIT, stream: master.stream, id: master.id });
          }
          return 'no';
        }
        const now = connectedTime();
        if (since === undefined) {
          unopenedSince.set(key, now);
          return 'wait';
        }
        if (now - since < conflictWait) return 'wait';
        unopenedSince.delete(key);
        clearIssues({ code: CONFLICT_WAIT, stream: master.stream, id: master.id });
        return 'over';
      };
      for (const [k, decoded] of decodedMasters.entries()) {
        const master = masters[k]!;
        const row = rows[masterRows[k]!]!;
        const waited = unopenedWait(master, decoded);
        if (!decoded.ok && overwrites.has(masterRows[k]!)) {
          over.set(masterRows[k]!, master.rev);
        } else if (!decoded.ok && waited === 'wait') {
          // Not unreadable for good (NO_KEY: its epoch's key may still come, by an envelope or a grant;
          // AUTHOR_LOOKUP_FAILED): the local change stays pending and waits on the key-wait list (RxDB
          // takes it as sent, so it holds up nothing), sent again from there until that version opens and
          // is merged like any conflict (set aside meanwhile, and fetched again), or until the wait is
          // over (CONFLICT_WAIT_MS; below). Beyond the list's bound RxDB sends the batch again instead.
          report(waitIssue(master, decoded.reason));
          const id = row.newDocumentState.id;
          if (options.park && rebased === undefined && replaced === undefined && roomForWait(id, held)) {
            parkAfter.push({
              record: row.newDocumentState,
              base: asCreation || options.repush ? undefined : row.assumedMasterState,
            });
          } else unopened = true;
        } else if (!decoded.ok && waited === 'over') {
          // The wait is over: the local change goes to unsent, as one meeting a version that cannot be
          // verified; that version stays set aside and is fetched again.
          refuse(
            masterRows[k]!,
            'CONFLICT_UNREADABLE',
            decoded.reason === 'NO_KEY'
              ? `A newer server version of ${master.stream} record cannot be opened: its key did not arrive within ${Math.round(conflictWait / 1000)} s; the local change was not sent`
              : decoded.reason === 'NO_WRITE_GRANT'
                ? `A newer server version of ${master.stream} record was written by an account this device knows no write grant for, and none was learnt within ${Math.round(conflictWait / 1000)} s; the local change was not sent`
                : `A newer server version of ${master.stream} record cannot be verified: its author's devices could not be looked up within ${Math.round(conflictWait / 1000)} s; the local change was not sent`,
          );
        } else if (!decoded.ok) {
          refuse(
            masterRows[k]!,
            'CONFLICT_UNREADABLE',
            decoded.reason === 'BAD_TRANSITION'
              ? `A newer server version of ${master.stream} record breaks the record's rules; the local change was not sent`
              : `A newer server version of ${master.stream} record cannot be verified; the local change was not sent`,
          );
        } else if (!rebase.has(masterRows[k]!) && (await resolvesToMaster(decoded.record, row))) {
          // The local copy becomes the server's version and RxDB sends nothing more (e.g. the same record
          // deleted on two devices, or settled the same way on two): no reply will settle the pending
          // write.
          settlePending(row.newDocumentState.id, row.newDocumentState.rv);
          untilStored(row.newDocumentState, decoded.record);
        }
      }
      if (parkAfter.length > 0) {
        await parkRows(parkAfter, { conflict: true });
        releaseWaits(held);
      }
      await hold(refused);
      await savePending();
      // A sync only if the server stored something, or once nothing is left to send (the return below):
      // a push it stored nothing of (all STALE_EPOCH, or thrown back for a key) is no sync, and RxDB's
      // retries of it would each say the device just synced.
      if (stored) noteSynced();
      // A creation refused as a conflict comes back with the server's version, so this runs at most twice.
      if (recreate.size > 0 && !asCreation) conflicts.push(...(await attempt(retryEpoch, recreate, true)));
      if (rebase.size > 0)
        conflicts.push(...(await attempt(retryEpoch, new Set(rebase.keys()), false, rebase)));
      if (over.size > 0)
        conflicts.push(...(await attempt(retryEpoch, new Set(over.keys()), false, over, overwrites)));
      if (stale && retryEpoch) {
        await refreshStreams();
        if ((await keyring.refresh()) > 0) requestRetry();
        const again = await attempt(false, only, asCreation, rebased, replaced);
        return [...conflicts, ...again];
      }
      if (stale) {
        // Still behind after refreshing keys: let RxDB retry the batch later rather than drop it. A failure
        // of the push request: it ends once a push passes (`fromLoop`).
        report(
          { code: 'STALE_EPOCH', message: 'Waiting for the current key of a stream; will retry' },
          { loop: 'push' },
        );
        throw new SyncError('STALE_EPOCH', 'stream key epoch moved on; retrying later', true);
      }
      if (missingKey) {
        // The others were stored; RxDB sends the whole batch again, which the server answers idempotently.
        if ((await keyring.refresh()) > 0) requestRetry();
        throw new SyncError('NO_KEY', 'no key yet to write some records; retrying later', true);
      }
      if (unopened) {
        // Likewise; the key was asked for when the version was opened (the keyring fetches a missing one).
        // Under the wait's own code, which `error$` does not report: each waiting change is listed by
        // record, and cleared when its wait ends; a summary issue would outlive them.
        throw new SyncError(
          CONFLICT_WAIT,
          'newer server versions of some records cannot be verified yet; their local changes wait',
          true,
        );
      }
      if (!stored) noteSynced();
      return conflicts;
    };
    return attempt(true);
  };
  // RxDB hands this handler every local version the server has not taken, after a restart too (from its
  // own stored push checkpoint and assumed master states), whatever became of the note of it: a write
  // whose note a crash lost (the list is saved a macrotask after the write) counts as pending again here,
  // before the handler waits for a connection. Not saved for it (`handed`): RxDB hands it again after
  // another crash, and versions written around the records API (bulk inserts) would grow every save.
  const pushHandler = (rows: PushInput): Promise<WithDeleted<PlainRecord>[]> => {
    let counted = false;
    for (const { newDocumentState: doc } of rows) {
      // What a purge left is no change of anyone's, never sent: also the emptied state of a record pulled
      // here, which was never pending (not in `answered`).
      if (emptied(doc) || (answered.get(doc.id) ?? -1) >= doc.rv || (pending.get(doc.id) ?? -1) >= doc.rv)
        continue;
      if (!pending.has(doc.id)) handed.add(doc.id);
      pending.set(doc.id, doc.rv);
      counted = true;
    }
    if (counted) patch({ pendingWrites: pendingCount() });
    if (counted && fatal?.code === 'DEVICE_REVOKED') keepRevokedUnsent();
    return rxdbPush(() => pushOnWaits(rows)).then(
      (conflicts) => {
        refusals.push = 0;
        loopPassed('push');
        return conflicts;
      },
      async (error: unknown) => {
        await busyBackoff('push', error);
        throw error;
      },
    );
  };
  /**
   * RxDB's rows, sent. A version made on one waiting on the key-wait list (which RxDB took as the server's
   * state) builds on what that one was made on, and is sent against it: it carries the waiting one's
   * content further, and answers it (stored, kept unsent, merged by RxDB, or waiting in its place). Read
   * here, never while the list's own send runs (`rxdbPush`), so the list is not being sent meanwhile.
   */
  const pushOnWaits = async (input: PushInput): Promise<WithDeleted<PlainRecord>[]> => {
    const built: WithDeleted<PlainRecord>[] = [];
    const rows: PushInput =
      keyWaits.size === 0
        ? input
        : input.map((row) => {
            const w = keyWaits.get(row.newDocumentState.id);
            if (!w || !row.assumedMasterState || !sameVersion(row.assumedMasterState, w.record)) return row;
            built.push(row.newDocumentState);
            return w.base === undefined
              ? { newDocumentState: row.newDocumentState }
              : { newDocumentState: row.newDocumentState, assumedMasterState: w.base };
          });
    const conflicts = await pushRows(rows, { rxdb: true, park: true });
    let dropped = false;
    for (const doc of built) {
      const w = keyWaits.get(doc.id);
      if (!w || w.record.rv >= doc.rv) continue;
      keyWaits.delete(doc.id);
      clearIssues({ code: 'NO_KEY', stream: doc.stream, id: doc.id });
      dropped = true;
    }
    if (dropped) await saveKeyWaits();
    return conflicts;
  };
  const busyRetry = deps.busyRetry ?? {
    retryMs: RETRY_MS,
    baseMs: PUSH_BACKOFF_BASE_MS,
    maxMs: PUSH_BACKOFF_MAX_MS,
  };
  /** Requests of each direction refused in a row as busy or failing (`busyBackoff`); 0 once one passes. */
  const refusals: Record<LoopDirection, number> = { push: 0, pull: 0 };
  /** Ends a backoff wait under way early: stop() (it never holds up a close) and a new connection. */
  const wakes = new Set<() => void>();
  const wakeBackoffs = (): void => {
    for (const wake of [...wakes]) wake();
  };
  /**
   * Before a push or pull refused for `error` is handed back to RxDB: for a busy or failing server, waits
   * the backoff (see PUSH_BACKOFF_BASE_MS) less RxDB's own retry wait; nothing for other failures (a
   * dropped link waits for the next connection in the handlers; a TIMEOUT already waited the request's
   * whole time; the engine's own retries have their own bounds). A new connection ends the wait: the
   * server it reaches may be another (restarted) one.
   */
  const busyBackoff = async (direction: LoopDirection, error: unknown): Promise<void> => {
    if (stopped || !(error instanceof SyncError) || !PUSH_BACKOFF_CODES.has(error.code)) return;
    const wait = Math.min(busyRetry.baseMs * 2 ** refusals[direction], busyRetry.maxMs) - busyRetry.retryMs;
    refusals[direction]++;
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        wakes.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, wait);
      wakes.add(wake);
    });
  };

  const saveIncarnation = (): Promise<void> => deps.meta.set('incarnation', incarnation);

  /** Acts on the server store's incarnation announced in `ready` (`incarnationAction`). */
  const noteIncarnation = (served: string | undefined): void => {
    const action = incarnationAction(incarnation.recorded, served);
    if (served === undefined || action === 'keep') {
      // Back to the incarnation recorded: a catch-up being waited for is not due any more.
      if (reset?.deferred === true) {
        reset.release();
        reset = null;
      }
      return;
    }
    if (action === 'adopt') {
      incarnation = { ...incarnation, recorded: served };
      // Not awaited: if it is lost, the next `ready` adopts it again.
      void saveIncarnation().catch(() => undefined);
      return;
    }
    const now = deps.now();
    const recent = recentResyncs(incarnation.resyncs ?? [], now);
    const wait = resyncDelay(recent, served, now);
    // Set before the pull and push handlers resume on this connection (they run after this returns).
    reset?.release();
    let release = (): void => undefined;
    const floorReady = new Promise<void>((resolve) => (release = resolve));
    const run: ResetRun = {
      to: served,
      floor: null,
      floorReady,
      release,
      saved: null,
      repush: null,
      fromZero: false,
      finishing: false,
      deferred: wait > 0,
    };
    reset = run;
    if (!run.deferred) {
      liveEra++;
      // Persisted with the floor (`fixFloor`), or here when the floor waits for the first pull.
      incarnation = { ...incarnation, resyncs: [...recent, { to: served, at: now }].slice(-MAX_RESYNCS) };
    }
    // Until the pull handler has read RxDB's stored positions once (at start), `known` may lack them: the
    // first pull fixes the floor then (RxDB runs its first pull whatever is being pushed).
    if (checkpointSeen) fixFloor(run);
    else if (!run.deferred) void saveIncarnation().catch(() => undefined);
    if (run.deferred) {
      const restores = new Set([...recent.map((r) => r.to), served]).size;
      const hours = Math.max(1, Math.ceil((now - (recent[0]?.at ?? now)) / 3_600_000));
      report({
        code: 'SERVER_RESTORES_REPEATED',
        message:
          `The server reported being restored from a backup ${restores} times in ${hours} hour${
            hours === 1 ? '' : 's'
          }. This device does not send all its records again before ${new Date(now + wait).toISOString()} ` +
          '(it does at the first connection after that); sync goes on meanwhile. A server restored this ' +
          'often is broken or misbehaving: report it to whoever runs it.',
      });
      return;
    }
    report({
      code: 'SERVER_RESTORED',
      message:
        'The server was restored from a backup and may have lost recent changes: this device is sending ' +
        'its records again and fetching everything anew. Keep it connected until sync is done, and ' +
        'connect your other devices too: changes only they hold reach the server that way.',
    });
  };

  /**
   * Fixes the floor of a reset: the one persisted by an earlier run, else the positions seen so far (only
   * served before the restore: nothing is requested on the new connection before this runs). Persisted
   * before the run can finish (`saved`).
   */
  const fixFloor = (run: ResetRun): void => {
    const floor = incarnation.reset?.floor ?? { ...known };
    incarnation = { ...incarnation, reset: { to: run.to, floor } };
    run.floor = floor;
    run.saved = saveIncarnation();
    run.saved.catch(() => undefined);
    run.release();
  };

  /** The local record as RxDB hands it to the push handler (no storage fields). */
  const plainOf = (d: RxDocumentData<DeviceRecord>): WithDeleted<PlainRecord> => {
    const { _meta: _m, _rev: _r, _attachments: _a, ...record } = d;
    return record;
  };

  /**
   * Whether this device sends its copy of a record again after a restore: a version of its own account
   * (the author must be a device of `by`) in a stream it may read and write, not emptied by a purge.
   * Writes not acknowledged yet are RxDB's to send (with the state they build on), and a version the
   * server refused before stays refused (diverged, kept in unsent).
   */
  const repushable = (d: RxDocumentData<DeviceRecord>): boolean =>
    d.by === deps.accountId &&
    readable(d.stream) &&
    writable(d.stream) &&
    !(d._deleted && emptied(d)) &&
    !pending.has(d.id) &&
    !diverged.has(recordKey(d.stream, d.id));

  /** Sends every local document this device may send again, page by page (see `ResetRun`). */
  const repushAll = async (run: ResetRun): Promise<boolean> => {
    const storage = collection.storageInstance;
    let after = '';
    try {
      for (;;) {
        if (reset !== run || stopped) return false;
        const query = prepareQuery<DeviceRecord>(storage.schema, {
          selector: { id: { $gt: after } },
          sort: [{ id: 'asc' }],
          skip: 0,
          limit: REPUSH_PAGE,
        });
        const { documents } = await storage.query(query);
        const last = documents.at(-1);
        if (!last) return true;
        after = last.id;
        const mine = documents.filter(repushable).map(plainOf);
        if (mine.length > 0) await repushPage(mine, run.floor ?? {});
      }
    } catch (error) {
      report({
        code: 'RESTORE_RESYNC_FAILED',
        message: `Could not send every record to the restored server yet; retried at the next connection: ${
          error instanceof Error ? error.message : String(error)
        }`,
      });
      return false;
    }
  };

  /**
   * Sends local copies again as creations. The server answers `ok` for a version it holds (also under
   * another tag: a conflict with the same version, which settles quietly) or stores one it lost; an older
   * version of the record served before the restore is overwritten (`pushRows`). What else conflicts:
   * a later version of what this device held before the restore (served before it, `servedBefore`: it had
   * not pulled it yet) is left to the pull from 0, which applies it; any other (stored since the restore,
   * or not known to be older: an older server) is merged with the local copy as RxDB merges any conflict,
   * sent on top of it and written here (`storeMerges`), so neither side is lost.
   */
  const repushPage = async (mine: WithDeleted<PlainRecord>[], floor: Record<string, number>) => {
    const seenBefore = new Set<string>();
    const conflicts = await pushRows(
      mine.map((r) => ({ newDocumentState: r })),
      { repush: true, floor, servedBefore: seenBefore },
    );
    const local = new Map(mine.map((r) => [r.id, r]));
    const handler = collection.conflictHandler;
    const merges: Merge[] = [];
    for (const master of conflicts) {
      const copy = local.get(master.id);
      if (!copy || handler.isEqual(master, copy, 'hale-restore')) continue;
      if (seenBefore.has(master.id) && master.rv > copy.rv) continue;
      const resolved = await handler.resolve(
        { realMasterState: master, newDocumentState: copy },
        'hale-restore',
      );
      if (!handler.isEqual(resolved, master, 'hale-restore')) merges.push({ copy, master, resolved });
    }
    if (merges.length > 0) await storeMerges(merges);
  };

  /**
   * Sends merged versions on top of the server's and, once taken, writes each here in place of the copy
   * it merged (unless that copy changed meanwhile: RxDB then sends the change and merges it itself).
   */
  const storeMerges = async (
    merges: readonly Merge[],
    { overMaster = false }: { overMaster?: boolean } = {},
  ): Promise<Set<string>> => {
    // Whether a local change newer than the copy is pending, read before the push settles the record.
    const newerLocal = new Set(
      merges.filter((m) => (pending.get(m.copy.id) ?? 0) > m.copy.rv).map((m) => m.copy.id),
    );
    const again = await pushRows(
      merges.map((m) => ({ newDocumentState: m.resolved, assumedMasterState: m.master })),
    );
    const notTaken = new Set([
      ...again.map((r) => r.id),
      ...unsent
        .filter((u) => merges.some((m) => m.resolved.id === u.id && m.resolved.rv === u.rv))
        .map((u) => u.id),
    ]);
    const taken = merges.filter((m) => !notTaken.has(m.resolved.id));
    const takenIds = new Set(taken.map((m) => m.copy.id));
    if (taken.length === 0) return takenIds;
    const storage = collection.storageInstance;
    const held = new Map(
      (
        await storage.findDocumentsById(
          taken.map((m) => m.copy.id),
          true,
        )
      ).map((d) => [d.id, d]),
    );
    const writes = [];
    const isEqual = collection.conflictHandler.isEqual;
    for (const { copy, resolved } of taken) {
      const previous = held.get(copy.id);
      // `overMaster`: the copy was a version on the key-wait list, which RxDB took as sent, so RxDB may
      // have stored a served version over it meanwhile (the one met now, or one before it: a merge sent
      // earlier whose answer was lost is this device's own, never stored here as served). Any of them is
      // replaced, not a newer one; a local change made since is not (RxDB sends it, and merges it itself).
      if (
        !previous ||
        !(
          isEqual(plainOf(previous), copy, 'hale-restore') ||
          (overMaster && !newerLocal.has(copy.id) && previous.rv < resolved.rv)
        )
      )
        continue;
      writes.push({
        previous,
        document: {
          ...previous,
          ...resolved,
          _meta: { ...previous._meta, lwt: Math.max(deps.now(), previous._meta.lwt + 1) },
          _rev: createRevision(collection.database.token, previous),
        },
      });
    }
    if (writes.length > 0) await storage.bulkWrite(writes, 'hale-restore-merge');
    return takenIds;
  };

  // The key-wait list's own send runs alone: a version made on a waiting one is sent against that one's
  // base (`pushOnWaits`), which holds only while the waiting one is not being sent. RxDB's pushes run side
  // by side (it sends a batch's frames at once: serialised, live sync took twice as long at 100k records);
  // the list's send waits until none runs, and new ones wait for it.
  let pushesRunning = 0;
  let pushesIdle: Array<() => void> = [];
  let listTurn: Promise<void> | null = null;
  const rxdbPush = async <T>(run: () => Promise<T>): Promise<T> => {
    while (listTurn) await listTurn;
    pushesRunning++;
    try {
      return await run();
    } finally {
      pushesRunning--;
      if (pushesRunning === 0) {
        const idle = pushesIdle;
        pushesIdle = [];
        for (const resolve of idle) resolve();
      }
    }
  };
  /** Runs the list's send alone (one at a time: `wakeKeyWaits` starts one only when none runs). */
  const listPush = async (run: () => Promise<void>): Promise<void> => {
    let release = (): void => undefined;
    listTurn = new Promise<void>((resolve) => (release = resolve));
    try {
      if (pushesRunning > 0) await new Promise<void>((resolve) => pushesIdle.push(resolve));
      await run();
    } finally {
      listTurn = null;
      release();
    }
  };
  let keyWaitRun: Promise<void> | null = null;
  let keyWaitDue = false;
  let keyWaitAttempts = 0;
  let keyWaitTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends the waiting versions again after the backoff, while any wait (see KEY_WAIT_RETRY_BASE_MS). */
  const armKeyWaits = (reset = false): void => {
    if (reset) keyWaitAttempts = 0;
    if (keyWaitTimer !== undefined) clearTimeout(keyWaitTimer);
    keyWaitTimer = undefined;
    if (stopped || keyWaits.size === 0) {
      keyWaitAttempts = 0;
      return;
    }
    const { baseMs, maxMs } = deps.keyWaitRetry ?? {
      baseMs: KEY_WAIT_RETRY_BASE_MS,
      maxMs: KEY_WAIT_RETRY_MAX_MS,
    };
    const delay = Math.min(baseMs * 2 ** keyWaitAttempts, maxMs);
    keyWaitAttempts++;
    keyWaitTimer = setTimeout(() => {
      keyWaitTimer = undefined;
      wakeKeyWaits();
    }, delay);
    (keyWaitTimer as { unref?: () => void }).unref?.();
  };
  /** A key may have come (a connection, an access change, the write guard): the waiting versions are sent. */
  const wakeKeyWaits = (reset = false): void => {
    if (reset) keyWaitAttempts = 0;
    if (stopped || keyWaits.size === 0) return;
    keyWaitDue = true;
    if (!linkUp || keyWaitRun) return;
    keyWaitDue = false;
    keyWaitRun = listPush(sendKeyWaits)
      // What was not answered waits on (its NO_KEY issue stays); a dropped link or a server version that
      // cannot be verified yet is tried again at the next wake.
      .catch(() => undefined)
      .finally(() => {
        keyWaitRun = null;
        armKeyWaits();
        if (keyWaitDue) wakeKeyWaits();
      });
  };
  /**
   * Sends the waiting versions whose key is now held (or whose stream may no longer be written or read:
   * `pushRows` answers those), each against the state it was made on. A server version met meanwhile is
   * merged with it as RxDB merges a conflict, the merge sent on top of it and written here in place of the
   * waiting version or of that server version (RxDB may have stored it over the waiting one). An entry
   * leaves the list once answered; one whose merge was not taken waits on.
   */
  const sendKeyWaits = async (): Promise<void> => {
    if (keyWaits.size === 0 || stopped || !linkUp) return;
    await keyring.refresh().catch(() => 0);
    const ready: KeyWait[] = [];
    for (const w of keyWaits.values()) {
      const s = w.record.stream;
      if (!readable(s) || !writable(s) || (await keyring.writeKey(s)) !== null) ready.push(w);
    }
    if (ready.length === 0) return;
    for (const w of ready) {
      keyWaits.delete(w.record.id);
      keyWaitsSending.set(w.record.id, w);
    }
    const handler = collection.conflictHandler;
    try {
      const size = deps.batchSize ?? 500;
      for (let from = 0; from < ready.length; from += size) {
        const part = ready.slice(from, from + size);
        const conflicts = await pushRows(
          part.map((w) =>
            w.base === undefined
              ? { newDocumentState: w.record }
              : { newDocumentState: w.record, assumedMasterState: w.base },
          ),
          { park: true },
        );
        const byId = new Map(part.map((w) => [w.record.id, w]));
        const merges: Merge[] = [];
        for (const master of conflicts) {
          const copy = byId.get(master.id)?.record;
          if (!copy || handler.isEqual(master, copy, 'hale-key-wait')) continue;
          const resolved = await handler.resolve(
            { realMasterState: master, newDocumentState: copy },
            'hale-key-wait',
          );
          // The server's version already is the merge (both deleted, or the same content written later
          // there): nothing to send over it, which the server would refuse (the revision number must
          // grow). The wait is answered; the pull puts that version here as for any served version.
          if (!handler.isEqual(resolved, master, 'hale-key-wait')) merges.push({ copy, master, resolved });
        }
        const taken = merges.length > 0 ? await storeMerges(merges, { overMaster: true }) : new Set();
        for (const w of part) {
          if (merges.some((m) => m.copy.id === w.record.id) && !taken.has(w.record.id)) continue;
          keyWaitsSending.delete(w.record.id);
          if (!keyWaits.has(w.record.id))
            clearIssues({ code: 'NO_KEY', stream: w.record.stream, id: w.record.id });
        }
        await saveKeyWaits();
      }
    } finally {
      // Not answered (the link dropped, a merge not taken): waiting again, unless a newer one took its place.
      for (const [id, w] of keyWaitsSending) if (!keyWaits.has(id)) keyWaits.set(id, w);
      keyWaitsSending.clear();
      // Revoked meanwhile: what waits can never be sent (kept unsent, the list emptied on disk too).
      if (fatal?.code === 'DEVICE_REVOKED' && keyWaits.size > 0) keepRevokedUnsent();
    }
  };

  /**
   * Records the new incarnation once the pull from 0 caught up and everything local was pushed. Not if the
   * run was given up (another `ready`), or not every local document could be sent: the next `ready`
   * starts over.
   */
  const finishReset = async (run: ResetRun): Promise<void> => {
    if (run.finishing) return;
    run.finishing = true;
    try {
      if (!(await run.repush)) return;
      await run.saved;
      await replication?.awaitInSync();
      if (reset !== run || stopped) return;
      incarnation = {
        recorded: run.to,
        ...(incarnation.resyncs === undefined ? {} : { resyncs: incarnation.resyncs }),
      };
      await saveIncarnation();
      if (reset === run) reset = null;
      run.release();
      retryPassed('RESTORE_RESYNC_FAILED');
      report({
        code: 'RESTORE_SYNCED',
        message: 'This device has sent its records to the restored server again and is up to date with it.',
      });
    } finally {
      run.finishing = false;
    }
  };

  /**
   * Empties the stream's deletions that still hold content: a deletion keeps the record's last content
   * (one made offline was never even sent), and it would outlive the access. The collection cannot write
   * deleted documents, so this goes through its storage instance, which seals them at rest and tells the
   * collection and RxDB's replication (which takes the emptied version as pushed: see the push handler).
   */
  const emptyDeletions = async (stream: string): Promise<void> => {
    const storage = collection.storageInstance;
    const query = prepareQuery<DeviceRecord>(storage.schema, {
      selector: { stream, _deleted: { $eq: true } },
      sort: [{ id: 'asc' }],
      skip: 0,
    });
    // A document written meanwhile (a conflict, 409) is read and emptied again.
    for (let tries = 0; tries < 3; tries++) {
      const { documents } = await storage.query(query);
      const full = documents.filter((d) => Object.keys(d.data).length > 0 || d.conflictData !== null);
      if (full.length === 0) return;
      const { error } = await storage.bulkWrite(
        full.map((d) => ({
          previous: d,
          document: { ...d, data: {}, conflict: false, conflictData: null },
        })),
        'hale-purge-deletions',
      );
      if (error.length === 0) return;
    }
    throw new Error('deleted records kept changing while they were emptied');
  };

  /**
   * Tells the person which changes made on this device are removed with the records of a stream whose
   * access ended before the server took them: it reads like sync finished otherwise (pending 0, nothing
   * unsent). Ids and kinds only, never content.
   */
  const reportDiscarded = (
    stream: string,
    records: ReadonlyArray<{ id: string; kind: string }>,
    purging: boolean,
  ): void => {
    const head = `${records.length} change(s) made on this device to ${stream} were never sent: access to it ended${purging ? ', and they are removed with its records' : ''}:`;
    // As many as fit in a message; `records` names them all (up to MAX_ISSUE_RECORDS).
    const named = namesThatFit(
      records.map((r) => `${r.kind} ${r.id}`),
      MAX_ISSUE_MESSAGE - head.length - 1,
      ', ',
    );
    report({
      code: 'UNSENT_PURGED',
      message: `${head} ${named}`,
      stream,
      ...(records.length === 1 ? { id: records[0]!.id } : {}),
      records: records.slice(0, MAX_ISSUE_RECORDS).map((r) => ({ id: r.id, kind: r.kind })),
    });
  };

  /**
   * Deletes a stream's local copy without pushing anything for it (access has ended). The records are
   * first emptied, then deleted, and the records deleted before are emptied too (`emptyDeletions`), so
   * neither the tombstones nor the replication's own copy of each record (RxDB keeps the last pushed state
   * beside the collection, and takes the emptied tombstone as pushed) keep the content. No `cleanup()`:
   * it would wait for the replication to be in sync, which never happens while offline.
   */
  const purge = async (removed: RemovedStream): Promise<number> => {
    purgedHere.add(removed.stream);
    access.delete(removed.stream);
    subscribed.delete(removed.stream);
    delete known[removed.stream];
    dropFloor([removed.stream]);
    restartTokens.delete(removed.stream);
    restart.add(removed.stream);
    await saveRestart();
    // Its local writes will never be sent (the push handler skips streams that are not readable), so
    // they are not pending any more; deletions included, hence the look-up with tombstones. They are
    // named to the person, with the refused versions kept unsent, which go too.
    const discarded = new Map<string, { id: string; kind: string }>();
    if (pending.size > 0) {
      const held = await collection.storageInstance.findDocumentsById([...pending.keys()], true);
      const ended = held.filter((d) => d.stream === removed.stream);
      for (const d of ended) {
        // Settled for good (`answered`), not only forgotten: RxDB may hand these versions again (a batch it
        // retries), and counted afresh they would show as pending until the push handler drops them.
        settlePending(d.id, d.rv);
        discarded.set(d.id, { id: d.id, kind: d.kind });
      }
      if (ended.length > 0) await savePending();
    }
    // Versions waiting for a key go likewise (the local copy may be a served version since).
    const waitingHere = [...keyWaits.values(), ...keyWaitsSending.values()].filter(
      (w) => w.record.stream === removed.stream,
    );
    if (waitingHere.length > 0) {
      for (const { record } of waitingHere) {
        keyWaits.delete(record.id);
        keyWaitsSending.delete(record.id);
        clearIssues({ code: 'NO_KEY', stream: record.stream, id: record.id });
        if (settlePending(record.id, record.rv)) await savePending();
        discarded.set(record.id, { id: record.id, kind: record.kind });
      }
      await saveKeyWaits();
    }
    for (const u of unsent) {
      if (u.stream === removed.stream && !discarded.has(u.id))
        discarded.set(u.id, { id: u.id, kind: u.kind });
    }
    if (discarded.size > 0) reportDiscarded(removed.stream, [...discarded.values()], true);
    const count = await clearStream(removed.stream);
    keyring.forgetStream(removed.stream);
    // Nothing of the stream is a copy any more (freshness.ts ignores emptied deletions).
    const left = [...diverged].filter(([, r]) => r.stream === removed.stream);
    if (left.length > 0) {
      for (const [key] of left) diverged.delete(key);
      await saveDiverged();
    }
    if (unsent.some((u) => u.stream === removed.stream)) {
      await saveUnsent(unsent.filter((u) => u.stream !== removed.stream));
    }
    // Refused versions' content kept aside goes with the stream; their entries stay, saying so.
    if (keptSlots > 0 && quarantine.some((q) => q.stream === removed.stream && q.slot !== undefined)) {
      const at = iso();
      await saveQuarantine(
        quarantine.map((q) =>
          q.stream === removed.stream && q.slot !== undefined ? withoutContent(q, 'purged', at) : q,
        ),
      );
    }
    // The stream starts again from 0 if access comes back: nothing of it is left to fetch again.
    if (gaps.delete(removed.stream)) await saveGaps();
    deps.onPurged?.(removed, count);
    removed$.next(removed);
    return count;
  };

  /**
   * Empties and deletes every local document of `stream`, deletions included (see `purge`); answers how
   * many were not deleted yet.
   */
  const clearStream = async (stream: string): Promise<number> => {
    const docs = await collection.find({ selector: { stream } }).exec();
    if (docs.length > 0) {
      await collection.bulkUpsert(
        docs.map((d) => ({ ...d.toMutableJSON(), data: {}, conflict: false, conflictData: null })),
      );
      await collection.bulkRemove(docs.map((d) => d.primary));
    }
    await emptyDeletions(stream);
    return docs.length;
  };

  /** Streams a `sweep` is queued for. */
  const sweeping = new Set<string>();
  /**
   * RxDB stored a served version of a stream this device may not read: one handed over before access to
   * it ended, which RxDB persisted only after the purge (it stores handed batches later, and a live batch
   * only once no push runs; nothing tells when, nor whether it will). It is emptied and removed again at
   * once, in order with purges and live frames. Nothing is handed over once access ended, so only such
   * stragglers come here.
   */
  const sweep = (stream: string): void => {
    if (sweeping.has(stream) || stopped) return;
    sweeping.add(stream);
    const run = liveQueue.then(async () => {
      sweeping.delete(stream);
      // Readable again (granted anew): the stream is pulled from 0, and the version may stay.
      if (!readable(stream) && !stopped) await clearStream(stream);
    });
    liveQueue = run.catch(() => undefined);
    run.catch((error: unknown) =>
      report({
        code: 'PURGE_FAILED',
        message: `Could not remove ${stream} from this device: ${error instanceof Error ? error.message : String(error)}`,
        stream,
      }),
    );
  };

  /**
   * Access to these streams ended: nothing more is read or written for them from now on, and their local
   * copies are deleted in order with the live frames, so a frame decoded before the end cannot bring
   * records back after the purge.
   */
  /**
   * Of the ends a server frame names (`accessChanged` removed, `pulled` denied), those of streams this
   * device follows or holds anything of: another has nothing to end, and a server naming streams at will
   * must not fill the issues.
   */
  const heldOf = (named: readonly RemovedStream[]): RemovedStream[] =>
    named.filter((r) => access.has(r.stream) || known[r.stream] !== undefined || ending.has(r.stream));
  /**
   * Ends access to `ended`, streams the server's list left out, for the reason the server gives: its clock
   * and its grants decide, and the reason guessed on this device's clock (expired if the end it knew
   * passed) is wrong when the clocks disagree or a grant was revoked and then ran out. A pull asking past
   * every document (nothing served, nothing logged) lists each refused stream in `denied` with its code.
   * Meanwhile each is owed its purge (persisted, so a crash in between purges it at the next open), and a
   * listing running beside this one leaves it alone. A stream the server does not refuse (access came
   * back since the list), or an answer that does not come, keeps the guessed reason.
   */
  const endAsServerSays = async (ended: readonly RemovedStream[]): Promise<void> => {
    const others = ended.filter((r) => !isOwn(r.stream));
    for (const r of others) ending.set(r.stream, r);
    if (others.length > 0) noteAccess();
    const told = new Map<string, RemovedStream['reason']>();
    for (let i = 0; i < others.length; i += STREAMS_PER_REQUEST) {
      const streams = others
        .slice(i, i + STREAMS_PER_REQUEST)
        .map((r) => ({ stream: r.stream as StreamAccess['stream'], since: Number.MAX_SAFE_INTEGER }));
      const reply = await connection
        .request<PulledFrame>({ t: 'pull', streams, limit: 1, maxBytes: MAX_BATCH_BYTES }, { wait: false })
        .catch(() => null);
      for (const d of reply?.denied ?? []) {
        if (d.code === 'CONSENT_EXPIRED') told.set(d.stream, 'expired');
        else if (d.code === 'CONSENT_REVOKED') told.set(d.stream, 'revoked');
      }
    }
    await endAccess(ended.map((r) => ({ stream: r.stream, reason: told.get(r.stream) ?? r.reason })));
  };

  const endAccess = (claimed: readonly RemovedStream[]): Promise<void> => {
    // Never on the server's word for this account's own streams (see `refuseOwnClaim`).
    const ended = claimed.filter((r) => {
      if (!isOwn(r.stream)) return true;
      refuseOwnClaim(r.stream, `access ended (${r.reason})`);
      return false;
    });
    if (ended.length === 0) return Promise.resolve();
    for (const r of ended) {
      access.delete(r.stream);
      endedBecause.set(r.stream, r.reason);
      subscribed.delete(r.stream);
      ending.set(r.stream, r);
      report({
        code: r.reason === 'expired' ? 'CONSENT_EXPIRED' : 'CONSENT_REVOKED',
        message: `Access to ${r.stream} ended (${r.reason}); its records are being removed from this device`,
        stream: r.stream,
      });
    }
    // Persisted in one write with the list it leaves: the stream is always either listed or owed a purge.
    noteAccess();
    const run = liveQueue.then(async () => {
      for (const r of ended) {
        try {
          await purge(r);
          ending.delete(r.stream);
        } catch (error) {
          // Owed still (also if an earlier purge of it succeeded): done at the next open.
          ending.set(r.stream, r);
          report({
            code: 'PURGE_FAILED',
            message: `Could not remove ${r.stream} from this device: ${error instanceof Error ? error.message : String(error)}`,
            stream: r.stream,
          });
        }
      }
      noteAccess();
    });
    liveQueue = run.catch(() => undefined);
    return run;
  };

  const onFrame = (frame: ServerFrame): void => {
    const failed = (error: unknown): void =>
      report({ code: 'LIVE_APPLY_FAILED', message: error instanceof Error ? error.message : String(error) });
    if (frame.t === 'changes') void handleChanges(frame).catch(failed);
    else if (frame.t === 'accessChanged') void handleAccess(frame).catch(failed);
    else if (frame.t === 'error') report({ code: frame.code, message: frame.message }, { server: true });
  };

  const handleChanges = (frame: ChangesFrame): Promise<void> => {
    // Decoding starts at once (frames overlap on the offload); applying is strictly in arrival order,
    // and one failure must not block the frames after it.
    const served = decodeServed(frame.docs);
    served.catch(() => undefined);
    const era = liveEra;
    // RxDB drops this batch if a pull call starts before it is stored: the pass must name the stream again,
    // also when a page asked before this frame answers it drained.
    if (frame.docs.length > 0) liveTick++;
    for (const d of frame.docs) {
      lastLive.set(d.stream, liveTick);
      drained.delete(d.stream);
    }
    const run = liveQueue.then(async () => {
      // Served by the store before a restore whose catch-up started since: its pull from 0 serves it again.
      if (era !== liveEra) return;
      const before = { ...known };
      const applied = await applyDecoded(await served, era);
      if (applied === null || era !== liveEra) return;
      const documents = applied.filter((d) => readable(d.stream));
      for (const s of frame.streams) {
        if (readable(s.stream)) known[s.stream] = Math.max(known[s.stream] ?? 0, s.checkpoint);
      }
      if (documents.length > 0) {
        // Synced once stored: a device restarted offline meanwhile must not show this time.
        whenNextStored(() => {
          if (!stopped) noteSynced();
        });
        pullStream$.next({ documents, checkpoint: snapshot() });
      } else {
        // Only this frame's own positions: `known` may hold a pull's pages not handed to RxDB yet.
        const at = { ...before };
        for (const d of frame.docs) if (readable(d.stream)) at[d.stream] = Math.max(at[d.stream] ?? 0, d.seq);
        for (const c of frame.streams)
          if (readable(c.stream)) at[c.stream] = Math.max(at[c.stream] ?? 0, c.checkpoint);
        carry(before, at);
        noteSynced();
      }
    });
    liveQueue = run.catch(() => undefined);
    return run;
  };

  const handleAccess = async (frame: AccessChangedFrame): Promise<void> => {
    // A listing in flight applies it to its result (its pages may predate the change).
    streamList.accessChanged(frame);
    deps.onAccessChanged?.(frame);
    updateAccess(frame.streams);
    const removed = heldOf(frame.removed);
    const purged = removed.length > 0 ? endAccess(removed) : Promise.resolve();
    // Envelopes stored for this device are told this way: a change waiting for its write key may go.
    wakeKeyWaits(true);
    if (frame.streams.length > 0) {
      // A grant or a rotation may bring the key of records quarantined NO_KEY.
      retryDue = true;
      // Not caught up until the resync has pulled the new streams' history and subscribed them.
      if (linkUp) patch({ status: 'syncing' });
      askResync();
    }
    await purged;
  };

  // Signed stream heads (head-sync.ts): checked, and signed on own streams, whenever caught up.
  let headSeen: Record<string, number> = {};
  const headStreams = () => ({
    streams: [...access.keys()].filter(readable).map((stream) => ({ stream, seq: known[stream] ?? 0 })),
    hints: (id: string) => sent.get(id)?.split('-')[1],
  });
  const heads = createHeadSync({
    ed: deps.ed,
    accountId: deps.accountId,
    device: deps.device,
    now: deps.now,
    wireReady: () => (connection.version() ?? 0) >= HEAD_VERSION && connection.status() === 'ready',
    putHead: async (signed) => {
      const head = validate(SignedHead, signed);
      if (!head.ok) throw new SyncError('BAD_MESSAGE', head.error.message, false);
      await connection.request({ t: 'putHead', head: head.value });
    },
    getHead: async (stream, after) => {
      if (!isStreamId(stream)) throw new SyncError('BAD_MESSAGE', `not a stream id: ${stream}`, false);
      return connection.request<HeadFrame>({
        t: 'getHead',
        stream,
        ...(after === undefined ? {} : { after }),
      });
    },
    lookupDeviceKey: deps.lookupDeviceKey,
    held: heldReader({
      copies: async (stream: string) => {
        const storage = collection.storageInstance;
        const query = prepareQuery<DeviceRecord>(storage.schema, {
          selector: { stream },
          sort: [{ id: 'asc' }],
          skip: 0,
        });
        return (await storage.query(query)).documents.map((d) => ({ ...plainOf(d), deleted: d._deleted }));
      },
      skip: (stream, d) => unsettled(stream, d.id) || (d._deleted && emptied(d)),
      // A revision tag is `${rv}-${tag}`: the leaf names the tag part.
      tagUnder: async (d, epoch) => (await tagOf(keyring, d, epoch))?.split('-')[1] ?? null,
      newestEpoch: async (stream) => (await keyring.writeKey(stream))?.epoch ?? 0,
    }),
    // A record this device set aside (quarantine) was served, not withheld: QUARANTINED tells of it.
    report: (issue) => {
      if (issue.id === undefined || !quarantinedKeys.has(recordKey(issue.stream, issue.id))) report(issue);
    },
    clear: (stream, keep) => dropIssues((e) => e.stream === stream && heads.owns(e.code) && !keep(e)),
    seen: {
      get: (stream) => headSeen[stream] ?? 0,
      set: (stream, seq) => {
        headSeen = { ...headSeen, [stream]: seq };
        deps.meta.set('head-seen', headSeen).catch(() => undefined);
      },
    },
    schedule: (ms, run) => {
      const timer = setTimeout(run, ms);
      return () => clearTimeout(timer);
    },
    ...(deps.headSignEveryMs === undefined ? {} : { signEveryMs: deps.headSignEveryMs }),
    current: () => headStreams(),
  });
  const headsWatch = state$.subscribe((st) => {
    // While a pull fails (RC_PULL: the store refused what was served), the copy is not the served state.
    if (st.status !== 'online' || st.pendingWrites > 0 || st.errors.some((e) => e.code === 'RC_PULL')) return;
    const now = headStreams();
    heads.settled(now.streams, now.hints);
  });

  let replication: RxReplicationState<PlainRecord, StreamCheckpoint> | null = null;
  /**
   * Synced (`lastSyncedAt`, kept across restarts) and, when `online`, 'online' (caught up) once RxDB has
   * stored what the pass handed it. It stores a page after the pull handler returns, so saying either at
   * the hand-over showed a device caught up while a query still missed its last page, and a device
   * restarted offline meanwhile showed a time it had not synced at. The pass is RxDB's downstream task,
   * which ends (goes idle) only once every page handed to it is stored; until then the link may drop or
   * another pass be wanted, and then the device is not online.
   */
  let onlineAsk = 0;
  const passStored = (covers: number, online: boolean): void => {
    const ask = ++onlineAsk;
    const link = linkChanges;
    // What the pass received; a later pass (a reconnect, a grant) may add to both counts meanwhile.
    const received = initialDone;
    const stored = (): void => {
      if (stopped) return;
      noteSynced();
      storedDone = Math.max(storedDone, received);
      if (initialDone === received) heldBack = 0;
      showProgress();
      if (!online || ask !== onlineAsk || link !== linkChanges) return;
      if (!linkUp || covers < resyncWanted || state$.value.status !== 'syncing') return;
      patch({ status: 'online' });
      // Once RxDB stored the pass, so the retry starts from stored positions; one asked for meanwhile
      // waited for 'online' (see requestRetry).
      if (retryDue) void runRetry();
    };
    const down = replication?.internalReplicationState?.events.active.down;
    if (down === undefined || !down.getValue()) return void setTimeout(stored, 0);
    down.pipe(first((active) => !active)).subscribe({ next: stored, error: () => undefined });
  };
  /**
   * Runs `then` once RxDB's downstream stored what is handed to it next (a live batch through
   * `pullStream$`; subscribe before handing it): the downstream says it is active as it takes each task,
   * queued behind any under way, and idle once that task's documents are stored (or dropped). The value
   * it holds now is skipped: an active one is a task taken before the hand-over.
   */
  const whenNextStored = (then: () => void): void => {
    const down = replication?.internalReplicationState?.events.active.down;
    if (down === undefined) return void setTimeout(then, 0);
    down
      .pipe(
        skip(1),
        skipWhile((active) => !active),
        first((active) => !active),
      )
      .subscribe({ next: then, error: () => undefined });
  };
  /** The positions of the last batch with documents handed to RxDB (pull page or live frame). */
  let lastHanded: Record<string, number> | null = null;
  /**
   * Before the replication is cancelled: RxDB stores a batch's position after its documents and skips
   * that write once cancelled, so a session closed in between would keep the documents and pull them
   * again at the next start. Waits until RxDB stored the last batch's position, or its downstream is idle
   * with the position writes it queued done (a batch it dropped or failed to store gets none), or at most
   * STOP_SETTLE_MS (a pull it retries keeps the downstream busy).
   */
  const settleHanded = async (r: RxReplicationState<PlainRecord, StreamCheckpoint>): Promise<void> => {
    const internal = r.internalReplicationState;
    const target = lastHanded;
    if (!internal || target === null) return;
    let expired = false;
    const timer = setTimeout(() => (expired = true), STOP_SETTLE_MS);
    try {
      for (;;) {
        // Read before the queue: a batch's position write is queued before its task ends.
        const busy = internal.events.active.down.getValue();
        await internal.checkpointQueue;
        if (reaches(storedPositions(internal.lastCheckpointDoc.down?.checkpointData), target)) return;
        if (!busy || expired) return;
        // A macrotask: RxDB's storage writes may need one to complete.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    state$: state$ as Observable<SyncState>,
    removed$: removed$ as Observable<RemovedStream>,
    state: (): SyncState => state$.value,
    onFrame,
    async start(): Promise<void> {
      headSeen = (await deps.meta.get('head-seen', HEAD_SEEN_SCHEMA)) ?? {};
      const stored = (await deps.meta.get('pending', META_SCHEMAS.pending)) ?? [];
      // Writes noted before the list was read are newer than what it holds.
      pending = new Map([
        ...stored.map((e): [string, number] => (typeof e === 'string' ? [e, 0] : [e.id, e.rv])),
        ...pending,
      ]);
      // Versions waiting for their write key: RxDB took them as sent and hands them no more, so they count
      // as pending from the list, whatever became of the pending list's note.
      for (const w of (await deps.meta.get('key-wait', META_SCHEMAS.keyWait)) ?? []) {
        const record = { ...w.record };
        keyWaits.set(record.id, {
          record,
          base: w.base === undefined ? undefined : { ...w.base },
          at: w.at,
          ...(w.conflict === true ? { conflict: true } : {}),
        });
        if ((pending.get(record.id) ?? -1) < record.rv) pending.set(record.id, record.rv);
        // A conflict wait is reported again when its send meets that version again.
        if (w.conflict !== true) report(keyWaitIssue(record));
      }
      if (keyWaits.size > 0) patch({ pendingWrites: pendingCount() });
      // Versions earlier sessions sent in their last frames, answered or not: known as sent, as within
      // that session (`sent`: their echo is skipped, their tag is the one sent), and followed when the
      // server holds one (see the header). Oldest frame first, so a record's newest tag ends last.
      const frames = await Promise.all(
        Array.from({ length: UNANSWERED_SLOTS }, (_, i) =>
          deps.meta.get(`${UNANSWERED_KEY}${i}`, META_SCHEMAS.pushUnanswered),
        ),
      );
      for (const slot of frames
        .filter((x): x is NonNullable<typeof x> => x !== null)
        .sort((a, b) => a.seq - b.seq)) {
        unansweredSeq = Math.max(unansweredSeq, slot.seq);
        for (const { id, rev } of slot.rows) {
          remember(id, rev);
          sent.set(id, rev);
        }
      }
      for (const s of (await deps.meta.get('purged', META_SCHEMAS.purged)) ?? []) restart.add(s);
      for (const [s, token] of Object.entries(
        (await deps.meta.get('pull-restarted', META_SCHEMAS.restartTokens)) ?? {},
      )) {
        if (restart.has(s)) restartTokens.set(s, token);
      }
      for (const d of (await deps.meta.get('quarantine-dismissed', META_SCHEMAS.quarantineDismissed)) ?? []) {
        dismissed.set(versionKey(d.stream, d.id, d.rev), d);
      }
      // Recorded in the audit log before the last session ended, and not stored (or stored, and the key
      // not emptied after): only the former are remembered.
      for (const d of (await deps.meta.get(RECORDED_UNSTORED_KEY, META_SCHEMAS.quarantineDismissed)) ?? []) {
        recordedKept = true;
        const key = versionKey(d.stream, d.id, d.rev);
        if (dismissed.get(key)?.reason !== d.reason) recordedUnstored.set(key, d);
      }
      // Stored now, as the next dismissal would store them: the list agrees with the log without waiting
      // for the person to dismiss something else. A store that refuses, or a stored list this build cannot
      // read (never written over with no one acting), leaves them for that dismissal.
      if (recordedUnstored.size > 0) {
        const stored = await deps.meta
          .update('quarantine-dismissed', META_SCHEMAS.quarantineDismissed, (current) => [
            ...withRecorded(
              new Map((current ?? []).map((d) => [versionKey(d.stream, d.id, d.rev), d])),
            ).values(),
          ])
          .catch(() => null);
        if (stored !== null) {
          dismissed = new Map(stored.map((d) => [versionKey(d.stream, d.id, d.rev), d]));
          recordedUnstored.clear();
          await keepRecorded();
        }
      }
      // The dismissals are written before the list: a crash in between leaves an entry listed that was
      // dismissed.
      quarantine = ((await deps.meta.get('quarantine', META_SCHEMAS.quarantine)) ?? []).filter(
        (q) => dismissed.get(versionKey(q.stream, q.id, q.rev))?.reason !== q.reason,
      );
      quarantinedKeys = new Set(quarantine.map((q) => recordKey(q.stream, q.id)));
      const slots = slotsOf(quarantine);
      keptSlots = slots.size;
      // Content no entry names (a crash between its write and the list's, or between the list's and its
      // removal) is removed: nothing else would ever read or remove it.
      const strays = ((await deps.meta.keys(KEPT_PREFIX)) ?? [])
        .map((key) => key.slice(KEPT_PREFIX.length))
        .filter((slot) => !slots.has(slot));
      if (strays.length > 0) await keptJob(() => forgetKept(strays));
      for (const g of (await deps.meta.get('quarantine-gaps', META_SCHEMAS.quarantineGaps)) ?? []) {
        gaps.set(g.stream, g);
      }
      unsent = (await deps.meta.get('unsent', META_SCHEMAS.unsent)) ?? [];
      incarnation = (await deps.meta.get('incarnation', META_SCHEMAS.incarnation)) ?? {};
      const savedFloor = await deps.meta.get('pull-floor', META_SCHEMAS.pullFloor);
      if (savedFloor !== null && Object.keys(savedFloor.at).length > 0) {
        floor = { at: savedFloor.at, after: savedFloor.after };
      }
      voided = savedFloor?.voided ?? null;
      for (const r of (await deps.meta.get('diverged', META_SCHEMAS.diverged)) ?? []) {
        diverged.set(recordKey(r.stream, r.id), {
          stream: r.stream,
          id: r.id,
          ...(r.floor === undefined ? {} : { floor: r.floor }),
          ...(r.wait === true ? { wait: true } : {}),
        });
      }
      const lastSyncedAt = await deps.meta.get(LAST_SYNCED_KEY, META_SCHEMAS.lastSynced);
      patch({
        pendingWrites: pendingCount(),
        quarantined: quarantine.length,
        unsent: unsent.length,
        lastSyncedAt,
      });
      // What this device knew of its access when it last ran. A grant that ended meanwhile by this
      // device's clock, and a purge owed, are done before the session is handed out (offline too), as an
      // online end would do them (reported, onPurged); the timer is armed for the next end.
      const saved = await deps.meta.get('access', META_SCHEMAS.access);
      for (const a of saved?.streams ?? []) access.set(a.stream, ownAccess(a));
      patch({ streams: access.size });
      const at = deps.now();
      const over = new Map((saved?.ended ?? []).map((r): [string, RemovedStream] => [r.stream, r]));
      for (const a of access.values()) {
        if (endOf(a) <= at && !over.has(a.stream))
          over.set(a.stream, { stream: a.stream, reason: 'expired' });
      }
      if (over.size > 0) await endAccess([...over.values()]);
      armExpiry();
      // After the access list is read: the list's write keeps the content of readable streams only.
      // Housekeeping: a list that cannot be written now is written again by the next `settle`.
      await settleStored().catch(() => undefined);
      // RxDB's write of the server's version (or a write that came first: a local edit, which counts as
      // pending itself, or a purge) replaces the local version whose push it answered.
      resolvingWatch = collection.storageInstance.changeStream().subscribe((bulk) => {
        if (resolving.size === 0) return;
        let replaced = false;
        for (const { documentId, documentData } of bulk.events) {
          const pushed = resolving.get(documentId);
          if (pushed === undefined || sameVersion(documentData, pushed)) continue;
          resolving.delete(documentId);
          replaced = true;
        }
        if (replaced) patch({ pendingWrites: pendingCount() });
      });
      replication = replicateRxCollection<PlainRecord, StreamCheckpoint>({
        collection,
        replicationIdentifier: deps.replicationId,
        live: true,
        retryTime: busyRetry.retryMs,
        waitForLeadership: false,
        autoStart: true,
        pull: {
          handler: async (checkpoint, batchSize) => {
            const page = await pullHandler(checkpoint, batchSize).catch(async (error: unknown) => {
              await busyBackoff('pull', error);
              throw error;
            });
            if (page.documents.length > 0) lastHanded = page.checkpoint.s;
            refusals.pull = 0;
            loopPassed('pull');
            return page;
          },
          batchSize: deps.batchSize ?? 500,
          stream$: pullStream$.pipe(
            tap((item) => {
              if (item !== 'RESYNC' && item.documents.length > 0) lastHanded = item.checkpoint.s;
            }),
          ),
        },
        push: { handler: pushHandler, batchSize: deps.batchSize ?? 500 },
      });
      replication.received$.subscribe((doc) => {
        onStored(doc.stream, doc.id, doc.rv);
        if (!readable(doc.stream)) sweep(doc.stream);
      });
      let idle = true;
      let idleCheck = false;
      replication.active$.subscribe((active) => {
        idle = !active;
        if (active || idleCheck) return;
        idleCheck = true;
        // A RESYNC on its way into RxDB's queue is in it within microtasks (and the replication active
        // again): checked after them, so only one that was dropped is asked for again.
        setTimeout(() => {
          idleCheck = false;
          if (idle && !stopped && resyncCovered < resyncWanted) pullStream$.next('RESYNC');
        }, 0);
      });
      replication.error$.subscribe((error) => {
        const issue = replicationIssue(error);
        // A request the app's own stop of the connection failed (close, goOffline) is no failure: the
        // status says stopped, and RxDB sends the batch again over the next connection (or after start).
        if (stopped || issue.code === 'STOPPED') return;
        // A push that waits for server versions to open: each waiting change has its own issue already.
        if (issue.code === CONFLICT_WAIT) return;
        const { loop, ...shown } = issue;
        report(shown, loop === undefined ? {} : { loop });
      });
    },
    /** Called by the client when the connection (re)authenticates, with the server's `ready`. */
    async onReady(ready?: ReadyFrame): Promise<void> {
      heads.connected();
      subscribed.clear();
      subscribeAttempts = 0;
      streamsStale = true;
      reconnected();
      noteIncarnation(ready?.incarnation);
      try {
        await refreshStreams();
        await keyring.refresh().catch(() => 0);
      } finally {
        // Even if the list could not be read: only a pull subscribes this connection to the streams.
        // Keys and device lists may have come in meanwhile (the session expires its device directory).
        retryDue = true;
        askResync();
        wakeKeyWaits(true);
        wakeBackoffs();
      }
    },
    onStatus(status: 'offline' | 'connecting' | 'ready' | 'stopped' | 'fatal'): void {
      if (status === 'fatal') {
        // Only the connection knows why; a state of plain `fatal` would leave the person guessing.
        fatal =
          connection.failure() ??
          new SyncError('FATAL', connection.reason() ?? 'the server refused this device', false);
        // A lock is reported by the session when it first sees it, with what to do; the connection's own
        // LOCKED after it would list the lock twice, with other words.
        const lockListed = fatal.code === 'LOCKED' && state$.value.errors.some((e) => e.code === 'LOCKED');
        if (!lockListed) report({ code: fatal.code, message: fatal.message });
        for (const w of [...fatalWaiters]) w(fatal);
        if (fatal.code === 'DEVICE_REVOKED') keepRevokedUnsent();
      } else if (status === 'connecting' || status === 'ready') fatal = undefined;
      if (status === 'ready') patch({ status: 'syncing' });
      else patch({ status });
      if (status !== 'ready') subscribed.clear();
      linkUp = status === 'ready';
      linkChanges++;
      if (linkUp && connectedSince === null) connectedSince = deps.now();
      else if (!linkUp && connectedSince !== null) {
        connectedBefore += Math.max(0, deps.now() - connectedSince);
        connectedSince = null;
      }
      if (linkUp) releaseLinkWaiters();
    },
    reportIssue: report,
    clearIssues,
    setPassphrase(passphrase: PassphraseStatus): void {
      if (state$.value.passphrase !== passphrase) patch({ passphrase });
    },
    /** How many files the upload queue holds (SyncState `pendingUploads`); set by the session. */
    setPendingUploads(count: number): void {
      if (state$.value.pendingUploads !== count) patch({ pendingUploads: count });
    },
    /** Called after each local write of record `id`, with the revision number it wrote. */
    notePending(id: string, rv: number): void {
      // A reply that came before the note (it answered this revision) leaves nothing pending.
      if ((answered.get(id) ?? -1) >= rv) return;
      pending.set(id, rv);
      handed.delete(id);
      noteSoon();
      if (fatal?.code === 'DEVICE_REVOKED') keepRevokedUnsent();
    },
    writable,
    readable,
    whyNotWritable,
    /**
     * What this device may access: the server's list at the last connection with the access changes
     * since, kept across restarts (so it is known offline), without entries whose end passed on this
     * device's clock. Empty on a device that never connected.
     */
    access: (): StreamAccess[] => {
      const t = deps.now();
      return [...access.values()].filter(current).map((a) => asOf(a, t));
    },
    /** The entries set aside, oldest first (see `QuarantinedItem`). */
    quarantine: (): QuarantinedItem[] =>
      keptSlots === 0 ? [...quarantine] : quarantine.map(({ slot: _slot, ...q }) => q),
    /**
     * The content of a version refused BAD_TRANSITION as this device opened and verified it, with its
     * author (account and device) and its entry's reason: what a person may want to enter again, also once
     * this device's change was stored over it (`overwritten`). Rejects with SyncError NOT_QUARANTINED when
     * the version is not listed, and VERSION_NOT_KEPT when its content is not kept (another reason, an
     * entry kept before content was, too large, dropped beyond the budget, purged, or unreadable).
     */
    quarantinedVersion: (key: QuarantineKey): Promise<QuarantinedVersion> => readKept(key),
    /**
     * Takes entries off `quarantine()` once the person has seen them (each named by stream, id and
     * revision, as listed; all or none). Each leaves the list and the count, persisted, and is not fetched
     * again. Its version is remembered (at most maxDismissed, the oldest forgotten first): served again it
     * is judged as before, and refused again it is neither listed nor reported; a newer revision of the
     * record is judged afresh. Rejects with SyncError NOT_QUARANTINED, changing nothing and recording
     * nothing, when one is not listed. Recorded in the audit log before it is stored (`auditDismissal`):
     * when that rejects, nothing is dismissed and the call rejects with its error.
     */
    dismissQuarantined: (...entries: QuarantineKey[]): Promise<void> => dismiss(entries),
    /** Local versions the server did not take, oldest first (see `UnsentChange`). */
    unsent: (): UnsentChange[] => [...unsent],
    /**
     * Forgets the kept unsent versions of a record (the person copied or re-entered them, or does not want
     * them): every one, or with `rv` those of that revision number. Answers whether one was kept. The
     * record stays diverged: its local copy is still a refused version, until a served one replaces it.
     */
    async discardUnsent(stream: string, id: string, rv?: number): Promise<boolean> {
      const gone = (u: UnsentChange): boolean =>
        u.stream === stream && u.id === id && (rv === undefined || u.rv === rv);
      if (!unsent.some(gone)) return false;
      await saveUnsent(unsent.filter((u) => !gone(u)));
      return true;
    },
    refreshStreams,
    /**
     * Resolves when everything local was pushed and the last pull found nothing new; rejects with the
     * connection's failure (DEVICE_UNKNOWN, DEVICE_REVOKED, …) once it is fatal, as that never comes then.
     */
    async awaitInSync(): Promise<void> {
      // Stopped (closed): what is unsent goes with the next session, so "in sync" never comes here.
      if (stopped) throw stoppedInSync();
      if (!replication) return;
      if (fatal) throw fatal;
      let ended: ((error: SyncError) => void) | undefined;
      const refused = new Promise<never>((_, reject) => {
        ended = reject;
        fatalWaiters.add(reject);
      });
      try {
        // RxDB took the changes waiting for their write key as sent: in sync only once they are.
        for (;;) {
          await Promise.race([replication.awaitInSync(), refused]);
          if (keyWaits.size + keyWaitsSending.size === 0) break;
          await Promise.race([new Promise<void>((resolve) => keyWaitsDrained.push(resolve)), refused]);
        }
      } finally {
        if (ended) fatalWaiters.delete(ended);
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      heads.stop();
      headsWatch.unsubscribe();
      unwatchGuard();
      releaseLinkWaiters(new SyncError('STOPPED', 'sync stopped', false));
      wakeBackoffs();
      for (const w of [...fatalWaiters]) w(stoppedInSync());
      reset?.release();
      if (expiryTimer !== undefined) clearTimeout(expiryTimer);
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      if (keyWaitTimer !== undefined) clearTimeout(keyWaitTimer);
      if (subscribeTimer !== undefined) clearTimeout(subscribeTimer);
      if (replication) await settleHanded(replication);
      await replication?.cancel();
      resolvingWatch?.unsubscribe();
      // Entries answered by what RxDB stored last (`settle`), before the database closes.
      if (settling.length > 0) await settleGathered().catch(() => undefined);
      replication = null;
      pullStream$.complete();
      await floorWriting;
      await accessSave.settled();
      // What the last moments changed is persisted before the database closes.
      if (pendingSave.cancel()) await savePending().catch(() => undefined);
      // A save of the pending list already under way (a push answer's) too.
      await pendingSave.settled();
      if (syncedSave.cancel()) await syncedSave.save().catch(() => undefined);
      await syncedSave.settled();
      if (divergedTimer !== undefined) {
        clearTimeout(divergedTimer);
        divergedTimer = undefined;
        await saveDiverged().catch(() => undefined);
      }
    },
  };
};

export type SyncEngine = ReturnType<typeof createSyncEngine>;
