/**
 * The device's audit trail: what it appends, and the patient's views over the whole log (read past what
 * this device verified before: VIEW below).
 *
 * Invariants:
 * - Every entry is built (numbered, linked, signed, sealed to the patient) when the action happens, even
 *   offline, and kept in a persisted outbox; retries re-send the same bytes, so nothing is duplicated.
 * - A patient's outbox rows are the contiguous tail of this device's chain for that patient (positions
 *   after the last acknowledged one, up to the chain position; after a restore, preceded by entries
 *   acknowledged before and sent again, see below) and are pushed in chain order; a refused row holds back
 *   the later rows of its chain, which stored first would leave it out of order or lost.
 * - A row leaves the outbox only when (a) the server acknowledged it (ok, or the same entry already
 *   stored), (b) it is given up together with every later row of its chain and the chain is rewound to
 *   just before it, or (c) it was acknowledged before a restore and sent again (see KEPT below), and its
 *   chain's refusal is final as for (b): it is dropped where it is, the chain not moved (its position is
 *   past it already), and the rows after it go by (b). (b) is done only when none of those rows can be
 *   stored: each push of them was refused explicitly (none went unanswered), none was acknowledged before
 *   and no later position was acknowledged. So the chain never moves past an entry the server lacks for
 *   good, and a refusal never becomes a "deleted" alarm — except (c): an entry the restore lost and the
 *   server refuses for good (the grant ended) stays the gap the restore made.
 * - A refused chain is retried with backoff (30 s doubling to 6 h), and at once when a new entry for that
 *   patient is appended (new activity usually means access is back: a renewed grant). It is given up at
 *   the first refusal when no retry can change the answer (BAD_SIGNATURE, FORBIDDEN, …), otherwise (consent
 *   ended, server busy, RATE_LIMITED: the server's daily cap on a device's entries for one patient) after 7
 *   days and 3 refusals. Rows that may be stored already because a push of them went unanswered are never
 *   given up: a later retry is acknowledged once the server takes pushes again.
 * - A chain whose first refused row meets a position this device already holds in that log (APPEND_ONLY
 *   naming the device's chain end there, `chainEnd`, protocol version 11: its chain state went back — the
 *   device restored from an app-data backup, or two processes without the device lock) is not given up
 *   but continued after that end: the refused row and the later rows of its chain re-signed at the
 *   positions after it, linked to it (same ids, bodies and times), the chain position moved past them, and
 *   pushed again in the same flush (`continueAfterServedEnd`). The positions the device held before are
 *   simply the served ones, so the patient's devices verify the chain whole. Only rows that could be given
 *   up are re-signed (none may be stored already, they are the chain's tail), and only after the end is
 *   checked as far as the device can: at or past the refused position; in its account's own log, which it
 *   reads, its chain as served verifies whole and ends exactly there; elsewhere (a grantee cannot read the
 *   patient's log), an entry it kept (KEPT) at that position has that link hash and none it kept lies past
 *   it. A server naming a false end can thus only have the device re-sign its own entries at other
 *   positions: the patient's devices report a gap or a broken link in its chain (as for an entry the server
 *   dropped). An end that fails those checks, or none (an older server), leaves the refusal to be given up
 *   as before; one that cannot be checked now (locked, or the log unreadable) holds the chain, retried. A
 *   crash between re-signing the rows and moving the chain position leaves the next entry at a held
 *   position: refused again with the end, and continued in turn.
 * - Every check of a patient's served log (`verify`, and the views through `entries`) remembers, per
 *   author (the server, each device), how far its chain verified whole from position 1 and the link hash
 *   of its entry there, with the server store's incarnation then (device meta `audit-seen:<patient>`,
 *   only ever raised). Each check holds every chain to that: one ending below it, or holding another
 *   entry there (rolled back and grown again), is reported `deleted` — with a note when the server has
 *   announced a restore of its store since (docs/operations.md: a restore with nothing to carry from loses
 *   what was appended after the backup). So the server cannot cut the end off a chain, or the whole log,
 *   unreported to a device that read the longer one. `verify` also knows how far the server acknowledged
 *   this device's own chain (the position before its first outbox row, else the chain position); rows
 *   still in the outbox are not expected. A chain that lost entries is reported at every check (the loss
 *   stays true) until the person accepts it (`acceptLosses`: every chain is held to what is served now,
 *   this device's own still to what the server acknowledged); the views go on answering with what verifies.
 *   A check of another patient's log that began before access to that patient ended (`accessEnded`)
 *   remembers nothing of it: its write of SEEN runs one at a time with `accessEnded` (`serial`) and is
 *   skipped when one ran since the check began (`endings`), so SEEN never stays after access ended.
 * - This device's own chain in its account's own log after a restore (a server restored onto an empty
 *   disk loses what it acknowledged after the backup): the position acknowledged is kept with the store's
 *   incarnation then (OWN_ACKED). On a connection announcing another incarnation, before a row of that
 *   chain is pushed, or at the first `verify`/`acceptLosses` (which read the log anyway; a flush with no
 *   such row reads nothing, so a server announcing a new incarnation at every connection costs no read of
 *   the log each time), the served chain is read: when it is whole (own key) and ends below that
 *   position with nothing of it served beyond, the lost positions are kept (OWN_LOST) and the chain
 *   continues from the served end — the acknowledged position and chain position lowered, the outbox rows
 *   of the stream (appended meanwhile, linked to the lost entries) re-signed after it in order, same ids,
 *   bodies and times — so later entries link to an entry that exists and no gap stays in the log. This is
 *   done at once rather than at acceptance because anything appended before the person accepts (the app is
 *   in use) would otherwise be stored linked to a lost entry, a gap for good. The loss is not hidden:
 *   `verify` reports it `deleted`, naming the restore, until `acceptLosses`. Other patient devices that
 *   verified the lost entries see those positions held by other entries, reported once as for any
 *   rewritten chain and accepted the same way. A chain served short with no restore announced (the same
 *   incarnation), or not whole, or with a hole, is never continued this way: it stays reported at every
 *   check, `acceptLosses` included. Positions acknowledged before OWN_ACKED was kept (an older build) are
 *   not known with their incarnation, so the first restore after an upgrade may still leave a gap.
 * - This device's chain in another patient's log (a provider's, through a grant) after such a restore: the
 *   server never lets a grantee read that log, so where the served chain ends cannot be learnt. Instead the
 *   newest entries the server acknowledged there (up to MAX_KEPT, about MAX_KEPT_CHARS of sealed bodies)
 *   are kept as pushed, with the store's incarnation then (KEPT, per patient). At the first flush on a
 *   connection announcing another incarnation with a row of that patient's stream to push (the same moment
 *   as for the own chain, and for the same cost reason), they go back into the outbox ahead of that row,
 *   byte for byte, once per restore: the server acknowledges one it still holds as before and stores one
 *   it lost again, at its position, so the rows behind them link to entries that exist and the patient's
 *   devices verify the chain whole — nothing is lost, so nothing is reported once they are stored. Until
 *   then (the provider appended nothing for that patient since) the chain is served cut at its end, and a
 *   patient device that verified the lost entries reports them `deleted`, naming the restore, as for any
 *   author, until accepted. The device re-sends what the restore lost as it re-sends its records
 *   (docs/operations.md). A chain served short with no restore announced is not sent again (the gap stays
 *   for the patient's devices to report). Entries older than those kept, or acknowledged by a build that
 *   kept none, are not sent again: a restore losing them leaves a gap, reported at every check. Cost: a
 *   flush compares KEPT's incarnation from memory once this session read it, so it reads KEPT only when a
 *   restore may have been announced; an acknowledgement reads and writes one patient's KEPT (at most
 *   MAX_KEPT_CHARS of bodies) once. KEPT goes when access to the patient ends (`accessEnded`: every record
 *   stream purged), but for entries of it still in the outbox, and at most MAX_KEPT_PATIENTS patients'
 *   are kept, the least recently written removed first (KEPT_INDEX), never one of a patient with rows in
 *   the outbox: only KEPT tells an entry sent again from a new one, which could be given up and the chain
 *   rewound over an entry the server holds.
 * - Device meta keys are stored in clear (device-meta.ts), and on a provider's device the patients it keeps
 *   state for are its patient list: the per-patient keys (`audit-chain:`, `audit-seen:`, `audit-kept:`,
 *   written `<kind>:<patient>` here) are named by HMAC-SHA256 of the patient's account id under a key
 *   derived (HKDF, `hale/meta-names/v1`) from the account's at-rest key, the same on every start, and no
 *   key names a patient. An older build named them `<kind>/<patient id>`: at a session's start
 *   (`resumeNoted`) every key so named (found by its name, whichever patient it names) is moved to its new
 *   name and the old names removed, purged from the store with RxDB's record of their removal
 *   (store/meta-store.ts), so chain positions, remembered heads and kept entries carry over unchanged. A
 *   patient's keys are not used before their own move is done (made at first use if the start has not
 *   reached it): under a new name still empty, the chain would restart at 1, a fork the patient's devices
 *   would report. A start that leaves no old name behind notes it (RENAMED): later starts list none. The
 *   number of such keys still tells how many patients the device keeps state for: KEPT and SEEN go when
 *   access to the patient ends (`accessEnded`), but a chain position stays for good (a new grant continues
 *   the chain; restarted at 1, it would take positions the server holds).
 * - VIEW (device meta `audit-view`, sealed at rest like all device meta; the account's own log only, the
 *   one the views read, so it names no patient): the entries of the own log as of the last check that
 *   found no problem and opened every entry (a view's, `verify`'s or `acceptLosses`'), opened, with each
 *   entry's link hash, each author's verified head, the stream position read through, the store's
 *   incarnation before that read and when the whole log was last read. A view (`whoAccessed`,
 *   `disclosures`, `entries`, `recorded`) then pulls only what is served past that position and verifies
 *   it against the cached heads (`verifyAuditChains`' `base`), SEEN and OWN_LOST as a whole check would:
 *   for a cached part still served as it was, its authors answered as then, the answer is the one the
 *   whole log gets. Anything else reads and verifies the whole log, exactly as before: no cache, or one
 *   that does not read; a device author of the cache the directory now answers otherwise (below); another
 *   incarnation recorded or announced (a restore); a SEEN position within the cached heads that is not
 *   the cached head itself (lowered or replaced since: `acceptLosses`, a continued own chain); an entry
 *   served at or below the cached position; any problem past the cache (its check remembers nothing, the
 *   whole check reports as always); the last whole read a day old or more (VIEW_FULL_CHECK_MS, this
 *   device's clock; a clock set back too); the 25th view of a session since one (VIEW_FULL_CHECK_VIEWS).
 *   `verify` and `acceptLosses` always read the whole log. What this does not see at once: the server
 *   changing the part already cached — cutting an author's end there (nothing of it served since),
 *   rewriting an entry in place, dropping old entries — goes unreported by the views until that next
 *   whole read (at most a day or 25 views later; `verify` at once), which then reports it as before and
 *   holds it for good (SEEN). A whole check that finds any problem (but entries not checkable now, below)
 *   removes the cache, so while a problem stands (until accepted, or for good) every view reads the whole
 *   log, as before. VIEW itself holds the newest cached entries (at most VIEW_TAIL_ENTRIES, about
 *   VIEW_TAIL_CHARS); older ones lie in parts (`audit-view-part/<slot>`, at most VIEW_PART_ENTRIES, about
 *   VIEW_PART_CHARS each, MAX_VIEW_PARTS in all), each written once under a new random name and never
 *   again, and named by VIEW with its number of entries and its first and last position. So a view that
 *   finds a few new entries writes VIEW (those entries with the newest few) and nothing else; past the
 *   tail's bound they are sealed into a new part, the newest two parts merged while together within a
 *   part's bound and the older at most twice the newer (an entry is written a few times in all, not at
 *   every view). A whole check writes the cache anew. VIEW binds its parts as the one key did before: the
 *   store seals each value to its key, and a key is never written twice, so a part VIEW names holds the
 *   entries written under that name then; a part missing or not as named (another count, first or last
 *   position, or out of served order: a crash, a VIEW rolled back to one naming parts removed since) makes
 *   the cache not used, as none (the whole log read, the cache kept anew). A VIEW rolled back with all its
 *   parts there is an older cache, as a rolled-back single key was: held to every check above. A cache an
 *   older build wrote (every entry in VIEW, no parts) is read as it is and written in parts at its first
 *   read by a view (same `through` and `fullAt`: its VIEW_READ still names it); an older build refuses one
 *   with parts (no cache: it reads the whole log and writes its own). The cache keeps at most the
 *   newest MAX_VIEW_ENTRIES entries within MAX_VIEW_CHARS (VIEW's one by one, parts a whole part at a time,
 *   the newest entry always); older ones are read again from the server at
 *   each view and held to the heads they were dropped at (each author's chain from position 1, linked, up
 *   to exactly that head: by the link hashes the very entries verified then, so only opened again, not
 *   re-verified). Cached entries are not verified again, but the cache keeps, per device author of them
 *   (dropped ones' too), its account and the revocation state its entries were judged under (not
 *   revoked, or the cutoff), and each view first asks the device directory for each such author (one
 *   look-up each, answered from the directory's cache, whose lists are reloaded after 5 minutes by default
 *   and at every reconnect): when any answer differs — the device revoked since, its cutoff moved — the
 *   view reads and verifies the whole log, so a revocation applies to cached entries at the first view
 *   after the directory learns of it. An author it cannot answer for now (its device list did not load:
 *   unjudged) is not asked again for VIEW_UNJUDGED_RETRY_MS (nor for its entries past the cache naming
 *   that account), until a reconnect at most, and neither is a look-up for an entry past the cache whose
 *   author is not cached yet that failed (`waitsForList`): a failing list costs one look-up a minute, not
 *   one per view. What is held back is the look-up that failed (a device under an account), never the
 *   author as such: an entry naming a genuine device under another account (a forgery whose account's list
 *   the server withholds) fails a look-up of its own, and is refused when its author is found under the
 *   account its cached entries verified under, as a whole read refuses it (below), so it changes nothing
 *   of how that device's other entries are judged. The view reads past the cache as usual, leaves an
 *   unjudged author's entries out (cached and new: none is listed as verified) and reports them
 *   `unverified`, as a whole read does (so `recorded` asks again later for a grant one of them says it
 *   records); new entries not checkable now are not cached past (read again at the next view). A
 *   whole read whose only problems are `unverified` keeps the cache as it was (its `fullAt` too; only how
 *   it judged the other cached authors is noted, so one revoked after all its entries is not found
 *   changed again at every view) and
 *   counts as the periodic whole read (`partialWhole`) while every author it could not check that the
 *   cache holds stays left out: one author's list failing to load costs no whole read per view. That whole read reports
 *   what the device signed at or after its cutoff `inserted` (audit-chain.ts): a problem, so the cache is
 *   removed and every view reads the whole log from then on, as for any problem (a cache an older build
 *   wrote, which notes no such states, is not used: the first view reads the whole log). Views, `verify` and
 *   `acceptLosses` run one at a time (`inViewOrder`), so none keeps a cache another just found stale.
 *   Without options, the views offline wait for the connection (their arrays cannot say an answer is
 *   stale) for VIEW_WAIT_MS at most from when asked, then reject SyncError NETWORK (retry), or STOPPED at
 *   once when the app stopped it; `verify`, `acceptLosses` and `recorded` read under the same limit
 *   (`connectedBy`). A pull is sent only while the connection is up (one whose socket closes just after it
 *   went out may still be sent again at the reconnect, answering no one: pulls change nothing), and a read waiting in view order ends by its own limit, not after the ones ahead. Asked with `{ offline: 'cached' }`
 *   (`AuditViewAnswer`), a view connected reads as above (`complete: true`, `asOf` when it asked); not
 *   connected, or once the connection is lost before that read answers (its status leaves `ready`,
 *   or the read failing NETWORK, TIMEOUT or STOPPED: it goes on in view order, its answer dropped), it
 *   answers from VIEW alone and reads nothing from the server: `complete: false`, `reason: 'offline'`, `asOf`
 *   when the last view or check began that found the cache as it stands (VIEW_READ, device meta
 *   `audit-view-read`: that time with the cache's `through`, `fullAt` and the authors it could not judge then
 *   (`unjudged`), written after VIEW, removed before
 *   it by a check that found a problem; one naming another cache is not used; views write it at every read, a
 *   few bytes, VIEW itself only when something new was served; a read that left entries past the cache
 *   uncached, some not checkable now, keeps the note's time and replaces only its `unjudged`: the answer
 *   would lack entries served before that read). It does not wait in view order (a view ahead
 *   may be waiting for the connection): it reads VIEW_READ, then VIEW and its parts, as stored, and a pair a
 *   view is writing meanwhile does not match (a part that view removed meanwhile: read once more). There is no offline answer (SyncError NETWORK, retry, naming why, at
 *   once) when there is no VIEW or no VIEW_READ matching it (never verified here, an older build's cache, the
 *   note's write failed), this session removed the cache (a problem), it holds `dropped` (the older entries
 *   are only on the server: counts would be short), a restore is recorded or announced since it was read,
 *   SEEN changed under it (as above), or the directory answers one of its device authors otherwise than it
 *   was judged (revoked since, as the lists the directory holds say). An author the directory cannot answer
 *   for now (a new session offline loads no list) counts as judged then: the answer is as of that read —
 *   except those that read could not judge (its `unjudged`): their entries are left out, counted in the
 *   answer's `unverified`, never listed as verified. It is
 *   not held to VIEW_FULL_CHECK_MS: `asOf` says its age. Only what a view would list from VIEW is listed
 *   (entries that verified, opened, as verified), so an offline answer misses what was served since and
 *   reports no problem a whole read would find in the cached part.
 * - Views trust an entry's content only as far as its verified author: access events (and their counts,
 *   positive integers only) only from the server, signed with its key; patient actions (consent grants)
 *   only from the patient's own devices (one the patient revoked: only entries signed before its
 *   revocation, audit-chain.ts). A grantee's entries are listed as its own claims, never as either.
 * - Record writes are coalesced (one entry lists up to 500 changes) so auditing never dominates sync cost.
 *   The changes noted and in no entry yet are mirrored in device meta, unsigned (NOTED: saved after each
 *   note, notes made while a save is under way folded into the next, and again after each append), and
 *   the next session appends what the mirror holds (`resumeNoted`). A note resolves only once a save that
 *   began after it completed, and the records API resolves a write only then (session.ts), so a crash
 *   never loses the change of a write that resolved. (A save a macrotask after a burst did not do that:
 *   awaited writes over a store answering in microtasks run with no macrotask between them, so a crash
 *   anywhere in the burst lost every change of it.) Cost: one NOTED write per record write awaited alone
 *   (it holds the changes not appended yet: those of the last 200 ms, COALESCE at most per batch);
 *   writes made together share one. So neither a close nor a crash in the 200 ms a note waits loses it:
 *   `close` appends them (into the outbox), or when it cannot (the account was locked, so nothing may be
 *   signed) leaves them in the mirror. An append that fails keeps its changes noted.
 * - Nor does a crash have the next session append noted changes a second time, whatever write it cut
 *   short. The meta store writes one key at a time, so an entry's outbox row and NOTED never change
 *   together; instead NOTED holds the changes in batches (one patient's, at most 500), each named by the
 *   id its entry will have, chosen when the batch takes its first note. The row carries that id and is
 *   written in one step, and a batch only grows until an append takes it, so NOTED on disk never holds
 *   under a name more than that entry lists. At a start, a batch whose entry this device queued is
 *   dropped: in the outbox, or in OWN (written in the same `serial` step as the row, so an entry that was
 *   acknowledged, and left the outbox, before NOTED was saved is found there); the others are appended.
 *   An id never names two entries: a batch whose append failed (its row may be queued after all: a write
 *   reported failed whose read-back failed too) and one a start takes from NOTED are named anew — an
 *   entry acknowledged whose OWN write failed (AUDIT_OWN_NOT_KEPT) is found nowhere, and its id used
 *   again would be answered stored by the server, a gap in the chain. Batches named anew are saved in
 *   NOTED before any batch is appended (`renamed`): NOTED may hold their changes under the old name, which
 *   a crash after the append would leave to be appended again. So the usual path (a burst noted, mirrored,
 *   appended, mirrored) writes nothing more than before. Crash orders: audit-noted-crash.test.ts. A NOTED
 *   an older build wrote (changes by patient, unnamed) is appended as new batches, once; an older build
 *   reads this build's as none (a schema mismatch), and its next save of the mirror writes over it.
 * - This device's sign-in entry (`device-sign-in` in its account's own log: session.ts appends it at the
 *   first start, then saves `signed-in`) is appended once: asked for while one of this device's is in the
 *   outbox, `append` answers that row and appends nothing. A crash between the append and that flag
 *   leaves the row there, since nothing is pushed before the flag is saved (session.ts starts the
 *   connection after it). Cost: at such a call only (once per device), a read of the outbox and its own
 *   rows opened.
 * - Nothing is signed or opened once the account is locked (`assertUnlocked`: append, and the views, which
 *   open entries with the wrapping key); rows already in the outbox are still sent as they are, except while
 *   a restore check of the own chain is due (it may re-sign them): then nothing is pushed until unlocked.
 * - At every (re)connection (`connected`), changes noted and in no entry yet (an offline close's append
 *   failed, or a resume did) are appended when there are any and the account is not locked, then the
 *   outbox is flushed.
 * - Views ("who accessed what", accounting of disclosures) are derived only from entries that verify;
 *   the problems a view meets are reported in `issues` (AUDIT_LOG_PROBLEMS, once per distinct summary),
 *   never thrown. Entries are told apart as served (by author and chain position), never by id: a copy the
 *   server serves under a genuine entry's id is refused on its own and does not take the genuine entry
 *   out of the views (audit-chain.ts). An entry the server's key signs whose body does not open with the patient's key or
 *   match the schema keeps its place in the server's chain but is reported `inserted` (no view can list
 *   it); one whose author's device list cannot be loaded now is reported `unverified` (not forged), unless
 *   its author is found under another account (the patient's own, one another of its entries names and
 *   signs under the key listed there — a made-up account listing a genuine device's public key counts for
 *   nothing — or, past the view cache, the one its cached entries verified under): a device belongs to one
 *   account, so such an entry is `inserted`. Such an entry stands for no entry this device verified
 *   before (SEEN): a remembered position it claims with another link hash, or that nothing served claims,
 *   is reported `deleted` beside it (audit-chain.ts), so a server that cuts all of a grantee device's
 *   entries and serves one such forgery in their place is reported for the cut, not only as a look-up to
 *   retry. One
 *   signed for another patient's log (its `stream`, which the signature covers) is reported `inserted` and
 *   takes no position of its author's chain here, whoever signed it: a server cannot move entries between
 *   logs.
 *   `disclosures()` lists a grant once, by its first served entry: two of the patient's devices that each
 *   found a standing grant with no entry at the same moment (consent.ts) may both have appended one. Its
 *   dates are the grant's signed `issuedAt` and `start` and the signed revocation's time, from this
 *   device's copy of the grants (device meta `grants`, written by consent.ts from signed copies only),
 *   when it holds them; else the times of the entries.
 * - `recorded` answers which grants have a `consent-grant` entry and which a `consent-revoke` entry by
 *   the patient's devices, both kinds at one call: this device's own appends (delivered or still in the
 *   outbox) first, then the served log, read once and only when some are not found among them. An own
 *   entry given up after refusals still counts (it stays listed). When one not found may be among the
 *   log's entries not checkable now (`unverified`: one says it is a patient device's entry of that action
 *   for that grant), it throws AuditError AUDIT_LOOKUP_UNVERIFIED instead, naming those grants
 *   (`undecided`) and what was found: consent settles the others and keeps the marks of those, asking
 *   again later.
 *   Any other such entry cannot be one looked for (a genuine entry says what it is), so it holds nothing
 *   back: a forgery naming an account whose list the server withholds, served beside a cut grant entry,
 *   would otherwise keep that grant's entry from being appended again for as long as the list is withheld.
 * Failure modes: refusals and give-ups are reported in `issues` (and held chains in `undelivered`);
 * `verify` lists every problem with its kind instead of throwing. Remembered positions that cannot be
 * written are reported in `issues` (AUDIT_SEEN_NOT_KEPT); a stored record of them a newer build wrote and
 * this one cannot read is neither used nor written over. A crash between advancing the chain and
 * storing the new outbox row, or between dropping given-up rows and rewinding the chain, leaves a real
 * gap, which `verify` reports as deleted (never a fork); a write of that row that fails (rather than a
 * crash) sets the chain back first (AUDIT_GAP in `issues` when that fails too). Once the row is stored the
 * entry is appended: a failure to add it to the list of own actions (OWN) is only reported
 * (AUDIT_OWN_NOT_KEPT), since a caller told it failed would append it again. A refusal of one row while a later row of its
 * chain is stored (today's server refuses per stream, device and time, so not in practice) keeps the
 * refused row for good; delivered late, it shows as reordered. An unreadable outbox state holds nothing
 * back by time and gives nothing up. The restore check of the own chain writes OWN_LOST first and the
 * acknowledged position last: a crash in between has the next flush do it again, to the same result; while
 * the served log cannot be read, nothing is pushed. Entries sent again after a restore are queued before
 * the restore is recorded (KEPT's incarnation): a crash in between queues them again, each id once; while
 * the restore cannot be recorded there, nothing is pushed (tried again at the next flush). An entry that
 * cannot be kept when acknowledged is reported in `issues` (AUDIT_KEPT_NOT_KEPT) and is not sent again
 * after a restore. A crash before a note's save completes loses that note unless its entry was queued
 * (only changes of writes the records API had not resolved); at any later point the next start appends
 * each change once (above). A save a note waited for that fails is reported (AUDIT_NOT_KEPT, once until
 * one passes) and the write still resolves: its change stays noted in memory, appended as usual. A change is
 * listed twice only after failures, not a crash alone: an outbox write reported failed whose read-back
 * failed too (AUDIT_GAP; its changes appended again in another entry), or a crash after an entry whose
 * OWN write failed (AUDIT_OWN_NOT_KEPT) was acknowledged and before NOTED was saved. A move of a key from an older build's name that fails leaves it there
 * and fails what needed the key (an append is not made, so nothing forks); a removal of old names that
 * fails is reported (AUDIT_KEYS_NOT_RENAMED); both are tried again at the next start. A crash between a
 * move and the removal leaves both names, and the next start keeps the new one and removes the old.
 * Removed old names are gone from the store's documents; the storage engine's own files (IndexedDB's)
 * may hold their bytes until it compacts them. A view cache that cannot be written is not reported: the
 * next view uses the one stored, held to the same checks, or reads the whole log. One that cannot be
 * removed after a whole check found a problem is not used again in that session; a later session uses
 * it (the problem then reported at its next whole read, as for a change to the cached part), offline
 * too only when its VIEW_READ could not be removed either (its parts are removed only once VIEW is). A
 * crash while it is written leaves the last VIEW written, whole: its new parts are written first, then
 * VIEW, then the parts it no longer names removed; parts left behind (a crash, a write that failed) are
 * removed at the next write (the store lists them), and a removal that fails is tried again then. One
 * between writing it and its VIEW_READ, or a VIEW_READ that cannot be written, leaves no offline answer
 * until the next view notes its read.
 */
import { Type, type Static } from '@sinclair/typebox';
import { newId } from '@hale/model';
import {
  base64urlDecode,
  base64urlEncode,
  chainLinkHash,
  hkdfSha256,
  hmacSha256,
  randomBytes,
  signCanonical,
  utf8Encode,
  type AccountKeys,
  type Ed25519,
  type X25519,
} from '@hale/crypto';
import {
  ERROR_CODES,
  Incarnation,
  isErrorCode,
  AuditBody,
  AuditEntryBody,
  PushDoc,
  RecordId,
  auditSignaturePayload,
  validate,
  type AuditChainEnd,
  type PulledFrame,
  type PushedFrame,
  type PushResult,
  type ServedDoc,
} from '@hale/protocol';
import { CONNECTION_CODES, SyncError, type Connection, type ConnectionStatus } from '../sync/connection';
import { META_SCHEMAS, type DeviceMeta } from '../session/device-meta';
import type { AuthorKey, AuthorUnavailable, DeviceDirectory } from '../sync/device-directory';
import { AuditError } from './errors';
import {
  linkOf,
  makeAuditEntry,
  openAuditBody,
  signedUnder,
  verifyAuditChains,
  type AuditProblem,
  type AuditVerification,
  type ChainHead,
  type ChainState,
  type ReachedPosition,
  type UnreadableAuditEntry,
} from './audit-chain';
import { RecordError } from '../records/records';
import { coalescedSave } from '../util/coalesced-save';

export interface AuditLogDeps {
  accountId: string;
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  /** The host's X25519 for sealing and opening entry bodies (tweetnacl by default). */
  x25519?: X25519;
  now: () => number;
  connection: Connection;
  directory: DeviceDirectory;
  meta: DeviceMeta;
  /** The server's id and audit signing key (GET /v1/server). */
  serverKey: () => Promise<{ serverId: string; publicKey: Uint8Array } | null>;
  /** Throws (AccountError LOCKED) once the account was locked: nothing is signed or opened then. */
  assertUnlocked?: () => void;
  /**
   * The view cache's budget (default MAX_VIEW_ENTRIES entries, MAX_VIEW_CHARS characters) and, for tests,
   * its shape: entries kept in VIEW itself (VIEW_TAIL_ENTRIES), per part (VIEW_PART_ENTRIES), parts
   * (MAX_VIEW_PARTS).
   */
  viewCache?: {
    maxEntries: number;
    maxChars: number;
    tailEntries?: number;
    partEntries?: number;
    maxParts?: number;
  };
  /** How long a read of the log waits for the connection, from when it was asked (default VIEW_WAIT_MS). */
  viewWaitMs?: number;
}

export interface RecordChange {
  action: 'create' | 'update' | 'delete';
  kind: string;
  id: string;
}

/** What a caller of `append` says; the log adds `kind`, the actor and the time (AuditEntryBody). */
export type AuditEntryDetail = Omit<AuditEntryBody, 'kind' | 'actorId' | 'actorDeviceId' | 'at'>;

/** Who vouches for an entry's content: the server (its key), the patient's own device, or a grantee's. */
export type EntrySource = 'server' | 'patient' | 'grantee';

export interface OpenedEntry {
  id: string;
  seq: number;
  author: string;
  authorSeq: number;
  at: string;
  body: AuditBody;
  source: EntrySource;
  /** The account whose key verified the entry (the server's id for server entries). */
  authorAccountId: string;
  /**
   * A grantee's entry whose content did not open (UNREADABLE_ENTRY_ACTION): `body` is made here, naming
   * its signer, not what the author wrote.
   */
  unreadable?: true;
}

/** The action of the body standing in for a grantee's entry whose content is unreadable. */
export const UNREADABLE_ENTRY_ACTION = 'unreadable-entry';

/** What such an entry means, as views and `verify` say it. */
export const UNREADABLE_ENTRY_MEANING =
  "signed by this account's certified device, but its content does not open with your key: it says " +
  'nothing that can be read. The log is not broken by it (its place in its chain checks); it records no ' +
  'access the server saw and changes no access. A device with a wrong or old key for you, or one ' +
  'writing on purpose what you cannot read, makes such entries.';

/**
 * A device author as a check judged its entries: its account, and its revocation cutoff then (absent: not
 * revoked).
 */
interface Judged {
  account: string;
  revokedAt?: string;
}

/** A check of a patient's log as served: its verification, the entries that verify opened, the heads. */
interface Checked {
  verification: AuditVerification;
  opened: OpenedEntry[];
  heads: Map<string, ChainHead>;
  /**
   * Per device author whose entries were judged, how (null: differently within the check, the directory
   * answering anew meanwhile).
   */
  judged: Map<string, Judged | null>;
  /**
   * What the entries reported `unverified` say (their bodies, opened, vouched for by nobody): `recorded`
   * asks whether one of them may be an entry it looks for.
   */
  unchecked: AuditBody[];
}

/** One line of "who saw my records". */
export interface AccessRecord {
  at: string;
  /**
   * `server`: an access the server logged and signed. `grantee`: an entry a grantee's own device wrote
   * about itself — its claim (shown, never counted as a server-logged access).
   */
  source: 'server' | 'grantee';
  actorId: string;
  actorDeviceId: string;
  action: string;
  stream?: string;
  /** Documents served or written (server entries only; a positive integer). */
  count?: number;
  /** The blob a server-logged `blob-delete` removed. */
  blobId?: string;
  /**
   * What a grantee's entry says it did, in its own words (grantee entries only, when it wrote one: a
   * `quarantine-dismiss` names the versions dismissed).
   */
  summary?: string;
  /**
   * A grantee's entry whose content could not be read: `actorId` / `actorDeviceId` name who signed it,
   * `action` is UNREADABLE_ENTRY_ACTION and `summary` says what it means.
   */
  unreadable?: true;
}

/** Asks a view (`whoAccessed`, `disclosures`, `entries`) for an answer also when the device is offline. */
export interface AuditViewOptions {
  /**
   * `cached`: not connected, answer from what this device verified before (the view cache) instead of
   * waiting for the connection, or refuse at once (SyncError NETWORK) when no such answer may be given.
   */
  offline: 'cached';
}

/**
 * A view's answer asked with `{ offline: 'cached' }`. `complete: true`: the log was read now, as without
 * the option (`asOf`: when this read began). `complete: false`: the device was not connected (or lost the
 * connection before the read answered), so this is what it verified before, as of `asOf` (when it last
 * read the log, this device's clock): entries served since are missing, and it is never the current log.
 * `unverified` (present when not 0): entries left out of `records` because their author's device list could
 * not be loaded (offline: at the read `asOf` names), so whether that device may sign them was not checked;
 * `verify` reports them `unverified`. They are never listed as verified.
 */
export type AuditViewAnswer<T> =
  | { records: T; asOf: string; complete: true; unverified?: number }
  | { records: T; asOf: string; complete: false; reason: 'offline'; unverified?: number };

/** One grant in the accounting of disclosures. */
export interface Disclosure {
  /** When the grant was issued: its signed `issuedAt` when this device holds the grant, else `recordedAt`. */
  date: string;
  /** The grant's signed `issuedAt`, when this device holds the grant. */
  issuedAt?: string;
  /** The grant's signed start of access, when this device holds the grant. */
  start?: string;
  /** When its `consent-grant` entry was appended (the appending device's clock). */
  recordedAt: string;
  recipient: string;
  recordTypes: string[];
  purpose: string;
  expiresAt: string;
  /**
   * When it was revoked: the signed revocation's time when this device holds it, else the time of the
   * first `consent-revoke` entry of the patient's devices for it. Absent: not known to be revoked.
   */
  revokedAt?: string;
  /** The device that revoked it, as its `consent-revoke` entry names it (absent when none names one). */
  revokedByDeviceId?: string;
  /** Server-logged accesses by the recipient. */
  accesses: number;
  documentsDisclosed: number;
}

/** A patient's chain of entries this device holds back after a refusal. */
export interface UndeliveredChain {
  patientId: string;
  entries: number;
  code: string;
  message: string;
  refusals: number;
  since: string;
  nextAttemptAt: string;
  /** Some of its entries may be stored already (a push went unanswered): it is never given up. */
  maybeStored: boolean;
}

const OUTBOX = 'audit-outbox';
const OUTBOX_STATE = 'audit-outbox-state';
const NOTED = 'audit-noted-changes';
const OWN = 'audit-own';
/** Per patient, this device's chain position in that patient's log (`META_SCHEMAS.auditChain`). */
const CHAIN = 'audit-chain';
/** Per patient, each author's chain as far as this device verified it (see the header). */
const SEEN = 'audit-seen';
/** How far the server acknowledged this device's chain in its account's own log, and under which store. */
const OWN_ACKED = 'audit-own-acked';
/** Positions of that chain lost with an announced restore, reported until accepted (see the header). */
const OWN_LOST = 'audit-own-lost';
const MAX_OWN_LOST = 100;
/**
 * Per patient other than this account: the newest entries of this device's chain in that patient's log
 * that the server acknowledged, signed as pushed, to send again after a restore (see the header).
 */
const KEPT = 'audit-kept';
/**
 * When each KEPT was last written (by its key name, day resolution), so that the total is bounded: past
 * MAX_KEPT_PATIENTS, the least recently written are removed (see indexKept). Not named under `audit-kept`,
 * where every key is one patient's.
 */
const KEPT_INDEX = 'audit-index-kept';
const MAX_KEPT_PATIENTS = 200;
const KEPT_INDEX_STEP_MS = 24 * 3600_000;
const KeptIndex = Type.Record(Type.String({ maxLength: 128 }), Type.Number());
type KeptIndex = Static<typeof KeptIndex>;
/** The keys kept per patient, each named `<kind>:<digest of the patient's id>` (see the header). */
const PER_PATIENT = [CHAIN, SEEN, KEPT] as const;
type PerPatient = (typeof PER_PATIENT)[number];
/**
 * Set once a start found no key left under an older build's names (all moved): later starts list none
 * (see renameOld). A key an older build writes after it (run again) is moved at its first use (`keyOf`).
 */
const RENAMED = 'audit-keys-renamed';
/** HKDF info of the key of those digests (hash.ts: one label per purpose). */
const NAMES_LABEL = 'hale/meta-names/v1';
/** The key of the names' digests: derived from the at-rest key, so a name reveals nothing of it. */
const namesKeyOf = (localKey: Uint8Array): Uint8Array => hkdfSha256(localKey, NAMES_LABEL);
const nameWith = (namesKey: Uint8Array, kind: PerPatient, patientId: string): string =>
  `${kind}:${base64urlEncode(hmacSha256(namesKey, utf8Encode(patientId)))}`;
/** The device meta key of `kind` for `patientId` on a device whose at-rest key is `localKey`. */
export const patientKeyName = (localKey: Uint8Array, kind: PerPatient, patientId: string): string =>
  nameWith(namesKeyOf(localKey), kind, patientId);
/** Any stored value, as it is: an older build's entry is moved unread, whatever a newer build put there. */
const AnyValue = Type.Unknown();
/**
 * Entries kept per patient. A restore loses what was acknowledged after the last backup (typically a day),
 * so the newest ones are enough; the whole set is read and written again at each acknowledgement.
 */
const MAX_KEPT = 100;
/** Characters of sealed bodies (`ct`) kept per patient: a couple of coalesced entries of 500 changes. */
const MAX_KEPT_CHARS = 128 * 1024;
const MAX_OWN = 10_000;
const MAX_ISSUES = 200;
const COALESCE = 500;
/** The action of the entry session.ts appends when the device first opens its account. */
const SIGN_IN = 'device-sign-in';
const BATCH = 200;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 6 * 3600_000;
const GIVE_UP_AFTER_MS = 7 * 24 * 3600_000;
const GIVE_UP_MIN_REFUSALS = 3;
/** Pushes of one flush: a chain continued after the server's end goes out again at once (see flush). */
const MAX_CONTINUE_ROUNDS = 3;
/** Refusals a later push may not repeat: the grant may be renewed. Codes marked `retry` are the others. */
const ACCESS_CODES: ReadonlySet<string> = new Set(['NO_CONSENT', 'CONSENT_EXPIRED', 'CONSENT_REVOKED']);

const OutboxState = Type.Object({
  /** Audit stream → why its chain is held back, and when to try again. */
  held: Type.Record(
    Type.String({ maxLength: 128 }),
    Type.Object({
      code: Type.String({ maxLength: 64 }),
      message: Type.String({ maxLength: 1000 }),
      refusals: Type.Integer({ minimum: 1 }),
      firstAt: Type.Number(),
      nextAt: Type.Number(),
      /** Rows of the stream when last refused: more means new activity, retried at once. */
      rows: Type.Integer({ minimum: 0 }),
    }),
  ),
  /** Ids of rows pushed without an answer: they may be stored, so they are never given up. */
  maybeStored: Type.Array(Type.String({ maxLength: 64 })),
  /** Ids of the push under way; at the next flush (after a crash) they count as maybe stored. */
  inFlight: Type.Array(Type.String({ maxLength: 64 })),
});
type OutboxState = Static<typeof OutboxState>;

const NotedChange = Type.Object(
  {
    action: Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')]),
    kind: Type.String({ maxLength: 64 }),
    id: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false },
);
/** An older build's NOTED: the changes by patient, named by no entry (appended as new ones). */
const NotedChanges = Type.Record(Type.String({ maxLength: 128 }), Type.Array(NotedChange));
type NotedChanges = Static<typeof NotedChanges>;
/**
 * Record changes noted but not yet in an entry, kept across a close and a crash (see the header): in
 * batches of one patient's changes, each named by the id of the entry that will list it. An older build
 * reads this as no NOTED (a key it does not know is a patient's changes of the wrong shape).
 */
const NotedBatches = Type.Object(
  {
    batches: Type.Array(
      Type.Object(
        { patientId: Type.String({ maxLength: 128 }), entry: RecordId, changes: Type.Array(NotedChange) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
type NotedBatches = Static<typeof NotedBatches>;
type NotedBatch = NotedBatches['batches'][number];
const NotedStored = Type.Union([NotedBatches, NotedChanges]);
/** NOTED as read, in batches (an older build's, named by no entry: one per patient). */
const storedBatches = (
  kept: Static<typeof NotedStored> | null,
): Array<{ patientId: string; entry?: string; changes: RecordChange[] }> => {
  if (kept === null) return [];
  const batches = validate(NotedBatches, kept);
  if (batches.ok) return batches.value.batches;
  const older = validate(NotedChanges, kept);
  if (!older.ok) return [];
  return Object.entries(older.value).map(([patientId, changes]) => ({ patientId, changes }));
};

/**
 * The highest position of this device's chain in its account's own log that the server acknowledged, and
 * the server store's incarnation (`ready.incarnation`) it was acknowledged by or last checked against.
 */
const OwnAcked = Type.Object(
  { seq: Type.Integer({ minimum: 0 }), incarnation: Type.Optional(Incarnation) },
  { additionalProperties: false },
);

/** Positions `from`–`to` of that chain, lost when the store was restored as incarnation `incarnation`. */
const OwnLost = Type.Array(
  Type.Object(
    { from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }), incarnation: Incarnation },
    { additionalProperties: false },
  ),
  { maxItems: MAX_OWN_LOST },
);

/**
 * This device's entries in one patient's log (not its account's own) that the server acknowledged, in
 * chain order, and the store's incarnation that acknowledged them or that they were last sent again to.
 */
const KeptEntries = Type.Object(
  {
    incarnation: Type.Optional(Incarnation),
    rows: Type.Array(PushDoc, { maxItems: MAX_KEPT }),
  },
  { additionalProperties: false },
);
type KeptEntries = Static<typeof KeptEntries>;

/** `rows` (acknowledged entries of one chain) merged into `kept`: one per id, in chain order, the newest. */
const keepNewest = (kept: readonly PushDoc[], rows: readonly PushDoc[]): PushDoc[] => {
  const byId = new Map<string, PushDoc>();
  for (const d of [...kept, ...rows]) byId.set(d.id, d);
  const sorted = [...byId.values()].sort((a, b) => (a.audit?.authorSeq ?? 0) - (b.audit?.authorSeq ?? 0));
  // The newest always, however large: it is the one the next entry links to.
  let from = sorted.length;
  let chars = 0;
  for (const d of sorted.toReversed()) {
    chars += d.ct.length;
    if (sorted.length - from >= MAX_KEPT || (chars > MAX_KEPT_CHARS && from < sorted.length)) break;
    from--;
  }
  return sorted.slice(from);
};

const backoff = (refusals: number): number =>
  Math.min(BACKOFF_BASE_MS * 2 ** Math.min(refusals - 1, 20), BACKOFF_MAX_MS);

/** Whether a later push could be accepted: the grant may return, or the server was busy. */
const retryable = (code: string): boolean =>
  ACCESS_CODES.has(code) || (isErrorCode(code) && ERROR_CODES[code].retry);

/**
 * Per author (device or server), the highest position of its chain in one patient's log that this device
 * verified whole, the link hash of the entry there, and the server store's incarnation then (when known).
 */
const SeenChains = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Object(
    {
      seq: Type.Integer({ minimum: 1 }),
      hash: Type.String({ maxLength: 128 }),
      incarnation: Type.Optional(Incarnation),
    },
    { additionalProperties: false },
  ),
);
type SeenChains = Static<typeof SeenChains>;

/**
 * The account's own log as this device last verified it with no problem, for the views (see the header).
 * One key: the views read the account's own log only, so it names no patient.
 */
const VIEW = 'audit-view';
/** Opened entries kept in VIEW at most, and characters of them (as JSON): older ones are read again. */
const MAX_VIEW_ENTRIES = 20_000;
const MAX_VIEW_CHARS = 8 * 1024 * 1024;
/** A view reads and verifies the whole log again when the last whole check is older than this… */
const VIEW_FULL_CHECK_MS = 24 * 3600_000;
/** …and at every this-many views of a session. */
const VIEW_FULL_CHECK_VIEWS = 25;
/**
 * How long a read of the log (a view without the offline option, `verify`, `acceptLosses`, `recorded`)
 * waits for the connection, counted from when it was asked: twice the connection's longest reconnect
 * backoff (15 s), so one attempt at least is waited for, and a screen never spins for ever.
 */
export const VIEW_WAIT_MS = 30_000;
/** Statuses a request waits in for `ready`; any other it is sent (or refused: stopped, fatal) at once. */
const WAITING: ReadonlySet<ConnectionStatus> = new Set(['offline', 'connecting']);
const ViewHeads = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Object(
    { seq: Type.Integer({ minimum: 1 }), hash: Type.String({ maxLength: 128 }) },
    { additionalProperties: false },
  ),
);
/** An opened entry as kept, with its link hash (`chainLinkHash`): the next entry of its author names it. */
const ViewEntry = Type.Object(
  {
    id: Type.String({ maxLength: 128 }),
    seq: Type.Integer({ minimum: 1 }),
    author: Type.String({ maxLength: 128 }),
    authorSeq: Type.Integer({ minimum: 1 }),
    at: Type.String({ maxLength: 64 }),
    body: AuditBody,
    source: Type.Union([Type.Literal('server'), Type.Literal('patient'), Type.Literal('grantee')]),
    authorAccountId: Type.String({ maxLength: 128 }),
    link: Type.String({ maxLength: 128 }),
    unreadable: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
type ViewEntry = Static<typeof ViewEntry>;
/** Per device author of the cached entries (dropped ones too), how they were judged (`Judged`). */
const ViewJudged = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Object(
    { account: Type.String({ maxLength: 128 }), revokedAt: Type.Optional(Type.String({ maxLength: 64 })) },
    { additionalProperties: false },
  ),
);
type ViewJudged = Static<typeof ViewJudged>;
/**
 * The view cache's parts (see VIEW): older cached entries sealed under keys of their own, each a random
 * name (`audit-view-part/<slot>`) written once and never again, so an index naming one names that very
 * content; an index no longer naming one has it removed.
 */
const VIEW_PART_PREFIX = 'audit-view-part/';
/** Entries kept in VIEW itself (its tail) at most, and characters of them: past it, sealed into parts. */
const VIEW_TAIL_ENTRIES = 256;
const VIEW_TAIL_CHARS = 128 * 1024;
/** A part holds at most this many entries and characters (more sealed at once are split)… */
const VIEW_PART_ENTRIES = 1024;
const VIEW_PART_CHARS = 512 * 1024;
/** …and one cache at most this many parts (past it the two adjacent smallest are merged, whatever size). */
const MAX_VIEW_PARTS = 64;
/** Where a part of the view cache lies and what it holds (checked when read): see VIEW_PART_PREFIX. */
const ViewPartRef = Type.Object(
  {
    key: Type.String({ pattern: '^audit-view-part/[A-Za-z0-9_-]{1,64}$' }),
    /** Its entries, the served positions of its first and last, and their characters as JSON. */
    entries: Type.Integer({ minimum: 1 }),
    from: Type.Integer({ minimum: 1 }),
    to: Type.Integer({ minimum: 1 }),
    chars: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
type ViewPartRef = Static<typeof ViewPartRef>;
const ViewPart = Type.Object(
  { entries: Type.Array(ViewEntry, { minItems: 1, maxItems: MAX_VIEW_ENTRIES }) },
  { additionalProperties: false },
);
const ViewCache = Type.Object(
  {
    /** The server store's incarnation the log was read from (`incarnation` in device meta then). */
    incarnation: Type.Optional(Incarnation),
    /** The stream position read through: every entry served at or below it is here or in `dropped`. */
    through: Type.Integer({ minimum: 0 }),
    /** When the whole log was last read and verified (this device's clock). */
    fullAt: Type.Number(),
    /** Each author's chain as verified whole through `through`. */
    heads: ViewHeads,
    /**
     * Each device author's account and revocation cutoff its entries were judged under: a view whose
     * directory now answers another reads the whole log. Every author of `heads` but the server is here.
     */
    judged: ViewJudged,
    /** The oldest entries, over the budget: served at or below `through`, verified whole to `heads`. */
    dropped: Type.Optional(
      Type.Object(
        { through: Type.Integer({ minimum: 1 }), entries: Type.Integer({ minimum: 1 }), heads: ViewHeads },
        { additionalProperties: false },
      ),
    ),
    /**
     * The older cached entries, in parts of their own (served order): every entry served after
     * `dropped.through` (or from the start) through the last's `to`. Absent: none (a cache an older build
     * wrote is so, every entry in `entries`; a build before parts refuses one with parts).
     */
    parts: Type.Optional(Type.Array(ViewPartRef, { minItems: 1, maxItems: MAX_VIEW_PARTS })),
    /** Every entry served after the parts (or `dropped.through`, or from the start) through `through`. */
    entries: Type.Array(ViewEntry, { maxItems: MAX_VIEW_ENTRIES }),
  },
  { additionalProperties: false },
);
type ViewCache = Static<typeof ViewCache>;
type ViewHeads = Static<typeof ViewHeads>;
/** What VIEW holds beside its entries and parts. */
type ViewFields = Omit<ViewCache, 'entries' | 'parts'>;
/** A part of the view cache as read (`stored`) or still to be written: where it lies, and its entries. */
interface HeldPart {
  ref: ViewPartRef;
  entries: ViewEntry[];
  stored: boolean;
}
/** The view cache as stored: VIEW (`index`, its `entries` the newest), its parts, every entry in order. */
interface StoredView {
  index: ViewCache;
  parts: HeldPart[];
  entries: ViewEntry[];
}
const fieldsOf = ({ entries: _entries, parts: _parts, ...fields }: ViewCache): ViewFields => fields;
const partKeysOf = (view: StoredView): string[] => view.parts.map((p) => p.ref.key);
/**
 * When the log was last read with the view cache found as it is (VIEW_READ), which that cache is (its
 * `through` and `fullAt`), for an answer offline: written after VIEW, removed before it.
 */
const VIEW_READ = 'audit-view-read';
const ViewRead = Type.Object(
  {
    through: Type.Integer({ minimum: 0 }),
    fullAt: Type.Number(),
    at: Type.Number(),
    /**
     * Device authors of the cache the directory could not answer for at that read (`unjudged`): their
     * entries are left out of an answer offline. An older build refuses a note with it (no answer offline).
     */
    unjudged: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: MAX_VIEW_ENTRIES })),
  },
  { additionalProperties: false },
);
/**
 * How long a view takes a cached author the directory could not answer for (its device list did not load)
 * as still unanswerable, without asking again: its entries are left out meanwhile (see `judgeCached`).
 */
const VIEW_UNJUDGED_RETRY_MS = 60_000;
/** One look-up of the device directory (`authorKey(account, device)`), as a key: no two pairs share one. */
const lookupOf = (account: string, device: string): string => JSON.stringify([account, device]);

/** Patient actions on a grant whose entries `recorded` looks for. */
type GrantAction = 'consent-grant' | 'consent-revoke';
const GRANT_ACTIONS: readonly GrantAction[] = ['consent-grant', 'consent-revoke'];
/** The grants whose entries `recorded` looks for, by action. */
export type ConsentLookup = Partial<Record<GrantAction, readonly string[]>>;
/** Those of a `ConsentLookup` found recorded, by action. */
export type ConsentRecorded = Record<GrantAction, Set<string>>;

/** What identifies an own grant or revocation entry (device meta keeps own bodies loosely typed). */
const OwnGrantEntry = Type.Object({
  action: Type.Union([Type.Literal('consent-grant'), Type.Literal('consent-revoke')]),
  grantId: Type.String(),
});

const patientOf = (stream: string): string => stream.slice(0, stream.length - '/audit'.length);

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** A conflict whose stored entry is ours byte for byte in every signed field: already stored. */
const sameStored = (master: ServedDoc | null, doc: PushDoc): boolean =>
  master !== null &&
  master.rev === doc.rev &&
  master.ct === doc.ct &&
  master.sig === doc.sig &&
  master.author === doc.author &&
  master.audit?.authorSeq === doc.audit?.authorSeq &&
  master.audit?.prevHash === doc.audit?.prevHash &&
  master.audit?.at === doc.audit?.at;

const judgedOf = (account: string, key: AuthorKey): Judged =>
  key.revokedAt === undefined ? { account } : { account, revokedAt: key.revokedAt };

const sameJudged = (a: Judged | null, b: Judged | null): boolean =>
  a !== null && b !== null && a.account === b.account && a.revokedAt === b.revokedAt;

/**
 * How a check judged each device author, for the view cache: one judged two ways within the check is left
 * out (a view then finds it unnoted and reads the whole log again).
 */
const judgedBy = (checked: Checked): ViewJudged => {
  const judged: ViewJudged = {};
  for (const [author, j] of checked.judged) if (j !== null) judged[author] = j;
  return judged;
};

export const createAuditLog = (deps: AuditLogDeps) => {
  const iso = (ms = deps.now()): string => new Date(ms).toISOString();
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  /**
   * Changes noted and in no entry yet, in batches of one patient's (at most COALESCE), each named by the id
   * its entry will have (NOTED, see the header); a patient's newest batch takes the next note.
   */
  const pendingBatches: NotedBatch[] = [];
  let changeTimer: ReturnType<typeof setTimeout> | null = null;
  const issues: string[] = [];
  const issue = (message: string): void => {
    issues.push(message);
    if (issues.length > MAX_ISSUES) issues.splice(0, issues.length - MAX_ISSUES);
  };

  // Keyed by the at-rest key: whoever can compute a name from an id can open the store anyway. Derived
  // now, from the copy this log was given: the session zeroes its copies at close.
  const namesKey = namesKeyOf(deps.keys.localKey);
  const nameOf = (kind: PerPatient, patientId: string): string => nameWith(namesKey, kind, patientId);
  const oldNameOf = (kind: PerPatient, patientId: string): string => `${kind}/${patientId}`;
  /** `count` entries (null: not known, they could not be looked for) are left under their old names. */
  const notRenamed = (count: number | null, error: unknown): void => {
    const what =
      count === null
        ? "the audit metadata entries an older build named by a patient's id could not be looked for"
        : `${count} audit metadata entr${count === 1 ? 'y' : 'ies'} an older build named by a patient's id ` +
          'could not be renamed';
    issue(
      `AUDIT_KEYS_NOT_RENAMED: ${what}; tried again at the next start: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  };
  /**
   * Moves the value an older build kept under `old` to `name`, unless `name` holds one already (moved
   * before a crash cut the removal short). Answers whether `old` held one.
   */
  const moveValue = async (old: string, name: string): Promise<boolean> => {
    const value = await deps.meta.get(old, AnyValue);
    if (value === null) return false;
    await deps.meta.update(name, AnyValue, (current) => current ?? value);
    return true;
  };
  /** Per key, its move from an older build's name (made or under way); dropped when it failed. */
  const moves = new Map<string, Promise<void>>();
  /** Runs `move` as the one move to `name` of this log, unless one was made or is under way. */
  const moveOnce = (name: string, move: () => Promise<void>): Promise<void> => {
    const known = moves.get(name);
    if (known !== undefined) return known;
    const made = move();
    moves.set(name, made);
    made.catch(() => moves.delete(name));
    return made;
  };
  /**
   * The key of `kind` for `patientId`, once what an older build kept under the patient's id is moved
   * there (`renameOld` moves them all at a session's start; this, any it has not reached). Rejects when
   * the move fails: under its new name the state would be taken for absent (a chain restarted at 1).
   * Removing the old name is only reported when it fails: its value was moved.
   */
  const keyOf = async (kind: PerPatient, patientId: string): Promise<string> => {
    const name = nameOf(kind, patientId);
    const old = oldNameOf(kind, patientId);
    await moveOnce(name, async () => {
      if (await moveValue(old, name)) await deps.meta.remove([old]).catch((e: unknown) => notRenamed(1, e));
    });
    return name;
  };
  const chainKey = (patientId: string): Promise<string> => keyOf(CHAIN, patientId);
  const seenKey = (patientId: string): Promise<string> => keyOf(SEEN, patientId);
  const keptKey = (patientId: string): Promise<string> => keyOf(KEPT, patientId);
  /**
   * Moves every entry an older build named by a patient's id, found by their names whichever patients
   * they name, to its digest name, then removes the old names at once (one purge of the store). Never
   * throws: what fails is reported and tried again at the next start, and `keyOf` moves a patient's
   * before its first use meanwhile. A store that cannot list its keys leaves them all to `keyOf`.
   */
  const renameOld = async (): Promise<void> => {
    if ((await deps.meta.get(RENAMED, Type.Boolean()).catch(() => null)) === true) return;
    const found: Array<{ old: string; name: string }> = [];
    try {
      for (const kind of PER_PATIENT) {
        const names = await deps.meta.keys(`${kind}/`);
        if (names === null) return;
        for (const old of names) found.push({ old, name: nameOf(kind, old.slice(kind.length + 1)) });
      }
    } catch (error) {
      notRenamed(null, error);
      return;
    }
    const moved: string[] = [];
    let failure: unknown = null;
    for (const { old, name } of found) {
      try {
        await moveOnce(name, async () => void (await moveValue(old, name)));
        moved.push(old);
      } catch (error) {
        failure ??= error;
      }
    }
    let left = found.length - moved.length;
    // Removed ones still listed (a purge cut short) go too: `remove` purges them.
    if (moved.length > 0) {
      await deps.meta.remove(moved).catch((error: unknown) => {
        failure ??= error;
        left = found.length;
      });
    }
    if (failure !== null) notRenamed(left, failure);
    // Not set when anything failed: the next start lists and tries again.
    else await deps.meta.set(RENAMED, true).catch(() => undefined);
  };

  /** The key `patientId`'s entries are sealed to; throws when the directory cannot give it. */
  const wrappingOf = async (patientId: string): Promise<Uint8Array> => {
    const wrapping =
      patientId === deps.accountId
        ? deps.keys.wrapping.publicKey
        : await deps.directory.wrappingKey(patientId);
    if (!wrapping) throw new AuditError('AUDIT_NO_WRAPPING_KEY', `no wrapping key for ${patientId}`);
    return wrapping;
  };

  /** One entry of `body` in `patientId`'s log, sealed to `wrapping`, with id `id` if given; run inside `serial`. */
  const appendSealedTo = async (
    patientId: string,
    wrapping: Uint8Array,
    body: AuditEntryDetail,
    id?: string,
  ) => {
    const full: AuditEntryBody = {
      ...body,
      kind: 'AuditEntry',
      actorId: deps.accountId,
      actorDeviceId: deps.device.deviceId,
      at: iso(),
    };
    // Callers are apps as well as this library: a body its readers would refuse is never signed, or
    // every device would read the entry as one inserted into the trail.
    const checked = validate(AuditEntryBody, full);
    if (!checked.ok) {
      const issues = (checked.error.details?.issues ?? []).map((i) => `${i.path}: ${i.reason}`).join('; ');
      throw new RecordError('VALIDATION_FAILED', `audit entry refused, nothing appended: ${issues}`);
    }
    // A chain position that cannot be read stops the append (restarting at 0 would fork the chain).
    const entry: { made?: Awaited<ReturnType<typeof makeAuditEntry>>; before?: ChainState } = {};
    const key = await chainKey(patientId);
    await deps.meta.update(key, META_SCHEMAS.auditChain, async (chain) => {
      // Locked while the chain position was read: nothing is signed (the position is not advanced).
      deps.assertUnlocked?.();
      entry.before = chain ?? { seq: 0, hash: null };
      const made = await makeAuditEntry({
        patientId,
        patientWrappingKey: wrapping,
        device: deps.device,
        ed: deps.ed,
        ...(deps.x25519 === undefined ? {} : { x25519: deps.x25519 }),
        chain: chain ?? { seq: 0, hash: null },
        body: full,
        now: deps.now,
        ...(id === undefined ? {} : { id }),
      });
      entry.made = made;
      return made.chain;
    });
    const { made, before } = entry;
    if (made === undefined || before === undefined) throw new Error('audit entry was not made');
    try {
      await deps.meta.update(OUTBOX, META_SCHEMAS.auditOutbox, (outbox) => [...(outbox ?? []), made.doc]);
    } catch (error) {
      // A write that reports failure may still have stored the row: read back first. Queued after all, it
      // is appended. Not queued, the chain goes back to before it, or the next entry would link to it and
      // every reader report it missing for good — only from the position this append set (in `serial`,
      // nothing else moves it meanwhile). Not known (the read fails too), the chain is not set back: a
      // gap is reported as deleted, a second entry at one position as a fork.
      const queued = await deps.meta.get(OUTBOX, META_SCHEMAS.auditOutbox).then(
        (outbox) => (outbox ?? []).some((doc) => doc.id === made.doc.id),
        () => undefined,
      );
      if (queued !== true) {
        const gap = (why: string): void =>
          issue(
            `AUDIT_GAP: position ${made.chain.seq} of this device's audit chain for ${patientId} was taken by an ` +
              `entry that could not be queued, and ${why}: the log may miss it`,
          );
        if (queued === false) {
          await deps.meta
            .update(key, META_SCHEMAS.auditChain, (chain) =>
              chain?.seq === made.chain.seq && chain.hash === made.chain.hash ? before : chain,
            )
            .catch((rewind: unknown) =>
              gap(
                `the chain could not be set back (${rewind instanceof Error ? rewind.message : String(rewind)})`,
              ),
            );
        } else gap('the outbox could not be read back to tell');
        throw error;
      }
    }
    // Queued: appended, whatever follows. Failing the call now would have its caller append it again.
    await deps.meta
      .update(OWN, META_SCHEMAS.auditOwn, (own) =>
        [...(own ?? []), { id: made.doc.id, patientId, body: full }].slice(-MAX_OWN),
      )
      .catch((error: unknown) =>
        issue(
          `AUDIT_OWN_NOT_KEPT: an audit entry for ${patientId} (${full.action}) was appended but is missing from ` +
            `this device's list of its own actions: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    return made.doc;
  };

  /**
   * Appends one entry (`id`: its id, chosen before). This device's sign-in entry in its account's own log
   * is appended once: asked again while one is still in the outbox (session.ts saves `signed-in` after the
   * append; a crash in between has the next start ask again), that one is answered (see the header).
   */
  const append = (patientId: string, body: AuditEntryDetail, id?: string) =>
    serial(async () => {
      deps.assertUnlocked?.();
      if (body.action === SIGN_IN && patientId === deps.accountId) {
        const queued = await queuedSignIn();
        if (queued !== null) return queued;
      }
      return appendSealedTo(patientId, await wrappingOf(patientId), body, id);
    });

  /** This device's sign-in entry still in the outbox (its account's own log), or null. */
  const queuedSignIn = async (): Promise<PushDoc | null> => {
    for (const doc of await outboxNow()) {
      if (doc.stream !== ownStream || doc.author !== deps.device.deviceId) continue;
      const body = openAuditBody(doc, deps.keys.wrapping, deps.x25519);
      if (
        body?.kind === 'AuditEntry' &&
        body.action === SIGN_IN &&
        body.actorDeviceId === deps.device.deviceId
      )
        return doc;
    }
    return null;
  };

  /**
   * Appends an entry to each patient's log named, one after another; every wrapping key is had first, so
   * a patient whose key cannot be had (offline, say) fails the call before anything is signed. A later
   * failure (storage) leaves the entries appended before it.
   */
  const appendAll = (items: readonly { readonly patientId: string; readonly detail: AuditEntryDetail }[]) =>
    serial(async () => {
      deps.assertUnlocked?.();
      const keys: Uint8Array[] = [];
      for (const { patientId } of items) keys.push(await wrappingOf(patientId));
      const docs = [];
      for (const [n, { patientId, detail }] of items.entries()) {
        docs.push(await appendSealedTo(patientId, keys[n]!, detail));
      }
      return docs;
    });

  /**
   * Reads the outbox state, counting a push that was under way (the device stopped before its answer)
   * as unanswered. Null when it cannot be read: then nothing is held back by time or given up.
   */
  const loadState = async (): Promise<OutboxState | null> => {
    try {
      return await deps.meta.update(OUTBOX_STATE, OutboxState, (current) => {
        const s = current ?? { held: {}, maybeStored: [], inFlight: [] };
        return { ...s, maybeStored: [...new Set([...s.maybeStored, ...s.inFlight])], inFlight: [] };
      });
    } catch {
      return null;
    }
  };

  /**
   * Whether `rows` (every outbox row of one chain, in order) may leave their positions: given up (the
   * chain rewound to before the first) or re-signed elsewhere — only when nothing of them can be stored
   * and they are the chain's tail, contiguous up to the chain position. `kept`: the patient's KEPT rows
   * (read at most once for a refusal, `keptOnce`).
   */
  const rewritable = async (
    stream: string,
    rows: PushDoc[],
    state: OutboxState,
    kept: () => Promise<readonly PushDoc[]>,
  ): Promise<boolean> => {
    const first = rows[0]?.audit;
    const last = rows.at(-1)?.audit;
    if (first === undefined || last === undefined) return false;
    const maybe = new Set(state.maybeStored);
    if (rows.some((r) => maybe.has(r.id))) return false;
    // Sent again after a restore (resendAfterRestore): acknowledged before, so perhaps still stored.
    const resent = new Set((await kept()).map((r) => r.id));
    if (rows.some((r) => resent.has(r.id))) return false;
    // Contiguous positions: a hole means a later position was acknowledged, which links to these rows.
    if (rows.some((r, i) => r.audit?.authorSeq !== first.authorSeq + i)) return false;
    const chain = await deps.meta.get(await chainKey(patientOf(stream)), META_SCHEMAS.auditChain);
    return chain !== null && chain.seq === last.authorSeq;
  };

  /** The server store's incarnation the current connection announced (`connected`). */
  let served: string | undefined;

  /**
   * After the server refused the first of `rows` (every outbox row of one chain, in order) for a chain
   * position this device already holds there, naming where it holds this device's chain end (`end`):
   * those rows re-signed after that end, in order (same ids, bodies and times), and the chain position
   * after them — or null when that is not sound, and the rows are handled as any refusal (given up). Not
   * sound: a row may be stored already, or is not the chain's tail (`rewritable`); the end is below the
   * refused position (the server holds that position, so its end cannot be); or what this device can
   * check contradicts the end: in its account's own log (which it reads) its chain as served must verify
   * whole under its key and end exactly there; elsewhere (a patient's log, which a grantee cannot read)
   * an entry it kept (KEPT) at that position must have that link hash, and none it kept lie past it. A
   * lying server can so make this device re-sign only its own entries, at other positions: at worst the
   * patient's devices report a gap or a broken link in its chain. Throws when the account is locked or
   * the log cannot be read: the rows are then held and retried, never given up for it.
   */
  const continueAfterServedEnd = async (
    stream: string,
    rows: PushDoc[],
    end: AuditChainEnd,
    state: OutboxState,
    kept: () => Promise<readonly PushDoc[]>,
  ): Promise<{ rows: PushDoc[]; chain: ChainState } | null> => {
    const first = rows[0]?.audit;
    if (first === undefined || end.authorSeq < first.authorSeq) return null;
    if (!(await rewritable(stream, rows, state, kept))) return null;
    deps.assertUnlocked?.();
    if (stream === ownStream) {
      const { head, top } = await servedOwnChain();
      if (head.seq !== end.authorSeq || head.hash !== end.linkHash || top !== head.seq) return null;
    } else {
      const mine = await kept();
      if (mine.some((d) => (d.audit?.authorSeq ?? 0) > end.authorSeq)) return null;
      const there = mine.find((d) => d.audit?.authorSeq === end.authorSeq);
      if (there?.audit !== undefined) {
        const sig = base64urlDecode(there.sig ?? '');
        const payload = auditSignaturePayload({ ...there, audit: there.audit });
        if (!sig.ok || chainLinkHash(payload, sig.value) !== end.linkHash) return null;
      }
    }
    return relinkAfter(rows, { seq: end.authorSeq, hash: end.linkHash });
  };
  const ownStream = `${deps.accountId}/audit`;
  // tweetnacl layout: seed ‖ public key.
  const ownPublicKey = (): Uint8Array => deps.device.secretKey.slice(32);

  /** The outbox as stored (none, or unreadable: empty). */
  const outboxNow = async (): Promise<PushDoc[]> =>
    (await deps.meta.get(OUTBOX, META_SCHEMAS.auditOutbox)) ?? [];

  /**
   * This device's chain in its account's own log as served (`log`, else read now): how far it verifies
   * whole under this device's key (`head`; none: position 0), and the highest position served of it
   * (`top`: past `head` when the chain has a hole or an entry that does not verify).
   */
  const servedOwnChain = async (log?: readonly ServedDoc[]): Promise<{ head: ChainState; top: number }> => {
    const own = deps.device.deviceId;
    const mine = (log ?? (await fetchAll(deps.accountId))).filter(
      (e) => e.author === own && e.stream === ownStream,
    );
    const publicKey = ownPublicKey();
    const { heads } = await verifyAuditChains(mine, async () => publicKey, deps.ed);
    return {
      head: heads.get(own) ?? { seq: 0, hash: null },
      top: mine.reduce((n, e) => Math.max(n, e.audit?.authorSeq ?? 0), 0),
    };
  };

  /**
   * `rows` (outbox rows of this device, in order) re-signed at the positions after `from`, each linked to
   * the one before (same ids, bodies and times), and the chain state after the last.
   */
  const relinkAfter = async (
    rows: readonly PushDoc[],
    from: ChainState,
  ): Promise<{ rows: PushDoc[]; chain: ChainState }> => {
    let chain = from;
    const relinked: PushDoc[] = [];
    for (const doc of rows) {
      const at = doc.audit?.at;
      if (at === undefined) throw new Error('an outbox row has no audit header');
      const unsigned = { ...doc, audit: { authorSeq: chain.seq + 1, prevHash: chain.hash, at } };
      const payload = auditSignaturePayload(unsigned);
      const sig = await signCanonical(deps.ed, deps.device.secretKey, payload.label, payload);
      relinked.push({ ...unsigned, sig: base64urlEncode(sig) });
      chain = { seq: chain.seq + 1, hash: chainLinkHash(payload, sig) };
    }
    return { rows: relinked, chain };
  };

  /**
   * At the first flush on a connection to a store of another incarnation than the one that last
   * acknowledged this device's chain in its account's own log (a restore was announced since): if the
   * served chain is whole but ends below the position acknowledged, and nothing of it is served past that
   * end, the lost positions are kept to be reported (OWN_LOST) and the chain continues from the served end
   * — the outbox rows of the stream re-signed after it, in order — so later entries link to an entry that
   * exists. Anything else (a hole, an entry served past the end) is left to be
   * reported as before. Throws when the log cannot be read or the account is locked: then nothing is
   * pushed (a row pushed first would link to a lost entry for good), and the next flush checks again.
   * `outbox`: as a flush read it (null: read here). Answers the outbox as it leaves it when the chain was
   * continued, else null.
   */
  const continueAfterRestore = async (
    outbox: readonly PushDoc[] | null,
    log?: readonly ServedDoc[],
  ): Promise<PushDoc[] | null> => {
    if (served === undefined) return null;
    const acked = await deps.meta.get(OWN_ACKED, OwnAcked);
    if (acked?.incarnation === undefined || acked.incarnation === served || acked.seq === 0) return null;
    const rows = (outbox ?? (await outboxNow())).filter((d) => d.stream === ownStream);
    // Only a row about to be pushed could link to a lost entry: a flush with none reads nothing (a server
    // announcing a new incarnation at every connection must not cost a read of the whole log each time);
    // a check of the log (`verify`, `acceptLosses`), which read it anyway, continues the chain then.
    if (rows.length === 0 && log === undefined) return null;
    deps.assertUnlocked?.();
    const incarnation = served;
    const own = deps.device.deviceId;
    const { head, top } = await servedOwnChain(log);
    const checked = async (): Promise<void> => {
      await deps.meta.update(OWN_ACKED, OwnAcked, (current) => ({
        seq: current?.seq ?? acked.seq,
        incarnation,
      }));
    };
    // Every row of the stream is re-signed in outbox (append) order, contiguous or not: after a crash between
    // the outbox write and the chain write below, a row appended meanwhile from the old chain position sits
    // after the others, and re-signing them all in order still leaves one unbroken chain.
    if (head.seq >= acked.seq || top > head.seq) {
      await checked();
      return null;
    }
    // Kept first and the acknowledged position last: a crash in between does all of this again at the
    // next flush, to the same result (signatures are deterministic; rows are re-signed from the served end).
    await deps.meta.update(OWN_LOST, OwnLost, (current) => {
      const list = current ?? [];
      if (list.some((l) => l.from === head.seq + 1 && l.to === acked.seq && l.incarnation === incarnation))
        return current;
      return [...list, { from: head.seq + 1, to: acked.seq, incarnation }].slice(-MAX_OWN_LOST);
    });
    const { rows: moved, chain } = await relinkAfter(rows, head);
    const relinked = new Map(moved.map((d) => [d.id, d]));
    // Pushed unanswered before, these rows could only be in the store that was lost.
    const state = await deps.meta.get(OUTBOX_STATE, OutboxState);
    if (state && rows.length > 0) {
      await deps.meta.set(OUTBOX_STATE, {
        ...state,
        maybeStored: state.maybeStored.filter((id) => !relinked.has(id)),
        inFlight: state.inFlight.filter((id) => !relinked.has(id)),
      });
    }
    const left = await deps.meta.update(OUTBOX, META_SCHEMAS.auditOutbox, (current) =>
      (current ?? []).map((d) => relinked.get(d.id) ?? d),
    );
    await deps.meta.update(await chainKey(deps.accountId), META_SCHEMAS.auditChain, () => chain);
    // The loss is reported from OWN_LOST: the chain seen is lowered so it is not reported twice, and so
    // that the rewritten positions are not taken for a second loss.
    await seenKey(deps.accountId)
      .then((key) =>
        deps.meta.update(key, SeenChains, (current) => {
          const at = current?.[own];
          if (current === null || at === undefined || at.seq <= head.seq) return current;
          const next: SeenChains = { ...current };
          if (head.hash === null) delete next[own];
          else next[own] = { seq: head.seq, hash: head.hash, incarnation };
          return next;
        }),
      )
      .catch(() => null);
    issue(
      `AUDIT_OWN_CONTINUED: the server announced a restore of its store and no longer holds positions ` +
        `${head.seq + 1}–${acked.seq} of this device's audit chain for ${deps.accountId}; the chain continues ` +
        `from position ${head.seq} (verify() reports the loss until acceptLosses)`,
    );
    await deps.meta.set(OWN_ACKED, { seq: head.seq, incarnation });
    return left ?? [];
  };

  /**
   * Per patient, the incarnation its KEPT holds as this session last read or wrote it (null: none, or no
   * KEPT), so that a flush compares it without reading and opening the kept entries (up to MAX_KEPT_CHARS)
   * each time. Only this log writes KEPT, and one session of a device runs at a time (the device lock).
   */
  const keptIncarnations = new Map<string, string | null>();
  /**
   * Patients whose KEPT and SEEN `accessEnded` removed whole in this session, neither written since: a
   * repeat (the session calls it once per purged stream of the patient) reads nothing. Only this log
   * writes them, one session at a time (as above); every write drops the patient from here.
   */
  const accessGone = new Set<string>();
  /**
   * Per patient, how often `accessEnded` ran for it in this session: a check that began before one (its
   * count then differs) remembers nothing of that patient (SEEN), or it would stay after access ended.
   */
  const endings = new Map<string, number>();
  const endingsOf = (patientId: string): number => endings.get(patientId) ?? 0;

  const noteKept = (patientId: string, kept: KeptEntries | null): KeptEntries | null => {
    keptIncarnations.set(patientId, kept?.incarnation ?? null);
    return kept;
  };
  const keptOf = async (patientId: string): Promise<KeptEntries | null> =>
    noteKept(patientId, await deps.meta.get(await keptKey(patientId), KeptEntries));
  /**
   * The rows of `patientId`'s KEPT, read at its first need and then shared (a failed read, too): one
   * refused chain asks up to four times (`continueAfterServedEnd`, `rewritable`, the give-up), and nothing
   * writes KEPT in between.
   */
  const keptOnce = (patientId: string): (() => Promise<readonly PushDoc[]>) => {
    let read: Promise<readonly PushDoc[]> | undefined;
    return () => (read ??= keptOf(patientId).then((kept) => kept?.rows ?? []));
  };

  /**
   * The same moment for this device's chains in other patients' logs, which a grantee cannot read (the
   * server refuses it): where the served chain ends cannot be learnt, so the entries the server acknowledged
   * that this device still holds (KEPT) go back into the outbox ahead of the stream's rows, byte for byte.
   * The server acknowledges one it holds as before and stores one it lost again, at its position, so the
   * rows behind them link to entries that exist. Once a stream's are queued, the incarnation is recorded,
   * so they are queued once per restore; a crash in between queues them again, each id once. Given the
   * outbox as the flush holds it, answers it as it leaves it.
   */
  const resendAfterRestore = async (outbox: PushDoc[]): Promise<PushDoc[]> => {
    const incarnation = served;
    if (incarnation === undefined) return outbox;
    let left = outbox;
    // As for the own chain, only a row about to be pushed could link to a lost entry.
    const streams = new Set(outbox.map((d) => d.stream).filter((stream) => stream !== ownStream));
    for (const stream of streams) {
      const patientId = patientOf(stream);
      const known = keptIncarnations.get(patientId);
      if (known === null || known === incarnation) continue;
      const kept = await keptOf(patientId);
      if (kept?.incarnation === undefined || kept.incarnation === incarnation) continue;
      let queued = 0;
      const now = await deps.meta.update(OUTBOX, META_SCHEMAS.auditOutbox, (current) => {
        const list = current ?? [];
        const present = new Set(list.map((d) => d.id));
        const at = list.findIndex((d) => d.stream === stream);
        const next = at < 0 ? Infinity : (list[at]!.audit?.authorSeq ?? 0);
        const again = kept.rows.filter((r) => !present.has(r.id) && (r.audit?.authorSeq ?? 0) < next);
        queued = again.length;
        if (again.length === 0) return current;
        const cut = at < 0 ? list.length : at;
        return [...list.slice(0, cut), ...again, ...list.slice(cut)];
      });
      left = now ?? [];
      noteKept(
        patientId,
        await deps.meta.update(await keptKey(patientId), KeptEntries, (current) =>
          current === null ? current : { ...current, incarnation },
        ),
      );
      if (queued > 0) {
        issue(
          `AUDIT_RESENT: the server announced a restore of its store; ${queued} audit entr${queued === 1 ? 'y' : 'ies'} ` +
            `of this device for ${patientId} it acknowledged before ${queued === 1 ? 'is' : 'are'} sent again ahead of ` +
            'the next, so that those the restore lost are stored again',
        );
      }
    }
    return left;
  };

  /** The continuation, from a log a check read anyway (account's own log only; see continueAfterRestore). */
  const continueOwn = (patientId: string, log: readonly ServedDoc[]): Promise<boolean> =>
    patientId === deps.accountId
      ? serial(async () => (await continueAfterRestore(null, log)) !== null)
      : Promise.resolve(false);

  const flush = () =>
    serial(async () => {
      if (deps.connection.status() !== 'ready') return 0;
      // Read once: each step below answers the outbox as it leaves it (nothing else writes it meanwhile,
      // every writer runs in `serial`).
      let outbox = await outboxNow();
      outbox = (await continueAfterRestore(outbox)) ?? outbox;
      outbox = await resendAfterRestore(outbox);
      let sent = 0;
      // A chain continued after the server's end is pushed again at once; a server that keeps refusing
      // the continued rows (another refusal naming an end) meets it again only at the next flush.
      for (let round = 0; round < MAX_CONTINUE_ROUNDS; round++) {
        const pushed = await pushOutbox(outbox);
        outbox = pushed.outbox;
        sent += pushed.sent;
        if (!pushed.continued) break;
      }
      return sent;
    });

  /**
   * One push of the due rows of `outbox` (as stored), in batches; answers how many were acknowledged,
   * whether a refused chain was continued after the server's end (its rows re-signed, to be pushed
   * again), and the outbox as it leaves it.
   */
  const pushOutbox = async (
    outbox: PushDoc[],
  ): Promise<{ sent: number; continued: boolean; outbox: PushDoc[] }> => {
    if (outbox.length === 0) return { sent: 0, continued: false, outbox };
    const state = await loadState();
    const t = deps.now();
    const rowsOf = (rows: readonly PushDoc[], stream: string): PushDoc[] =>
      rows.filter((d) => d.stream === stream);
    const due = (stream: string): boolean => {
      const held = state?.held[stream];
      return held === undefined || t >= held.nextAt || rowsOf(outbox, stream).length > held.rows;
    };
    const sendable = outbox.filter((d) => due(d.stream));
    const acked = new Set<string>();
    /** Streams refused in this flush (first refusal): their later rows are not sent. */
    const refused = new Map<string, { code: string; message: string; chainEnd?: AuditChainEnd }>();
    let sent = 0;
    let continued = false;
    /** The outbox as the push leaves it (written in `finally`). */
    let remaining = outbox;
    try {
      for (let i = 0; i < sendable.length; i += BATCH) {
        const batch = sendable.slice(i, i + BATCH).filter((d) => !refused.has(d.stream));
        if (batch.length === 0) continue;
        if (state) {
          state.inFlight = batch.map((d) => d.id);
          await deps.meta.set(OUTBOX_STATE, state);
        }
        let reply: PushedFrame;
        try {
          reply = await deps.connection.request<PushedFrame>({
            t: 'push',
            rows: batch.map((doc) => ({ doc, assumedRev: null })),
          });
        } catch (e) {
          // No answer: the server may have stored any of them.
          if (state) {
            state.maybeStored = [...new Set([...state.maybeStored, ...state.inFlight])];
            state.inFlight = [];
          }
          throw e;
        }
        const results = new Map<string, PushResult>(reply.results.map((r) => [`${r.stream}\n${r.id}`, r]));
        const unanswered: string[] = [];
        for (const doc of batch) {
          const r = results.get(`${doc.stream}\n${doc.id}`);
          if (r === undefined) {
            unanswered.push(doc.id);
          } else if (r.status === 'ok' || (r.status === 'conflict' && sameStored(r.master, doc))) {
            acked.add(doc.id);
            sent++;
          } else {
            // conflict: another entry holds this id (ids are random: never ours to overwrite).
            const why =
              r.status === 'error'
                ? {
                    code: r.code,
                    message: r.message,
                    ...(r.code === 'APPEND_ONLY' && r.chainEnd !== undefined ? { chainEnd: r.chainEnd } : {}),
                  }
                : { code: 'CONFLICT', message: 'another entry is stored under this id' };
            if (!refused.has(doc.stream)) {
              refused.set(doc.stream, why);
              issue(`${why.code}: ${why.message} (audit entry for ${patientOf(doc.stream)})`);
            }
          }
        }
        if (state) {
          state.maybeStored = [...new Set([...state.maybeStored, ...unanswered])];
          state.inFlight = [];
        }
      }
    } finally {
      remaining = outbox.filter((d) => !acked.has(d.id));
      const rewinds: Array<{ patientId: string; seq: number; hash: string | null }> = [];
      if (state) {
        state.maybeStored = state.maybeStored.filter((id) => !acked.has(id));
        for (const stream of Object.keys(state.held)) {
          if (rowsOf(remaining, stream).length === 0) delete state.held[stream];
        }
        for (const [stream, why] of refused) {
          let rows = rowsOf(remaining, stream);
          const kept = keptOnce(patientOf(stream));
          /** The continuation after the server's end could not be checked now: never given up for it. */
          let unchecked = false;
          if (why.chainEnd !== undefined && rows.length > 0) {
            const end = why.chainEnd;
            const moved = await continueAfterServedEnd(stream, rows, end, state, kept).catch(() => undefined);
            unchecked = moved === undefined;
            if (moved) {
              const byId = new Map(moved.rows.map((d) => [d.id, d]));
              remaining = remaining.map((d) => byId.get(d.id) ?? d);
              delete state.held[stream];
              rewinds.push({ patientId: patientOf(stream), ...moved.chain });
              continued = true;
              const from = rows[0]!.audit!.authorSeq;
              const n = rows.length;
              issue(
                `AUDIT_CHAIN_CONTINUED: the server already holds positions ${from}–${end.authorSeq} of this ` +
                  `device's audit chain for ${patientOf(stream)} (this device's chain state was older: restored ` +
                  `from a backup, or another process of this device appended); ${n} entr${n === 1 ? 'y is' : 'ies are'} ` +
                  `re-signed at positions ${end.authorSeq + 1}–${end.authorSeq + n}, after the server's end`,
              );
              continue;
            }
          }
          const previous = state.held[stream];
          const held = {
            ...why,
            refusals: (previous?.refusals ?? 0) + 1,
            firstAt: previous?.firstAt ?? t,
            nextAt: t + backoff((previous?.refusals ?? 0) + 1),
            rows: rows.length,
          };
          state.held[stream] = held;
          const final =
            !retryable(why.code) ||
            (t - held.firstAt >= GIVE_UP_AFTER_MS && held.refusals >= GIVE_UP_MIN_REFUSALS);
          if (!final || rows.length === 0) continue;
          // Sent again after a restore (acknowledged once, the chain position already past them): dropped
          // where they are, the chain not moved; refused for good (the grant ended), they would otherwise
          // hold back the rows behind them for ever. Those rows go by the rule below.
          const resent = new Set((await kept().catch(() => [])).map((r) => r.id));
          const dropped = rows.filter((r) => resent.has(r.id));
          if (dropped.length > 0) {
            const ids = new Set(dropped.map((r) => r.id));
            remaining = remaining.filter((d) => !ids.has(d.id));
            state.maybeStored = state.maybeStored.filter((id) => !ids.has(id));
            rows = rows.filter((r) => !ids.has(r.id));
            const seqs = dropped.map((r) => r.audit?.authorSeq ?? 0);
            issue(
              `AUDIT_RESENT_DROPPED: ${dropped.length} audit entr${dropped.length === 1 ? 'y' : 'ies'} for ` +
                `${patientOf(stream)} acknowledged before a restore of the server and sent again ` +
                `(positions ${Math.min(...seqs)}–${Math.max(...seqs)}) refused since ${iso(held.firstAt)} ` +
                `(${why.code}); not sent again: those the restore lost stay a gap in the log`,
            );
            if (rows.length === 0) {
              delete state.held[stream];
              continue;
            }
            held.rows = rows.length;
          }
          if (!unchecked && (await rewritable(stream, rows, state, kept))) {
            const first = rows[0]!.audit!;
            remaining = remaining.filter((d) => d.stream !== stream);
            delete state.held[stream];
            rewinds.push({ patientId: patientOf(stream), seq: first.authorSeq - 1, hash: first.prevHash });
            issue(
              `AUDIT_GIVEN_UP: ${rows.length} audit entr${rows.length === 1 ? 'y' : 'ies'} for ${patientOf(stream)} ` +
                `(positions ${first.authorSeq}–${first.authorSeq + rows.length - 1}) refused since ` +
                `${iso(held.firstAt)} (${why.code}) and not in the log; its chain continues from position ` +
                `${first.authorSeq - 1}`,
            );
          } else {
            issue(
              `AUDIT_HELD: audit entries for ${patientOf(stream)} are refused (${why.code}) but ` +
                (unchecked
                  ? "could not be continued after the server's end now (the account is locked, or the log " +
                    'could not be read)'
                  : 'may be stored already or are linked to') +
                '; kept and retried',
            );
          }
        }
        await deps.meta.set(OUTBOX_STATE, state);
      }
      // The rows go before the chain is rewound (or moved past the server's end): a crash in between
      // leaves a gap, not a fork (an entry appended from the old position meets a held one, refused with
      // the server's end, and is continued after it in turn).
      await deps.meta.set(OUTBOX, remaining);
      const ownAcked = outbox
        .filter((d) => d.stream === ownStream && acked.has(d.id))
        .reduce((n, d) => Math.max(n, d.audit?.authorSeq ?? 0), 0);
      if (ownAcked > 0) {
        await deps.meta
          .update(OWN_ACKED, OwnAcked, (current) => {
            const incarnation = served ?? current?.incarnation;
            return {
              seq: Math.max(current?.seq ?? 0, ownAcked),
              ...(incarnation === undefined ? {} : { incarnation }),
            };
          })
          .catch(() => null);
      }
      await keepAcknowledged(
        outbox.filter((d) => d.stream !== ownStream && acked.has(d.id)),
        remaining,
      );
      for (const r of rewinds) {
        await deps.meta.update(await chainKey(r.patientId), META_SCHEMAS.auditChain, () => ({
          seq: r.seq,
          hash: r.hash,
        }));
      }
    }
    return { sent, continued, outbox: remaining };
  };

  /**
   * Keeps `rows` (acknowledged now, in other patients' logs) to be sent again after a restore, with the
   * incarnation that acknowledged them. A failure is only reported: those entries are then not sent again,
   * and a restore that loses them leaves a gap in the patient's log. `outbox`: as stored now.
   */
  const keepAcknowledged = async (rows: readonly PushDoc[], outbox: readonly PushDoc[]): Promise<void> => {
    const byPatient = new Map<string, PushDoc[]>();
    for (const d of rows)
      byPatient.set(patientOf(d.stream), [...(byPatient.get(patientOf(d.stream)) ?? []), d]);
    for (const [patientId, acked] of byPatient) {
      accessGone.delete(patientId);
      try {
        const key = await keptKey(patientId);
        // Unindexed, the entries are still kept (and removed when access to the patient ends).
        await indexKept(key, outbox).catch(() => undefined);
        noteKept(
          patientId,
          await deps.meta.update(key, KeptEntries, (current) => {
            const incarnation = served ?? current?.incarnation;
            return {
              rows: keepNewest(current?.rows ?? [], acked),
              ...(incarnation === undefined ? {} : { incarnation }),
            };
          }),
        );
      } catch (error) {
        // What is stored is not known now: read again when next needed.
        keptIncarnations.delete(patientId);
        issue(
          `AUDIT_KEPT_NOT_KEPT: audit entries of this device for ${patientId} could not be kept to be sent again ` +
            `after a restore of the server: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  };

  /** KEPT_INDEX as this session last read or wrote it (null: not read yet). */
  let keptIndex: KeptIndex | null = null;
  /**
   * Notes that the KEPT under `key` is written now; when that takes the index past MAX_KEPT_PATIENTS, the
   * least recently written KEPTs are removed first — except those of patients with rows in the outbox,
   * which may be entries sent again after a restore that only KEPT tells apart (flush, `rewritable`):
   * taken for new rows, they could be given up and the chain rewound over entries the server holds.
   * Written only when the day of `key` changes, so usually a flush writes nothing here. Removed first,
   * indexed after: a crash in between leaves a name indexed that is gone, removed again harmlessly.
   * `outbox`: as stored now.
   */
  const indexKept = async (key: string, outbox: readonly PushDoc[]): Promise<void> => {
    const t = deps.now();
    const index = keptIndex ?? (await deps.meta.get(KEPT_INDEX, KeptIndex)) ?? {};
    keptIndex = index;
    const last = index[key];
    if (last !== undefined && t - last >= 0 && t - last < KEPT_INDEX_STEP_MS) return;
    const next: KeptIndex = { ...index, [key]: t };
    const names = Object.keys(next);
    if (names.length > MAX_KEPT_PATIENTS) {
      const busy = new Set<string>([key]);
      for (const stream of new Set(outbox.map((d) => d.stream))) busy.add(nameOf(KEPT, patientOf(stream)));
      const oldest = names.filter((n) => !busy.has(n)).sort((a, b) => next[a]! - next[b]!);
      const evicted = oldest.slice(0, names.length - MAX_KEPT_PATIENTS);
      try {
        if (evicted.length > 0) await deps.meta.remove(evicted);
        for (const n of evicted) delete next[n];
        // Which patients those were is not known here (names are digests): read again when needed.
        keptIncarnations.clear();
      } catch (error) {
        issue(
          `AUDIT_KEPT_NOT_REMOVED: ${evicted.length} patients' audit entries kept for a restore of the server ` +
            `could not be removed (over ${MAX_KEPT_PATIENTS} patients); tried again later: ${
              error instanceof Error ? error.message : String(error)
            }`,
        );
      }
    }
    await deps.meta.set(KEPT_INDEX, next);
    keptIndex = next;
  };

  /**
   * Access to `patientId`'s records ended on this device (see the header): its KEPT goes, but for the
   * entries of it still in the outbox (sent again after a restore: only KEPT tells them apart), and its
   * SEEN; its chain position stays.
   */
  const accessEnded = (patientId: string): Promise<void> =>
    serial(async () => {
      if (patientId === deps.accountId) return;
      endings.set(patientId, endingsOf(patientId) + 1);
      if (accessGone.has(patientId)) return;
      const gone: string[] = [];
      try {
        const key = await keptKey(patientId);
        const outbox = await outboxNow();
        const queued = new Set(outbox.filter((d) => d.stream === `${patientId}/audit`).map((d) => d.id));
        const kept = await keptOf(patientId);
        const still = kept?.rows.filter((r) => queued.has(r.id)) ?? [];
        const whole = still.length === 0;
        if (kept !== null && !whole) {
          noteKept(patientId, await deps.meta.update(key, KeptEntries, (c) => c && { ...c, rows: still }));
        } else if (kept !== null) {
          gone.push(key);
        }
        const seen = await seenKey(patientId);
        if ((await deps.meta.get(seen, AnyValue)) !== null) gone.push(seen);
        if (gone.length > 0) await deps.meta.remove(gone);
        if (gone.includes(key)) {
          noteKept(patientId, null);
          const index = keptIndex ?? (await deps.meta.get(KEPT_INDEX, KeptIndex));
          if (index?.[key] !== undefined) {
            const { [key]: _gone, ...rest } = index;
            await deps.meta.set(KEPT_INDEX, rest);
            keptIndex = rest;
          }
        }
        if (whole) accessGone.add(patientId);
      } catch (error) {
        issue(
          `AUDIT_KEPT_NOT_REMOVED: the audit state of this device for ${patientId}, whose access ended, could ` +
            `not be removed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    });

  /** Position the server acknowledged of this device's chain for `patientId` (0: none known). */
  const acknowledgedPosition = (patientId: string): Promise<number> =>
    serial(async () => {
      const chain = await deps.meta.get(await chainKey(patientId), META_SCHEMAS.auditChain);
      if (!chain) return 0;
      const outbox = await outboxNow();
      const pending = outbox
        .filter((d) => d.stream === `${patientId}/audit` && d.audit !== undefined)
        .map((d) => d.audit!.authorSeq);
      return pending.length > 0 ? Math.min(...pending) - 1 : chain.seq;
    });

  /** Batches an `appendNoted` took and has not appended yet: still noted as far as NOTED goes. */
  const taken = new Set<NotedBatch>();
  /** What NOTED mirrors: every change noted and in no entry yet, taken ones first. */
  const notedNow = (): NotedBatches => ({
    batches: [...taken, ...pendingBatches].map((b) => ({ ...b, changes: [...b.changes] })),
  });
  /**
   * Batches named anew so far (their entry id changed after NOTED may have held their changes under
   * another: a failed append, a start), and how many of those the last NOTED saved holds (see appendNoted).
   */
  let renamed = 0;
  let savedRenamed = 0;
  // Saved whole, so folded: a burst of notes costs one or two writes, not one each.
  const mirror = coalescedSave(async () => {
    const names = renamed;
    await deps.meta.set(NOTED, notedNow());
    savedRenamed = Math.max(savedRenamed, names);
  });
  /** Why the mirror could not be saved after the last append that failed (null: it was). */
  let mirrorError: Error | null = null;
  /** Whether the last save of the mirror a note waited for failed (reported once until one passes). */
  let noteNotKept = false;
  /** A batch of `patientId`'s changes, named by the id of an entry not made yet. */
  const newBatch = (patientId: string, changes: RecordChange[] = []): NotedBatch => ({
    patientId,
    entry: newId(deps.now),
    changes,
  });

  /**
   * Appends every noted batch (into the outbox), each as the entry its id names; on a failure what is not
   * appended stays noted. The mirror is saved after, appended or not (a failure to save it is thrown only
   * when nothing else was). Batches named anew since NOTED was last saved are saved first: NOTED may hold
   * their changes under other ids (or none), which a crash after their append would leave to be appended
   * again. A batch whose append failed is named anew: its entry may be queued after all (a write reported
   * failed whose read-back failed too), and an id is never used for two entries.
   */
  const appendNoted = async (): Promise<void> => {
    if (pendingBatches.length === 0) return;
    const batches = pendingBatches.splice(0);
    for (const b of batches) taken.add(b);
    let n = 0;
    let tried = false;
    try {
      if (renamed > savedRenamed) await mirror.save();
      for (; n < batches.length; n++) {
        const b = batches[n]!;
        tried = true;
        await append(
          b.patientId,
          { action: 'records-changed', summary: `${b.changes.length} record change(s)`, changes: b.changes },
          b.entry,
        );
        taken.delete(b);
      }
    } catch (error) {
      const failed = batches.slice(n);
      for (const b of failed) taken.delete(b);
      if (tried && failed[0] !== undefined) {
        renamed++;
        failed[0] = newBatch(failed[0].patientId, failed[0].changes);
      }
      // In front of those noted since.
      pendingBatches.unshift(...failed);
      mirrorError = await mirror.save().then(
        () => null,
        (e: unknown) => (e instanceof Error ? e : new Error('the mirror was not saved')),
      );
      throw error;
    }
    await mirror.save();
  };

  /** Entry ids of the batches a `resumeNoted` of this log took from NOTED (named anew since). */
  const resumed = new Set<string>();
  /**
   * Ids of the entries this device queued: those still in the outbox, and its own actions (OWN, written
   * in the same step as the outbox row, so an entry acknowledged since, or given up, is still found).
   */
  const madeIds = (): Promise<Set<string>> =>
    serial(async () => {
      const own = (await deps.meta.get(OWN, META_SCHEMAS.auditOwn)) ?? [];
      return new Set([...(await outboxNow()).map((d) => d.id), ...own.map((o) => o.id)]);
    });

  const flushChanges = async (): Promise<void> => {
    changeTimer = null;
    await appendNoted();
    await flush().catch(() => 0);
  };

  const fetchAll = async (patientId: string): Promise<ServedDoc[]> => (await fetchFrom(patientId, 0)).docs;

  /** When a read of the log asked now stops waiting for the connection (Date.now() ms, see VIEW_WAIT_MS). */
  const readDeadline = (): number => Date.now() + (deps.viewWaitMs ?? VIEW_WAIT_MS);

  /**
   * `send()` (one request of a read of the log) sent once the connection is up, and failed SyncError
   * NETWORK (retry) when it is not up by `deadline` (Date.now() ms): before the request goes out, or while
   * it waits for a reconnect after going out (a socket closing under it; a drop past the deadline). Once
   * sent on a connection that stays up it is bounded as every request is (its reply timeout); a stopped or
   * fatal connection refuses it at once, as before. A request is sent only when the connection is up (in
   * the same turn its status is read), so one given up before it went out never queues for a later one.
   */
  const connectedBy = <T>(deadline: number, send: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let settled = false;
      let sent = false;
      let unwatch: (() => void) | undefined;
      const end = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        unwatch?.();
        return true;
      };
      const giveUp = (): void => {
        if (!end()) return;
        const s = Math.round((deps.viewWaitMs ?? VIEW_WAIT_MS) / 1000);
        reject(
          new SyncError('NETWORK', `not connected: the audit log could not be read within ${s} s`, true),
        );
      };
      const go = (): void => {
        if (sent) return;
        sent = true;
        send().then(
          (value) => {
            if (end()) resolve(value);
          },
          (error: unknown) => {
            if (end()) reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      };
      const watch = (): void => {
        unwatch ??= deps.connection.onStatusChange((status) => {
          if (!WAITING.has(status)) go();
          else if (sent && Date.now() >= deadline) giveUp();
        });
      };
      const timer = setTimeout(
        () => {
          if (WAITING.has(deps.connection.status())) giveUp();
          // Up at the deadline: a request out is bounded by its reply timeout, and fails NETWORK on a
          // drop; only a wait for a reconnect after it (the socket closing under it) is cut short.
          else if (sent) watch();
        },
        Math.max(0, deadline - Date.now()),
      );
      if (WAITING.has(deps.connection.status())) watch();
      else go();
    });

  /**
   * The patient's audit stream as served after position `from`, up to its end (or, with `until`, the
   * first page reaching it), and the position read through. With `deadline`, each request waits for the
   * connection only until then (`connectedBy`); without, as long as the connection takes.
   */
  const fetchFrom = async (
    patientId: string,
    from: number,
    until = Infinity,
    deadline?: number,
  ): Promise<{ docs: ServedDoc[]; through: number }> => {
    const stream = `${patientId}/audit` as ServedDoc['stream'];
    const out: ServedDoc[] = [];
    let since = from;
    for (;;) {
      const frame = {
        t: 'pull' as const,
        streams: [{ stream, since }],
        limit: 1000,
        maxBytes: 4 * 1024 * 1024,
      };
      const reply =
        deadline === undefined
          ? await deps.connection.request<PulledFrame>(frame)
          : await connectedBy(deadline, () => deps.connection.request<PulledFrame>(frame));
      const [denied] = reply.denied;
      if (denied !== undefined) {
        throw new AuditError('AUDIT_NOT_READABLE', `audit log not readable: ${denied.code}`, {
          reason: denied.code,
        });
      }
      out.push(...reply.docs);
      const cp = reply.streams[0];
      const through = Math.max(since, cp?.checkpoint ?? 0, reply.docs.at(-1)?.seq ?? 0);
      if (!cp || cp.done || reply.docs.length === 0 || through >= until) return { docs: out, through };
      since = cp.checkpoint;
    }
  };

  /** The server store's incarnation this device is in step with or catching up to (engine.ts), if known. */
  const currentIncarnation = async (): Promise<string | undefined> => {
    const kept = await deps.meta.get('incarnation', META_SCHEMAS.incarnation).catch(() => null);
    return kept?.reset?.to ?? kept?.recorded;
  };

  /**
   * Verifies `entries` (the patient's log as served) and opens those that verify, each with the author
   * that vouches for it: the server when its id and key sign it, otherwise the account whose certified
   * device key does (the body names the account, and only a device that account certified verifies under
   * it). Every author's chain must reach the position this device verified before (SEEN) and hold
   * the same entry there; this device's own, also `own` (the position the server acknowledged). The heads
   * verified now are remembered.
   */
  const check = async (
    patientId: string,
    entries: ServedDoc[],
    own?: number,
    /** The person accepted the chains' losses: they are held to what is served now (`acceptLosses`). */
    accept = false,
    /** `endingsOf(patientId)` before `entries` were read (default: now). */
    ended = endingsOf(patientId),
  ): Promise<Checked> => {
    const checked = await checkServed(patientId, entries, own, accept, undefined, ended);
    if (checked === null) throw new Error('audit log: a whole check answered nothing');
    return checked;
  };

  /**
   * `check`, or with `since` only of the entries served after a part of the log verified before with no
   * problem (the view cache, see the header): answers what a check of the whole log would, assuming
   * that part is still served as it was — or null, remembering nothing, when it finds any problem (a
   * check of the whole log then names them as it always did).
   */
  const checkServed = async (
    patientId: string,
    entries: ServedDoc[],
    own?: number,
    accept = false,
    since?: {
      heads: ReadonlyMap<string, ChainHead>;
      entries: number;
      /**
       * Look-ups (`lookupOf`: a cached author under the account the cache judged it) not to make again
       * (`judgeCached` found them failing): entries naming that account are `unverified`, as when it fails.
       */
      unjudged?: ReadonlySet<string>;
      /** The account the cache judged each cached device author under (a verified entry named it). */
      judged?: Readonly<ViewJudged>;
    },
    ended = endingsOf(patientId),
  ): Promise<Checked | null> => {
    deps.assertUnlocked?.();
    const server = await deps.serverKey();
    // Unreadable (a newer build's): nothing is known, and nothing is written over it below. Accepting,
    // nothing is held to it, but its incarnations still tell a loss that came with a restore.
    const kept: SeenChains = (await deps.meta.get(await seenKey(patientId), SeenChains)) ?? {};
    const seen: SeenChains = accept ? {} : kept;
    const reached = new Map<string, ReachedPosition>();
    for (const [author, at] of Object.entries(seen)) reached.set(author, { seq: at.seq, hash: at.hash });
    if (own !== undefined && own > (reached.get(deps.device.deviceId)?.seq ?? 0))
      reached.set(deps.device.deviceId, { seq: own });
    const vouched = new Map<ServedDoc, { source: EntrySource; accountId: string; body: AuditBody }>();
    const judged = new Map<string, Judged | null>();
    const judge = (author: string, now: Judged): void => {
      if (!judged.has(author)) judged.set(author, now);
      else if (!sameJudged(judged.get(author) ?? null, now)) judged.set(author, null);
    };
    /** Entries the server's key signs whose body does not open or match the schema. */
    const unreadable = new Set<ServedDoc>();
    /** Entries whose author's key could not be looked up now (`unverified`), with what they say. */
    const unchecked = new Map<ServedDoc, AuditBody>();
    /** Entries whose content is unreadable, by the grantee account that certified their signing device. */
    const unreadableBy = new Map<ServedDoc, string>();
    /**
     * A device author of an entry whose content does not open: looked up under the accounts the patient
     * granted to (the device's verified copy of the grants, ended ones too), never under an account only the
     * entry or the server names. Found: that account's certified key (the signature is still checked).
     * Any look-up that could not be made now: unavailable (the entry is `unverified`, checked again later).
     */
    let grantees: string[] | null = null;
    const unreadableAuthor = async (
      e: ServedDoc,
    ): Promise<{ account: string; key: AuthorKey } | AuthorUnavailable | null> => {
      grantees ??= [
        ...new Set(
          ((await deps.meta.get('grants', META_SCHEMAS.grants).catch(() => null)) ?? [])
            .filter((g) => g.grant.patientId === patientId && g.grant.granteeId !== patientId)
            .map((g) => g.grant.granteeId),
        ),
      ];
      let unavailable: AuthorUnavailable | null = null;
      for (const account of grantees) {
        const key = await deps.directory.authorKey(account, e.author);
        if (key === null) continue;
        if ('unavailable' in key) unavailable ??= key;
        else return { account, key };
      }
      return unavailable;
    };
    // Signed for another patient's log (the signature covers the stream): no part of this one, whoever
    // signed it and whatever it says, so it neither verifies nor takes a position of its author's chain here.
    const stream = `${patientId}/audit`;
    const foreign = entries.filter((e) => e.stream !== stream);
    const logged = foreign.length === 0 ? entries : entries.filter((e) => e.stream === stream);
    // Opened once, up front: each author's entries are looked up under every account they name (below).
    const bodies = new Map<ServedDoc, AuditBody | null>();
    /** Per author (a device), the accounts its served entries name as actor. */
    const namedBy = new Map<string, Set<string>>();
    for (const e of logged) {
      const body = openAuditBody(e, deps.keys.wrapping, deps.x25519);
      bodies.set(e, body);
      if (body) namedBy.set(e.author, (namedBy.get(e.author) ?? new Set()).add(body.actorId));
    }
    /**
     * A device belongs to one account, so an entry naming an account whose device list did not load is
     * also looked up under the patient's own account and the others its author's entries name: found there,
     * the entry names an account its author is not a device of, and is refused (null: inserted), not left
     * `unverified`. Otherwise a server could stand a forgery on a position known stored, naming an account
     * whose list it withholds, and a cut chain end would pass as a lookup to try again.
     */
    const elsewhere = async (e: ServedDoc, named: string): Promise<boolean> => {
      // Past the cache, the author's cached entries are not served here: the account they verified under is
      // asked too, so a forgery there is refused as a whole check (which reads them) refuses it.
      const cachedUnder = since?.judged?.[e.author]?.account;
      const accounts = [deps.accountId, ...(namedBy.get(e.author) ?? [])];
      for (const account of new Set(cachedUnder === undefined ? accounts : [...accounts, cachedUnder])) {
        if (account === named) continue;
        const there = await deps.directory.authorKey(account, e.author);
        if (there === null || 'unavailable' in there) continue;
        // The patient's own account and the one cached entries verified under are known. Another is only
        // named by entries: a server can make up an account whose signed list holds the author's public key,
        // so it counts only when an entry naming it holds the author's signature under that key.
        if (account === deps.accountId || account === cachedUnder) return true;
        for (const other of logged) {
          if (other.author !== e.author || bodies.get(other)?.actorId !== account) continue;
          if (await signedUnder(other, there.key, deps.ed)) return true;
        }
      }
      return false;
    };
    const authorKey = async (e: ServedDoc): Promise<Uint8Array | AuthorKey | AuthorUnavailable | null> => {
      const body = bodies.get(e) ?? null;
      if (server && e.author === server.serverId) {
        if (body) vouched.set(e, { source: 'server', accountId: server.serverId, body });
        else unreadable.add(e);
        return server.publicKey;
      }
      if (!body) {
        const found = await unreadableAuthor(e);
        if (found === null || 'unavailable' in found) return found;
        unreadableBy.set(e, found.account);
        judge(e.author, judgedOf(found.account, found.key));
        return found.key;
      }
      // Past the cache, a look-up that failed moments ago (this author under the account this entry names)
      // is not made again for a while (`judgeCached`): a list failing to load must not cost a look-up per
      // view. Only that very look-up: what one entry names must not decide how its author's others are judged.
      const lookup = lookupOf(body.actorId, e.author);
      if (since !== undefined && (since.unjudged?.has(lookup) === true || waitsForList(lookup))) {
        unchecked.set(e, body);
        return { unavailable: `the device list was not loaded at this session's last look-up` };
      }
      // A revoked device's key comes with its cutoff, which verifyAuditLog applies before anything is opened.
      const key = await deps.directory.authorKey(body.actorId, e.author);
      // Refused for what it claims: its failed look-up is not remembered (it says nothing of the author).
      if (key !== null && 'unavailable' in key && (await elsewhere(e, body.actorId))) return null;
      if (since !== undefined) {
        if (key !== null && 'unavailable' in key)
          unjudgedUntil.set(lookup, deps.now() + VIEW_UNJUDGED_RETRY_MS);
        else unjudgedUntil.delete(lookup);
      }
      if (key !== null && 'unavailable' in key) unchecked.set(e, body);
      if (key && !('unavailable' in key)) {
        const source = body.actorId === deps.accountId ? 'patient' : 'grantee';
        vouched.set(e, { source, accountId: body.actorId, body });
        judge(e.author, judgedOf(body.actorId, key));
      }
      return key;
    };
    const { verification, heads, refused } = await verifyAuditChains(
      logged,
      authorKey,
      deps.ed,
      reached,
      since?.heads,
    );
    const problems: AuditProblem[] = [...verification.problems];
    /** `e` is refused as served (not by id: a copy under a genuine entry's id must not take that one out). */
    const insert = (e: ServedDoc, detail: string): void => {
      refused.add(e);
      problems.push({
        kind: 'inserted',
        entryId: e.id,
        author: e.author,
        authorSeq: e.audit?.authorSeq ?? 0,
        detail,
      });
    };
    for (const e of foreign) {
      insert(e, `an entry of another log (${e.stream}) served in ${stream}: not part of this log`);
    }
    // Signed by the server, so its place in the chain holds; but what it logged cannot be read or listed.
    // Entries are refused as served, not by id: a copy served under a genuine entry's id must not take the
    // genuine entry out of the views with it.
    for (const e of entries) {
      if (!unreadable.has(e) || refused.has(e)) continue;
      insert(
        e,
        "signed by the server, but its body does not open with this account's wrapping key or does not " +
          'match the AuditBody schema: no view lists it',
      );
    }
    // Positions of this device's own chain lost with an announced restore (`continueAfterRestore`): the
    // chain went on from the served end, so only this record still tells of them.
    const lost = patientId === deps.accountId ? ((await deps.meta.get(OWN_LOST, OwnLost)) ?? []) : [];
    // Past the cache, only entries not checkable now (`unverified`: their author's device list did not load)
    // are answered as a whole check answers them; any other problem is left to a whole check.
    if (since !== undefined && (problems.some((p) => p.kind !== 'unverified') || lost.length > 0))
      return null;
    const incarnation = await currentIncarnation();
    for (const p of problems) {
      const was = kept[p.author]?.incarnation;
      if (p.kind !== 'deleted' || was === undefined || incarnation === undefined || was === incarnation)
        continue;
      p.detail +=
        '; the server announced a restore of its store from a backup since this device verified that ' +
        'chain (its incarnation changed): entries stored after the backup were lost';
    }
    if (accept) {
      await rememberAccepted(patientId, heads, incarnation, ended);
      if (lost.length > 0) await deps.meta.set(OWN_LOST, []);
    } else {
      await remember(patientId, seen, heads, incarnation, ended);
      // Met while the chain is being continued (or before): the same loss, told once, by the record.
      const told = (p: AuditProblem): boolean =>
        p.kind === 'deleted' &&
        p.author === deps.device.deviceId &&
        lost.some((l) => p.authorSeq >= l.from && p.authorSeq <= l.to);
      problems.splice(0, problems.length, ...problems.filter((p) => !told(p)));
      for (const l of lost) {
        const one = l.from === l.to;
        problems.push({
          kind: 'deleted',
          entryId: '',
          author: deps.device.deviceId,
          authorSeq: l.from,
          detail:
            `position${one ? '' : 's'} ${one ? l.from : `${l.from}–${l.to}`} of ${deps.device.deviceId}'s ` +
            `chain (this device's) ${one ? 'was' : 'were'} acknowledged by the server, which then announced a ` +
            'restore of its store from a backup (its incarnation changed): entries stored after the backup ' +
            `were lost; this device's chain continues from position ${l.from - 1}`,
        });
      }
    }
    const opened: OpenedEntry[] = [];
    const unreadableEntries: UnreadableAuditEntry[] = [];
    for (const e of entries) {
      const account = unreadableBy.get(e);
      if (account !== undefined && e.audit && !refused.has(e)) {
        unreadableEntries.push({
          entryId: e.id,
          author: e.author,
          authorAccountId: account,
          authorSeq: e.audit.authorSeq,
          at: e.audit.at,
          meaning: `${account} (device ${e.author}) wrote an entry ${UNREADABLE_ENTRY_MEANING}`,
        });
        opened.push({
          id: e.id,
          seq: e.seq,
          author: e.author,
          authorSeq: e.audit.authorSeq,
          at: e.audit.at,
          body: {
            kind: 'AuditEntry',
            action: UNREADABLE_ENTRY_ACTION,
            actorId: account,
            actorDeviceId: e.author,
            at: e.audit.at,
            summary: UNREADABLE_ENTRY_MEANING,
          },
          source: 'grantee',
          authorAccountId: account,
          unreadable: true,
        });
        continue;
      }
      const v = vouched.get(e);
      if (!v || !e.audit || refused.has(e)) continue;
      opened.push({
        id: e.id,
        seq: e.seq,
        author: e.author,
        authorSeq: e.audit.authorSeq,
        at: v.body.at,
        body: v.body,
        source: v.source,
        authorAccountId: v.accountId,
      });
    }
    const total = verification.entries + foreign.length + (since?.entries ?? 0);
    return {
      verification: {
        ...verification,
        entries: total,
        ok: problems.length === 0,
        problems,
        ...(unreadableEntries.length === 0 ? {} : { unreadable: unreadableEntries }),
      },
      opened,
      heads,
      judged,
      unchecked: [...unchecked.values()],
    };
  };

  /**
   * Runs `write` (of `patientId`'s SEEN) unless access to the patient ended since the check began (`ended`,
   * see `endings`): for another patient than this account, one at a time with `accessEnded` (`serial`), so
   * that neither misses the other's write.
   */
  const whileAccess = (patientId: string, ended: number, write: () => Promise<void>): Promise<void> => {
    const run = async (): Promise<void> => {
      if (endingsOf(patientId) !== ended) return;
      accessGone.delete(patientId);
      await write();
    };
    return patientId === deps.accountId ? run() : serial(run);
  };

  /** Raises the remembered heads to those verified now (never lowers one); a failure is only reported. */
  const remember = async (
    patientId: string,
    seen: SeenChains,
    heads: ReadonlyMap<string, ChainHead>,
    incarnation: string | undefined,
    ended: number,
  ): Promise<void> => {
    const higher = [...heads].filter(([author, head]) => head.seq > (seen[author]?.seq ?? 0));
    if (higher.length === 0) return;
    await whileAccess(patientId, ended, () => raise(patientId, higher, incarnation));
  };

  const raise = async (
    patientId: string,
    higher: ReadonlyArray<[string, ChainHead]>,
    incarnation: string | undefined,
  ): Promise<void> => {
    try {
      await deps.meta.update(await seenKey(patientId), SeenChains, (current) => {
        const next: SeenChains = { ...(current ?? {}) };
        let raised = false;
        for (const [author, head] of higher) {
          if (head.seq <= (next[author]?.seq ?? 0)) continue;
          next[author] = {
            seq: head.seq,
            hash: head.hash,
            ...(incarnation === undefined ? {} : { incarnation }),
          };
          raised = true;
        }
        return raised ? next : current;
      });
    } catch (error) {
      issue(
        `AUDIT_SEEN_NOT_KEPT: how far the audit log of ${patientId} was verified could not be kept, so a later cut ` +
          `of it may go unreported: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };

  /**
   * Replaces the remembered heads with those verified now, lowered ones included: the person was told of
   * the loss (a restore, say) and accepted it. A failure is thrown: nothing was accepted.
   */
  const rememberAccepted = async (
    patientId: string,
    heads: ReadonlyMap<string, ChainHead>,
    incarnation: string | undefined,
    ended: number,
  ): Promise<void> => {
    const next: SeenChains = {};
    for (const [author, head] of heads) {
      next[author] = {
        seq: head.seq,
        hash: head.hash,
        ...(incarnation === undefined ? {} : { incarnation }),
      };
    }
    await whileAccess(patientId, ended, async () => deps.meta.set(await seenKey(patientId), next));
    viewReports.delete(patientId);
  };

  /** The last problem summary a view reported per patient: the same one is not repeated. */
  const viewReports = new Map<string, string>();
  /** Views answer what verifies; the problems met on the way go to `issues` (verify() names them). */
  const reportFromView = (patientId: string, verification: AuditVerification): void => {
    if (verification.ok) {
      viewReports.delete(patientId);
      return;
    }
    const kinds = new Map<string, number>();
    for (const p of verification.problems) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
    const summary =
      `AUDIT_LOG_PROBLEMS: the audit log of ${patientId} as served has ${verification.problems.length} ` +
      `problem(s) (${[...kinds].map(([kind, n]) => `${kind}: ${n}`).join(', ')}); the views list only the ` +
      `entries that verify, verify() names them all. First: ${verification.problems[0]?.detail ?? ''}`;
    if (viewReports.get(patientId) === summary) return;
    viewReports.set(patientId, summary);
    issue(summary);
  };

  /** Server-logged access events: the only entries whose access counts are believed. */
  const isServerAccess = (e: OpenedEntry): boolean => e.source === 'server' && e.body.kind === 'AccessEvent';

  /**
   * The account's own log, checked and opened, its problems reported as a view's: past the view cache
   * when it may be used (see the header), else read and verified whole (the cache then kept anew).
   */
  const read = (deadline = readDeadline()): Promise<Checked> =>
    inViewOrder(async () => {
      deps.assertUnlocked?.();
      // As a whole check (`wholeCheck`): held to the position the server acknowledged of this device's own
      // chain, read before fetching, so a server that cut it is told here too, not only by verify().
      const ended = endingsOf(deps.accountId);
      let own = await acknowledgedPosition(deps.accountId);
      const quick = await readPastView(deadline, own);
      if (quick !== null) {
        reportFromView(deps.accountId, quick.verification);
        return quick;
      }
      const incarnation = await currentIncarnation();
      const readAt = deps.now();
      const { docs, through } = await fetchFrom(deps.accountId, 0, Infinity, deadline);
      if (await continueOwn(deps.accountId, docs)) own = await acknowledgedPosition(deps.accountId);
      const checked = await check(deps.accountId, docs, own, false, ended);
      await keepView(docs, through, checked, incarnation, readAt);
      reportFromView(deps.accountId, checked.verification);
      return checked;
    });

  /** Reads, checks and writes of the view cache, one at a time: none keeps a cache another found stale. */
  let viewQueue: Promise<unknown> = Promise.resolve();
  const inViewOrder = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = viewQueue.then(fn, fn);
    viewQueue = next.catch(() => undefined);
    return next;
  };
  /** Views of this session since the last whole check (VIEW_FULL_CHECK_VIEWS). */
  let viewsSinceWhole = 0;
  /** Whether VIEW may hold a cache (false: this session removed it and kept none since). */
  let viewKept = true;

  const asOpened = ({ link: _link, ...entry }: ViewEntry): OpenedEntry => entry;

  /**
   * After a check of the whole own log (`docs`, read through `through`): kept as the view cache when it
   * found no problem and every entry opened, else the cache is removed (a whole check that found a
   * problem may have found the cached part changed). A failure to write is not reported: the next view
   * reads the whole log.
   */
  const keepView = async (
    docs: readonly ServedDoc[],
    through: number,
    checked: Checked,
    /** The store's incarnation before the log was read: a restore announced meanwhile is not taken for it. */
    incarnation: string | undefined,
    /** When the read began (this device's clock). */
    readAt: number,
    /**
     * Losses accepted (`acceptLosses`): the cache goes even when the only problems are entries not
     * checkable now, whose authors' chains were then held to nothing, so a cut there went unseen.
     */
    accepted = false,
  ): Promise<void> => {
    const entries = viewEntries(docs, checked);
    if (!checked.verification.ok || entries === null) {
      if (viewKept && !accepted && (await keptUnverified(checked, through, readAt))) return;
      partialWhole = null;
      if (viewKept) {
        const parts = await storedPartKeys();
        // VIEW_READ first: without it, a cache whose removal fails never answers offline.
        await deps.meta.set(VIEW_READ, null).catch(() => undefined);
        const removed = await deps.meta.set(VIEW, null).then(
          () => true,
          () => false,
        );
        // Its parts once VIEW no longer names them: a VIEW not removed stays whole (see the header).
        if (removed) await sweepParts(new Set(), parts);
      }
      viewKept = false;
      return;
    }
    viewsSinceWhole = 0;
    const fullAt = deps.now();
    const fields: ViewFields = {
      ...(incarnation === undefined ? {} : { incarnation }),
      through,
      fullAt,
      heads: headsOf(checked.heads),
      judged: judgedBy(checked),
    };
    if (await writeView(fields, [], entries, await storedPartKeys()))
      await noteViewRead(through, fullAt, readAt);
  };

  /** The parts the stored VIEW names (none when it cannot be read), to remove once it no longer does. */
  const storedPartKeys = async (): Promise<string[]> =>
    ((await deps.meta.get(VIEW, ViewCache).catch(() => null))?.parts ?? []).map((p) => p.key);

  /**
   * Notes that the log was read at `at` and the view cache written with `through` and `fullAt` matched it
   * (VIEW_READ), its device authors in `unjudged` not answerable then: an answer offline is as of then,
   * without their entries. Unwritten, an older note stays, naming an older read of the same cache, or
   * another cache (then no answer offline until the next view writes it).
   */
  const noteViewRead = async (
    through: number,
    fullAt: number,
    at: number,
    unjudged: ReadonlySet<string> = new Set(),
  ): Promise<void> => {
    const note = { through, fullAt, at, ...(unjudged.size === 0 ? {} : { unjudged: [...unjudged] }) };
    await deps.meta.set(VIEW_READ, note).catch(() => undefined);
  };

  /**
   * `noteViewRead` for a read of entries past the cache that were not cached (some not checkable now): an
   * answer offline lacks them, so it stays as of the last read the cache covered (the note naming this
   * cache keeps its time), only its `unjudged` replaced by this read's. None naming it: nothing is noted.
   */
  const noteUncachedRead = async (
    through: number,
    fullAt: number,
    unjudged: ReadonlySet<string>,
  ): Promise<void> => {
    const was = await deps.meta.get(VIEW_READ, ViewRead).catch(() => null);
    if (was === null || was.through !== through || was.fullAt !== fullAt) return;
    await noteViewRead(through, fullAt, was.at, unjudged);
  };

  /**
   * Per look-up the directory could not answer (`lookupOf`: a device under an account, whose device list
   * did not load), of a cached author or of an entry past the cache, until when a view takes it as still
   * unanswerable without asking (`judgeCached`, `checkServed`); cleared at a reconnect. Keyed by what was
   * asked, not by the author alone: an entry naming its author under another account (a forgery standing
   * on a genuine device) fails a look-up of its own, which must not leave that device's genuine entries
   * unjudged.
   */
  const unjudgedUntil = new Map<string, number>();
  /** Whether `lookup` is still taken as unanswerable without asking (`unjudgedUntil`); a clock set back asks. */
  const waitsForList = (lookup: string, now = deps.now()): boolean => {
    const until = unjudgedUntil.get(lookup);
    return until !== undefined && now < until && now >= until - VIEW_UNJUDGED_RETRY_MS;
  };
  /**
   * The last whole check of this session that found no problem but entries not checkable now (`unverified`),
   * with the view cache kept as it was (`keptUnverified`): when, which cache (its `fullAt`), and the
   * authors of those entries. It counts as the periodic whole read while all of them with cached entries
   * stay left out of the views (`wholeRecently`).
   */
  let partialWhole: { at: number; fullAt: number; authors: Set<string> } | null = null;

  /**
   * How the directory answers the device authors of `view` (but those `isServer` names) against how the
   * cache judged them (same account, same revocation cutoff or none): one look-up per author, which the
   * directory answers from its cache (its lists reloaded after a few minutes or at a reconnect). `changed`:
   * one answered otherwise (revoked since, its cutoff moved), or one of the heads' authors the cache did not
   * note. `unjudged`: those it cannot answer for now (the list did not load), not asked again for
   * VIEW_UNJUDGED_RETRY_MS; their entries are left out, never listed as verified. `offline` (an answer from
   * the cache alone): one it cannot answer for (a failed look-up too) counts as judged then, the answer
   * being as of that read, and nothing is noted; otherwise a failed look-up rejects.
   */
  const judgeCached = async (
    view: ViewCache,
    isServer: (author: string) => boolean,
    offline: boolean,
  ): Promise<{ changed: boolean; unjudged: Set<string> }> => {
    const unjudged = new Set<string>();
    for (const author of Object.keys(view.heads))
      if (!isServer(author) && !Object.hasOwn(view.judged, author)) return { changed: true, unjudged };
    const now = deps.now();
    const answers = await Promise.all(
      Object.entries(view.judged).map(async ([author, was]): Promise<boolean> => {
        const asked = lookupOf(was.account, author);
        if (!offline && waitsForList(asked, now)) {
          unjudged.add(author);
          return true;
        }
        const lookup = deps.directory.authorKey(was.account, author);
        const key = offline
          ? await lookup.catch((error: unknown): AuthorUnavailable => ({ unavailable: String(error) }))
          : await lookup;
        if (key !== null && 'unavailable' in key) {
          if (offline) return true;
          unjudgedUntil.set(asked, now + VIEW_UNJUDGED_RETRY_MS);
          unjudged.add(author);
          return true;
        }
        if (!offline) unjudgedUntil.delete(asked);
        return key !== null && sameJudged(was, judgedOf(was.account, key));
      }),
    );
    return { changed: !answers.every(Boolean), unjudged };
  };

  /**
   * After a whole check of the own log whose only problems are entries not checkable now (`unverified`: an
   * author's device list did not load): no evidence against the view cache, which is kept as it was
   * (its `fullAt` too: the entries of those authors were not checked again) rather than removed, so the
   * views go on reading past it; and the read is noted for an answer offline (as of it only when nothing
   * was served past the cache: `noteUncachedRead`), those authors' entries
   * left out. False (nothing done) when there are other problems or no cache.
   */
  const keptUnverified = async (checked: Checked, through: number, readAt: number): Promise<boolean> => {
    const problems = checked.verification.problems;
    if (problems.length === 0 || problems.some((p) => p.kind !== 'unverified')) return false;
    const stored = await readView();
    if (stored === null || stored === 'unreadable') return false;
    const view = stored.index;
    const authors = new Set(problems.map((p) => p.author));
    viewsSinceWhole = 0;
    partialWhole = { at: deps.now(), fullAt: view.fullAt, authors };
    const cached = new Set([...authors].filter((a) => Object.hasOwn(view.judged, a)));
    // The other cached authors as this check judged them (all their entries, cached ones too, with no
    // problem): one revoked after all its entries would otherwise differ from the cache at every view,
    // each reading the whole log again, and refuse an answer offline. Those it could not check keep how
    // they were judged before (never taken as judged now).
    const now = judgedBy(checked);
    const judged: ViewJudged = {};
    for (const [author, was] of Object.entries(view.judged)) {
      const j = authors.has(author) ? was : now[author];
      if (j !== undefined) judged[author] = j;
    }
    const moved =
      Object.keys(judged).length !== Object.keys(view.judged).length ||
      Object.entries(judged).some(([author, j]) => !sameJudged(view.judged[author] ?? null, j));
    // Unwritten: the next view finds the author changed and reads the whole log, as before.
    if (moved) await writeIndex({ ...view, judged });
    // What was served past the cache is not in it: an answer offline is not as of this read then.
    if (through === view.through) await noteViewRead(view.through, view.fullAt, readAt, cached);
    else await noteUncachedRead(view.through, view.fullAt, cached);
    return true;
  };

  /**
   * Whether the cache's last whole check is recent enough (VIEW_FULL_CHECK_MS, this device's clock): its
   * own, or this session's `partialWhole` of it when every author whose entries that one could not check
   * and the cache holds is left out now (`unjudged`): the rest of the log was checked whole then.
   */
  const wholeRecently = (view: ViewCache, unjudged: ReadonlySet<string>): boolean => {
    const recent = (at: number): boolean => {
      const age = deps.now() - at;
      return age >= 0 && age < VIEW_FULL_CHECK_MS;
    };
    if (recent(view.fullAt)) return true;
    return (
      partialWhole !== null &&
      partialWhole.fullAt === view.fullAt &&
      recent(partialWhole.at) &&
      [...partialWhole.authors].every((a) => !Object.hasOwn(view.judged, a) || unjudged.has(a))
    );
  };

  /** Entries left out of a view because their author could not be judged now, as a whole check reports them. */
  const unjudgedProblem = (e: OpenedEntry): AuditProblem => ({
    kind: 'unverified',
    entryId: e.id,
    author: e.author,
    authorSeq: e.authorSeq,
    detail:
      `the device list of ${e.authorAccountId} could not be loaded now: whether ${e.author} may sign this ` +
      'entry (verified before) was not checked again; verify again later',
  });

  /** `docs` as kept (opened, with their link hashes), or null when some did not open as checked. */
  const viewEntries = (docs: readonly ServedDoc[], checked: Checked): ViewEntry[] | null => {
    if (checked.opened.length !== docs.length) return null;
    const out: ViewEntry[] = [];
    for (const [i, e] of checked.opened.entries()) {
      const doc = docs[i]!;
      const link = linkOf(doc);
      if (link === null || doc.seq !== e.seq || doc.id !== e.id) return null;
      out.push({ ...e, link });
    }
    return out;
  };

  const headsOf = (heads: ReadonlyMap<string, ChainHead>): ViewHeads => Object.fromEntries(heads);

  /**
   * The view cache as stored, its parts read and held to what VIEW says of them (each there, with as many
   * entries as named, from and to the positions named, all in served order after `dropped`, none past
   * `through`). Null when there is none; `unreadable` when a part is not as named (removed since: a crash,
   * a view writing meanwhile, a VIEW rolled back): such a cache is not used.
   */
  const readView = async (): Promise<StoredView | null | 'unreadable'> => {
    const index = await deps.meta.get(VIEW, ViewCache).catch(() => null);
    return index === null ? null : withParts(index);
  };
  /** `index` (VIEW as read) with its parts read and held to it, as `readView`. */
  const withParts = async (index: ViewCache): Promise<StoredView | 'unreadable'> => {
    const refs = index.parts ?? [];
    const read = await Promise.all(
      refs.map(async (ref) => deps.meta.get(ref.key, ViewPart).catch(() => null)),
    );
    let after = index.dropped?.through ?? 0;
    const inOrder = (entries: readonly ViewEntry[]): boolean => {
      for (const e of entries) {
        if (e.seq <= after) return false;
        after = e.seq;
      }
      return true;
    };
    const parts: HeldPart[] = [];
    for (const [i, ref] of refs.entries()) {
      const entries = read[i]?.entries;
      if (
        entries?.length !== ref.entries ||
        entries[0]?.seq !== ref.from ||
        entries.at(-1)?.seq !== ref.to ||
        !inOrder(entries)
      )
        return 'unreadable';
      parts.push({ ref, entries, stored: true });
    }
    if (!inOrder(index.entries) || after > index.through) return 'unreadable';
    return { index, parts, entries: [...parts.flatMap((p) => p.entries), ...index.entries] };
  };

  /** Entries VIEW itself keeps at most (the rest in parts), and characters of them. */
  const tailEntries = (): number => deps.viewCache?.tailEntries ?? VIEW_TAIL_ENTRIES;
  const overTail = (entries: readonly ViewEntry[], chars?: number): boolean =>
    entries.length > tailEntries() || (chars ?? JSON.stringify(entries).length) > VIEW_TAIL_CHARS;

  /** A part to write: a new name, never used before (see VIEW_PART_PREFIX). */
  const newPart = (entries: ViewEntry[], chars: number): HeldPart => ({
    ref: {
      key: `${VIEW_PART_PREFIX}${base64urlEncode(randomBytes(16))}`,
      entries: entries.length,
      from: entries[0]!.seq,
      to: entries.at(-1)!.seq,
      chars,
    },
    entries,
    stored: false,
  });
  const mergeParts = (a: HeldPart, b: HeldPart): HeldPart =>
    newPart([...a.entries, ...b.entries], a.ref.chars + b.ref.chars);

  /**
   * Writes the view cache: `fields`, the parts `kept` as they are (the older entries), then `tail` (the
   * newer ones), kept in VIEW while within VIEW_TAIL_*, else sealed into new parts of at most VIEW_PART_*;
   * the newest two parts are then merged while together within VIEW_PART_* and the older at most twice the
   * newer, so an entry is written again a few times at most and the parts stay few (at most MAX_VIEW_PARTS:
   * past it, the two adjacent smallest merged). Past the budget, the oldest entries go to `dropped` (read
   * again when needed): the tail's one by one, the parts' a whole part at a time, the newest entry always
   * kept. So a view that finds a few new entries writes VIEW and those entries, not the cache again. New
   * parts are written first, each under a new name, then VIEW, then the parts it no longer names removed
   * (`replaced`, the ones the stored VIEW named, and any a crash left): VIEW always names a whole cache.
   * False when VIEW could not be written (the stored cache stays, parts written meanwhile removed later).
   */
  const writeView = async (
    fields: ViewFields,
    kept: readonly HeldPart[],
    tail: readonly ViewEntry[],
    replaced: readonly string[],
  ): Promise<boolean> => {
    const maxEntries = Math.min(deps.viewCache?.maxEntries ?? MAX_VIEW_ENTRIES, MAX_VIEW_ENTRIES);
    const maxChars = deps.viewCache?.maxChars ?? MAX_VIEW_CHARS;
    const partEntries = deps.viewCache?.partEntries ?? VIEW_PART_ENTRIES;
    const maxParts = Math.min(deps.viewCache?.maxParts ?? MAX_VIEW_PARTS, MAX_VIEW_PARTS);
    const newest = kept.at(-1);
    // The newest part alone over the budget, nothing newer: its entries are kept one by one, as a tail's.
    if (tail.length === 0 && newest !== undefined && newest.ref.entries > maxEntries)
      return writeView(fields, kept.slice(0, -1), newest.entries, replaced);
    const sizes = tail.map((e) => JSON.stringify(e).length);
    // The newest first, the newest always (whatever its size).
    let keep = 0;
    let chars = 0;
    let cut = tail.length;
    while (cut > 0) {
      const size = sizes[cut - 1]!;
      if (keep >= maxEntries || (keep > 0 && chars + size > maxChars)) break;
      keep++;
      chars += size;
      cut--;
    }
    const tailChars = chars;
    let from = kept.length;
    while (cut === 0 && from > 0) {
      const { ref } = kept[from - 1]!;
      if (keep + ref.entries > maxEntries || (keep > 0 && chars + ref.chars > maxChars)) break;
      keep += ref.entries;
      chars += ref.chars;
      from--;
    }
    if (cut > 0) from = kept.length;
    const gone = [...kept.slice(0, from).flatMap((p) => p.entries), ...tail.slice(0, cut)];
    let dropped = fields.dropped;
    const last = gone.at(-1);
    if (last !== undefined) {
      const heads: ViewHeads = { ...dropped?.heads };
      for (const e of gone) heads[e.author] = { seq: e.authorSeq, hash: e.link };
      dropped = { through: last.seq, entries: (dropped?.entries ?? 0) + gone.length, heads };
    }
    const parts: HeldPart[] = kept.slice(from);
    let rest = tail.slice(cut);
    const restSizes = sizes.slice(cut);
    if (overTail(rest, tailChars)) {
      let chunk: ViewEntry[] = [];
      let chunkChars = 0;
      for (const [i, e] of rest.entries()) {
        const size = restSizes[i]!;
        if (chunk.length > 0 && (chunk.length >= partEntries || chunkChars + size > VIEW_PART_CHARS)) {
          parts.push(newPart(chunk, chunkChars));
          chunk = [];
          chunkChars = 0;
        }
        chunk.push(e);
        chunkChars += size;
      }
      parts.push(newPart(chunk, chunkChars));
      rest = [];
      for (;;) {
        const [a, b] = parts.slice(-2);
        if (a === undefined || b === undefined) break;
        const fits =
          a.ref.entries + b.ref.entries <= partEntries && a.ref.chars + b.ref.chars <= VIEW_PART_CHARS;
        if (!fits || a.ref.entries > 2 * b.ref.entries) break;
        parts.splice(-2, 2, mergeParts(a, b));
      }
    }
    while (parts.length > maxParts) {
      let at = 0;
      for (let i = 1; i + 1 < parts.length; i++) {
        const size = (j: number): number => parts[j]!.ref.chars + parts[j + 1]!.ref.chars;
        if (size(i) < size(at)) at = i;
      }
      parts.splice(at, 2, mergeParts(parts[at]!, parts[at + 1]!));
    }
    const { dropped: _before, ...unchanged } = fields;
    const index: ViewCache = {
      ...unchanged,
      ...(dropped === undefined ? {} : { dropped }),
      ...(parts.length === 0 ? {} : { parts: parts.map((p) => p.ref) }),
      entries: rest,
    };
    try {
      await Promise.all(
        parts.filter((p) => !p.stored).map(async (p) => deps.meta.set(p.ref.key, { entries: p.entries })),
      );
      await deps.meta.set(VIEW, index);
    } catch {
      // Unwritten: the next view reads what it finds, or the whole log; new parts go at a later write.
      return false;
    }
    viewKept = true;
    await sweepParts(new Set(parts.map((p) => p.ref.key)), replaced);
    return true;
  };

  /** Writes VIEW alone (its parts as they are). False when it could not be written. */
  const writeIndex = async (index: ViewCache): Promise<boolean> => {
    try {
      await deps.meta.set(VIEW, index);
      viewKept = true;
      return true;
    } catch {
      return false;
    }
  };

  /**
   * Removes the parts of the view cache VIEW does not name (`named`): `replaced`, and any the store lists
   * (left by a crash or a failed write). Not removed (the store fails): tried again at the next write.
   */
  const sweepParts = async (named: ReadonlySet<string>, replaced: readonly string[]): Promise<void> => {
    const listed = (await deps.meta.keys(VIEW_PART_PREFIX).catch(() => null)) ?? [];
    const stale = [...new Set([...replaced, ...listed])].filter(
      (key) => key.startsWith(VIEW_PART_PREFIX) && !named.has(key),
    );
    if (stale.length === 0) return;
    // A store that cannot remove keys: emptied instead (read as none).
    await deps.meta
      .remove(stale)
      .catch(async () =>
        Promise.all(stale.map(async (key) => deps.meta.set(key, null).catch(() => undefined))),
      );
  };

  /**
   * The own log checked past the view cache (see the header): only the entries served after it are
   * read, verified against the heads it holds, and opened; the cache's entries (and those it dropped,
   * read again and held to its heads) come before them. Null when the cache may not be used now, or the
   * check past it found a problem: the caller reads and verifies the whole log.
   */
  const readPastView = async (deadline: number, own: number): Promise<Checked | null> => {
    viewsSinceWhole++;
    if (!viewKept || viewsSinceWhole >= VIEW_FULL_CHECK_VIEWS) return null;
    const view = await deps.meta.get(VIEW, ViewCache).catch(() => null);
    if (view === null) return null;
    if (partialWhole === null && !wholeRecently(view, new Set())) return null;
    if ((await staleView(view)) !== null) return null;
    // A device revoked since the cache was judged: what it signed since its cutoff counts for nothing. One
    // whose list does not load now is left out (`unjudged`), as a whole check would leave it out.
    const server = await deps.serverKey();
    const { changed, unjudged } = await judgeCached(view, (a) => a === server?.serverId, false);
    if (changed || !wholeRecently(view, unjudged)) return null;
    const stored = await withParts(view);
    if (stored === 'unreadable') return null;
    const older = view.dropped === undefined ? [] : await readDropped(view.dropped, deadline);
    if (older === null) return null;
    const readAt = deps.now();
    const { docs, through } = await fetchFrom(deps.accountId, view.through, Infinity, deadline);
    if (docs.some((d) => d.seq <= view.through)) return null;
    const earlier = (view.dropped?.entries ?? 0) + stored.entries.length;
    const heads = new Map(Object.entries(view.heads));
    // Not asked again past the cache: those look-ups (each author under the account the cache judged it).
    const unasked = new Set([...unjudged].map((a) => lookupOf(view.judged[a]!.account, a)));
    const since = { heads, entries: earlier, unjudged: unasked, judged: view.judged };
    const checked = await checkServed(deps.accountId, docs, own, false, since);
    if (checked === null) return null;
    // The new entries' authors judged as the cached ones were (the directory may have answered anew).
    const judged: ViewJudged = { ...view.judged };
    for (const [author, j] of checked.judged) {
      const was = Object.hasOwn(judged, author) ? judged[author]! : j;
      if (j === null || !sameJudged(was, j)) return null;
      judged[author] = j;
    }
    // Entries past the cache not checkable now (`unverified`) are not cached past: read again next view.
    const cachePast = docs.length > 0 && checked.verification.ok;
    if (cachePast) {
      const fresh = viewEntries(docs, checked);
      if (fresh === null) return null;
      const fields = { ...fieldsOf(view), through, heads: headsOf(checked.heads), judged };
      // Only VIEW and what is new written (see writeView), not the parts.
      if (await writeView(fields, stored.parts, [...view.entries, ...fresh], partKeysOf(stored)))
        await noteViewRead(through, view.fullAt, readAt, unjudged);
    } else {
      // Every entry in VIEW itself (written by a build before parts): written in parts once, as it stands
      // (same `through` and `fullAt`, so its VIEW_READ still names it).
      if (overTail(view.entries))
        await writeView(fieldsOf(view), stored.parts, view.entries, partKeysOf(stored));
      if (docs.length === 0) await noteViewRead(view.through, view.fullAt, readAt, unjudged);
      // Read past the cache and not cached: an answer offline lacks what was read, so not as of this read.
      else await noteUncachedRead(view.through, view.fullAt, unjudged);
    }
    const cached = [...older, ...stored.entries.map(asOpened)];
    const leftOut = cached.filter((e) => unjudged.has(e.author));
    const problems = [...leftOut.map(unjudgedProblem), ...checked.verification.problems];
    return {
      ...checked,
      verification: { ...checked.verification, ok: problems.length === 0, problems },
      opened: [...cached.filter((e) => !unjudged.has(e.author)), ...checked.opened],
      unchecked: [...leftOut.map((e) => e.body), ...checked.unchecked],
    };
  };

  /**
   * Why the view cache may not stand for the log as this device verifies it now, whatever the server
   * serves since (null: it may): a restore announced since it was read (the store it was read from is
   * gone), or not known to be none; the positions checks are held to (SEEN) lowered or replaced under it
   * (acceptLosses, a continued own chain), so the cached part was checked against others.
   */
  const staleView = async (view: ViewCache): Promise<string | null> => {
    const incarnation = await currentIncarnation();
    if (view.incarnation !== incarnation || (served !== undefined && served !== view.incarnation))
      return 'the server announced a restore of its store since this device read the log';
    const seen = (await deps.meta.get(await seenKey(deps.accountId), SeenChains)) ?? {};
    for (const [author, at] of Object.entries(seen)) {
      const head = view.heads[author];
      if (head === undefined || at.seq > head.seq) continue;
      if (at.seq !== head.seq || at.hash !== head.hash)
        return 'how far the log is known stored changed since this device read it';
    }
    return null;
  };

  /** A view asked with `{ offline: 'cached' }` that cannot answer offline: why, as a connection failure. */
  const noOfflineAnswer = (why: string): SyncError =>
    new SyncError('NETWORK', `not connected, and the audit log cannot be answered offline: ${why}`, true);

  /**
   * The own log as this device last verified it (the view cache, see the header), for an answer offline:
   * its entries and when the log was last read. Reads nothing from the server. Throws SyncError NETWORK
   * naming why when that cache may not be used (none, stale, or holding only the newest entries).
   */
  const cachedView = async (
    again = true,
  ): Promise<{ opened: OpenedEntry[]; asOf: number; unverified: number }> => {
    // VIEW_READ before VIEW (written after it): a pair read while a view writes them does not match.
    const readNote = await deps.meta.get(VIEW_READ, ViewRead).catch(() => null);
    if (!viewKept) throw noOfflineAnswer('a check of the log in this session found a problem');
    const stored = await readView();
    // Parts a view writing meanwhile removed (VIEW names others now): read once more.
    if (stored === 'unreadable' && again) return cachedView(false);
    if (stored === 'unreadable')
      throw noOfflineAnswer('the entries this device verified could not be read as it kept them');
    if (stored === null || readNote === null)
      throw noOfflineAnswer('this device has no check of the log that found no problem (by this build)');
    const view = stored.index;
    if (readNote.through !== view.through || readNote.fullAt !== view.fullAt)
      throw noOfflineAnswer('the last read of the log was not kept');
    if (view.dropped !== undefined)
      throw noOfflineAnswer(
        'this device keeps only the newest entries of the log, the older ones on the server',
      );
    const stale = await staleView(view).catch(() => 'what the log was checked against could not be read');
    if (stale !== null) throw noOfflineAnswer(stale);
    if (!(await judgedOffline(stored)))
      throw noOfflineAnswer('a device that wrote in the log was revoked since this device read it');
    // Authors whose device list did not load at that read: not judged then, so never listed as verified.
    const unjudged = new Set(readNote.unjudged);
    const listed = stored.entries.filter((e) => !unjudged.has(e.author));
    return {
      opened: listed.map(asOpened),
      asOf: readNote.at,
      unverified: stored.entries.length - listed.length,
    };
  };

  /**
   * `judgeCached` offline: every device author of the cache the directory answers for now as the cache
   * judged it. The directory answers from the lists it holds (this session's); one it cannot answer for
   * (no list held, none loads offline) is taken as judged then: the answer is as of that read (whose note
   * names those it could not judge then). The server's entries need no account: its author is known from
   * the cached entries it signed.
   */
  const judgedOffline = async (view: StoredView): Promise<boolean> => {
    const servers = new Set(view.entries.filter((e) => e.source === 'server').map((e) => e.author));
    return !(await judgeCached(view.index, (author) => servers.has(author), true)).changed;
  };

  /**
   * `promise`, or `lost` once the connection leaves `ready` (`onStatusChange`) or the promise failed for
   * the connection (CONNECTION_CODES): a read that would wait for it is not waited for. It goes on
   * meanwhile (a view in view order), and its answer or failure is dropped.
   */
  const whileConnected = <T>(promise: Promise<T>): Promise<{ value: T } | 'lost'> =>
    new Promise((resolve, reject) => {
      const stop = deps.connection.onStatusChange((status) => {
        if (status === 'ready') return;
        stop();
        resolve('lost');
      });
      promise.then(
        (value) => {
          stop();
          resolve({ value });
        },
        (error: unknown) => {
          stop();
          if (error instanceof SyncError && CONNECTION_CODES.has(error.code)) resolve('lost');
          else reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });

  /**
   * A view asked with `{ offline: 'cached' }`: connected, the log read now as without the option;
   * otherwise, or once the connection is lost before that read answers, from the view cache
   * (`cachedView`), marked so. `make` builds the view from the entries.
   */
  const viewAnswer = async <T>(
    make: (opened: readonly OpenedEntry[]) => T | Promise<T>,
  ): Promise<AuditViewAnswer<T>> => {
    deps.assertUnlocked?.();
    const left = (unverified: number): { unverified?: number } => (unverified > 0 ? { unverified } : {});
    if (deps.connection.status() === 'ready') {
      const asOf = iso();
      const fresh = await whileConnected(read());
      if (fresh !== 'lost') {
        const { opened, verification } = fresh.value;
        const unverified = verification.problems.filter((p) => p.kind === 'unverified').length;
        return { records: await make(opened), asOf, complete: true, ...left(unverified) };
      }
    }
    const cached = await cachedView();
    return {
      records: await make(cached.opened),
      asOf: iso(cached.asOf),
      complete: false,
      reason: 'offline',
      ...left(cached.unverified),
    };
  };

  /**
   * The entries the view cache dropped (over its budget), read again: served at or below `through`, they
   * must verify with no problem and end at exactly its heads (so they are the entries verified before).
   * Null otherwise.
   */
  const readDropped = async (
    dropped: NonNullable<ViewCache['dropped']>,
    deadline: number,
  ): Promise<OpenedEntry[] | null> => {
    const { docs } = await fetchFrom(deps.accountId, 0, dropped.through, deadline);
    const part = docs.filter((d) => d.seq <= dropped.through);
    if (part.length !== dropped.entries) return null;
    const server = await deps.serverKey();
    // Each author's entries linked from position 1 to the head verified before: by the link hashes
    // (which cover the signed header, body and signature) the very entries verified then, so their
    // signatures are not checked again; they are only opened.
    const ends = new Map<string, ChainState>();
    const out: OpenedEntry[] = [];
    for (const e of part) {
      const link = linkOf(e);
      const end = ends.get(e.author) ?? { seq: 0, hash: null };
      if (link === null || e.audit?.authorSeq !== end.seq + 1 || e.audit.prevHash !== end.hash) return null;
      ends.set(e.author, { seq: e.audit.authorSeq, hash: link });
      const body = openAuditBody(e, deps.keys.wrapping, deps.x25519);
      if (body === null) return null;
      const fromServer = server !== null && e.author === server.serverId;
      out.push({
        id: e.id,
        seq: e.seq,
        author: e.author,
        authorSeq: e.audit.authorSeq,
        at: body.at,
        body,
        source: fromServer ? 'server' : body.actorId === deps.accountId ? 'patient' : 'grantee',
        authorAccountId: fromServer ? server.serverId : body.actorId,
      });
    }
    const want = Object.entries(dropped.heads);
    if (ends.size !== want.length) return null;
    for (const [author, head] of want) {
      const got = ends.get(author);
      if (got?.seq !== head.seq || got.hash !== head.hash) return null;
    }
    return out;
  };

  const entries = async (): Promise<OpenedEntry[]> => (await read()).opened;

  /**
   * `verify` and `acceptLosses`: the whole log read and verified, always; the own log's check kept as
   * the view cache (or the cache removed, see keepView).
   */
  const wholeCheck = (
    patientId: string,
    accept: boolean,
    deadline = readDeadline(),
  ): Promise<AuditVerification> =>
    inViewOrder(async () => {
      const ended = endingsOf(patientId);
      // Read before fetching: whatever is acknowledged later is served too.
      let own = await acknowledgedPosition(patientId);
      const incarnation = await currentIncarnation();
      const readAt = deps.now();
      const { docs, through } = await fetchFrom(patientId, 0, Infinity, deadline);
      if (await continueOwn(patientId, docs)) own = await acknowledgedPosition(patientId);
      const checked = await check(patientId, docs, own, accept, ended);
      if (patientId === deps.accountId) await keepView(docs, through, checked, incarnation, readAt, accept);
      return checked.verification;
    });

  /** The grant a patient device's `consent-grant` / `consent-revoke` entry concerns; undefined otherwise. */
  const grantOf = (e: OpenedEntry, action: GrantAction): string | undefined =>
    e.source === 'patient' && e.body.kind === 'AuditEntry' && e.body.action === action
      ? e.body.grantId
      : undefined;

  /**
   * Which grants of `lookup` have an entry of their action by one of the patient's devices: this device's
   * own appends first, then the served log, read once and only when some are not found among them.
   */
  const recorded = async (lookup: ConsentLookup): Promise<ConsentRecorded> => {
    const wanted = {
      'consent-grant': new Set(lookup['consent-grant']),
      'consent-revoke': new Set(lookup['consent-revoke']),
    };
    const found: ConsentRecorded = { 'consent-grant': new Set(), 'consent-revoke': new Set() };
    const note = (action: GrantAction, grantId: string): void => {
      if (wanted[action].has(grantId)) found[action].add(grantId);
    };
    const missing = (): boolean =>
      found['consent-grant'].size < wanted['consent-grant'].size ||
      found['consent-revoke'].size < wanted['consent-revoke'].size;
    for (const own of (await deps.meta.get(OWN, META_SCHEMAS.auditOwn)) ?? []) {
      const body = validate(OwnGrantEntry, own.body);
      if (own.patientId === deps.accountId && body.ok) note(body.value.action, body.value.grantId);
    }
    if (!missing()) return found;
    const { opened, unchecked } = await read();
    for (const e of opened) {
      for (const action of GRANT_ACTIONS) {
        const grantId = grantOf(e, action);
        if (grantId !== undefined) note(action, grantId);
      }
    }
    // An entry not checkable now may be one looked for and not found: that grant is left undecided, to
    // be asked again later, rather than answered "missing" (a second entry would be appended). Only one
    // that says it is that entry (a patient device's, of that action, for that grant) may be: a genuine
    // entry says what it is. The error carries what was found and which grants are undecided, so one such
    // entry (a forgery naming an account whose list the server withholds) keeps no other grant from an
    // answer, a cut entry's from being appended again, for as long as the server withholds that list.
    const undecided: ConsentRecorded = { 'consent-grant': new Set(), 'consent-revoke': new Set() };
    let maybe = 0;
    for (const body of unchecked) {
      if (body.kind !== 'AuditEntry' || body.actorId !== deps.accountId) continue;
      const claimed = GRANT_ACTIONS.find(
        (action) =>
          body.action === action &&
          body.grantId !== undefined &&
          wanted[action].has(body.grantId) &&
          !found[action].has(body.grantId),
      );
      if (claimed === undefined || body.grantId === undefined) continue;
      undecided[claimed].add(body.grantId);
      maybe++;
    }
    if (maybe > 0) {
      throw new AuditError(
        'AUDIT_LOOKUP_UNVERIFIED',
        `${maybe} audit entr${maybe === 1 ? 'y' : 'ies'} that may be one looked for could not be checked now`,
        { unverified: maybe, undecided, found },
      );
    }
    return found;
  };

  /** "Who saw my records" from `list` (the log's entries that verify, opened): see `whoAccessed`. */
  const accessesOf = (list: readonly OpenedEntry[]): AccessRecord[] => {
    const out: AccessRecord[] = [];
    for (const e of list) {
      if (isServerAccess(e)) {
        const record: AccessRecord = {
          at: e.at,
          source: 'server',
          actorId: e.body.actorId,
          actorDeviceId: e.body.actorDeviceId,
          action: e.body.action,
        };
        if (e.body.stream !== undefined) record.stream = e.body.stream;
        if (isCount(e.body.count)) record.count = e.body.count;
        if (e.body.kind === 'AccessEvent' && e.body.blobId !== undefined) record.blobId = e.body.blobId;
        out.push(record);
      } else if (e.source === 'grantee') {
        // Who wrote it is what the signature proves; what it says about itself is its claim.
        const record: AccessRecord = {
          at: e.at,
          source: 'grantee',
          actorId: e.authorAccountId,
          actorDeviceId: e.author,
          action: e.body.action,
        };
        if (e.body.stream !== undefined) record.stream = e.body.stream;
        // Shown as entries() shows it: the same claim, no more trusted than its action.
        if (e.body.kind === 'AuditEntry' && e.body.summary !== undefined) record.summary = e.body.summary;
        if (e.unreadable === true) record.unreadable = true;
        out.push(record);
      }
    }
    return out;
  };

  /** The accounting of disclosures from `list` (the log's entries that verify, opened): see `disclosures`. */
  const disclosuresOf = async (list: readonly OpenedEntry[]): Promise<Disclosure[]> => {
    // The device's copy of the grants (consent.ts keeps it: only signed copies that verify).
    const held = new Map<
      string,
      { issuedAt: string; start: string; granteeId: string; revokedAt?: string }
    >();
    for (const g of (await deps.meta.get('grants', META_SCHEMAS.grants)) ?? []) {
      if (held.has(g.grant.grantId) || g.grant.patientId !== deps.accountId) continue;
      held.set(g.grant.grantId, {
        issuedAt: g.grant.issuedAt,
        start: g.grant.start,
        granteeId: g.grant.granteeId,
        ...(g.revokedAt === undefined ? {} : { revokedAt: g.revokedAt }),
      });
    }
    const revoked = new Map<string, { at: string; deviceId?: string }>();
    for (const e of list) {
      const grantId = grantOf(e, 'consent-revoke');
      if (grantId === undefined || e.body.kind !== 'AuditEntry') continue;
      const first = revoked.get(grantId) ?? { at: e.at };
      // The device that revoked, as an entry names it (one learnt from the server's list names none).
      if (first.deviceId === undefined && e.body.deviceId !== undefined) first.deviceId = e.body.deviceId;
      revoked.set(grantId, first);
    }
    const listed = new Set<string>();
    return list.flatMap((g) => {
      const body = g.body;
      if (g.source !== 'patient' || body.kind !== 'AuditEntry' || body.action !== 'consent-grant') return [];
      // A second entry for one grant (see the header) is no second disclosure.
      const grantId = body.grantId;
      if (grantId !== undefined) {
        if (listed.has(grantId)) return [];
        listed.add(grantId);
      }
      const recipient = body.granteeId;
      if (recipient === undefined) return [];
      const accesses = list.filter((e) => isServerAccess(e) && e.body.actorId === recipient);
      const grant = grantId === undefined ? undefined : held.get(grantId);
      // The signed grant's times only for the grant this entry describes.
      const signed = grant?.granteeId === recipient ? grant : undefined;
      const revocation = grantId === undefined ? undefined : revoked.get(grantId);
      const revokedAt = signed?.revokedAt ?? revocation?.at;
      const disclosure: Disclosure = {
        date: signed?.issuedAt ?? g.at,
        recordedAt: g.at,
        recipient,
        recordTypes: (body.scope ?? []).map((s) => s.type),
        purpose: body.purpose ?? '',
        expiresAt: body.expiresAt ?? '',
        accesses: accesses.length,
        documentsDisclosed: accesses.reduce((n, e) => n + (isCount(e.body.count) ? e.body.count : 0), 0),
      };
      if (signed !== undefined) {
        disclosure.issuedAt = signed.issuedAt;
        disclosure.start = signed.start;
      }
      if (revokedAt !== undefined) disclosure.revokedAt = revokedAt;
      if (revocation?.deviceId !== undefined) disclosure.revokedByDeviceId = revocation.deviceId;
      return [disclosure];
    });
  };

  // One name per view: without options as before (waits for the connection); `{ offline: 'cached' }`
  // answers `AuditViewAnswer`, offline too.
  function entriesView(): Promise<OpenedEntry[]>;
  function entriesView(options: AuditViewOptions): Promise<AuditViewAnswer<OpenedEntry[]>>;
  function entriesView(options?: AuditViewOptions): Promise<OpenedEntry[] | AuditViewAnswer<OpenedEntry[]>> {
    return options?.offline === 'cached' ? viewAnswer((list) => [...list]) : entries();
  }
  function whoAccessed(): Promise<AccessRecord[]>;
  function whoAccessed(options: AuditViewOptions): Promise<AuditViewAnswer<AccessRecord[]>>;
  async function whoAccessed(
    options?: AuditViewOptions,
  ): Promise<AccessRecord[] | AuditViewAnswer<AccessRecord[]>> {
    return options?.offline === 'cached' ? viewAnswer(accessesOf) : accessesOf(await entries());
  }
  function disclosures(): Promise<Disclosure[]>;
  function disclosures(options: AuditViewOptions): Promise<AuditViewAnswer<Disclosure[]>>;
  async function disclosures(
    options?: AuditViewOptions,
  ): Promise<Disclosure[] | AuditViewAnswer<Disclosure[]>> {
    return options?.offline === 'cached' ? viewAnswer(disclosuresOf) : disclosuresOf(await entries());
  }

  return {
    append,
    appendAll,
    flush,
    /**
     * Access to every record stream of `patientId` ended (its grants ended or were revoked, and the streams
     * were purged): what this device kept of its entries in that patient's log to send again after a
     * restore of the server is removed (an entry still in the outbox excepted), with how far it verified
     * that log; its chain position stays, as a new grant continues the chain. Never throws: a failure is
     * reported in `issues` (AUDIT_KEPT_NOT_REMOVED). Called again for the same patient (once per purged
     * stream), it reads nothing unless something was kept for that patient since.
     */
    accessEnded,
    /**
     * Notes a record write; coalesced into one entry per short burst. Resolves once the change is kept on
     * disk (NOTED saved with it, or its entry queued): the records API resolves a write only then, so a
     * crash after a write resolved never loses its change (see the header). Never rejects: the record is
     * written already, and a caller told the write failed would write it again; a save that fails is
     * reported (AUDIT_NOT_KEPT) and the change stays noted in memory, appended within 200 ms as before.
     */
    noteRecordChange(patientId: string, change: RecordChange): Promise<void> {
      let batch: NotedBatch | undefined;
      for (let i = pendingBatches.length - 1; i >= 0 && batch === undefined; i--)
        if (pendingBatches[i]!.patientId === patientId) batch = pendingBatches[i];
      if (batch === undefined || batch.changes.length >= COALESCE) {
        batch = newBatch(patientId);
        pendingBatches.push(batch);
      }
      batch.changes.push(change);
      if (batch.changes.length >= COALESCE) {
        if (changeTimer) clearTimeout(changeTimer);
        void flushChanges().catch(() => undefined);
      } else {
        changeTimer ??= setTimeout(() => void flushChanges().catch(() => undefined), 200);
      }
      // A save that starts after this note (coalescedSave): NOTED then holds the change, in `taken` when
      // an append took its batch meanwhile, or it left NOTED because its entry's row was queued first.
      return mirror.save().then(
        () => void (noteNotKept = false),
        (error: unknown) => {
          if (noteNotKept) return;
          noteNotKept = true;
          issue(
            `AUDIT_NOT_KEPT: record changes noted could not be kept in device metadata (a crash before their entry is appended loses them): ${
              error instanceof Error ? error.message : String(error)
            }`,
          );
        },
      );
    },
    flushChanges,
    /**
     * At every (re)connection, with the store's incarnation its `ready` announced: changes noted and in no
     * entry yet (left by an offline close whose append failed, or a resume that failed) are appended when
     * there are any and the account is not locked, then the outbox is flushed (checking this device's own
     * chain first when the incarnation changed, see the header). Never throws.
     */
    async connected(incarnation?: string): Promise<void> {
      served = incarnation;
      // The directory reloads its lists at a reconnect: authors it could not answer for are asked again.
      unjudgedUntil.clear();
      let unlocked = true;
      try {
        deps.assertUnlocked?.();
      } catch {
        unlocked = false;
      }
      if (unlocked && pendingBatches.length > 0) {
        if (changeTimer) clearTimeout(changeTimer);
        changeTimer = null;
        // What fails stays noted (and mirrored): appended with the next note, at close or next start.
        await appendNoted().catch(() => undefined);
      }
      await flush().catch(() => 0);
    },
    pendingCount: async (): Promise<number> => (await outboxNow()).length,
    issues: (): string[] => [...issues],
    /** Chains held back after a refusal: their entries are not in the patient's log yet. */
    async undelivered(): Promise<UndeliveredChain[]> {
      const outbox = await outboxNow();
      const state = await deps.meta.get(OUTBOX_STATE, OutboxState);
      if (!state) return [];
      const maybe = new Set(state.maybeStored);
      const out: UndeliveredChain[] = [];
      for (const [stream, h] of Object.entries(state.held)) {
        const rows = outbox.filter((d) => d.stream === stream);
        // Sent again after a restore: acknowledged before, so perhaps stored (never given up either).
        const kept = new Set((await keptOf(patientOf(stream)).catch(() => null))?.rows.map((r) => r.id));
        out.push({
          patientId: patientOf(stream),
          entries: rows.length,
          code: h.code,
          message: h.message,
          refusals: h.refusals,
          since: iso(h.firstAt),
          nextAttemptAt: iso(h.nextAt),
          maybeStored: rows.some((d) => maybe.has(d.id) || kept.has(d.id)),
        });
      }
      return out;
    },
    /**
     * The patient's whole audit stream as served, verified: every author's chain must reach the position
     * this device verified before (and hold the same entry there), this device's own also the position
     * the server acknowledged (entries still in the outbox are not expected).
     */
    verify: (patientId = deps.accountId): Promise<AuditVerification> => wholeCheck(patientId, false),
    /**
     * After the person was told that a patient's log lost entries (`deleted` problems: typically the
     * server's operator restored it from a backup, docs/operations.md) and accepted it: later checks hold
     * every chain to what is served now instead of reporting that loss again. Returns the check made
     * now, whose problems are those of the log as served, without the accepted loss; a later cut is
     * reported again. This device's own chain is still held to what the server acknowledged of it: only
     * positions lost with an announced restore (its chain continued from the served end, see the header)
     * stop being reported.
     */
    acceptLosses: (patientId = deps.accountId): Promise<AuditVerification> => wholeCheck(patientId, true),
    fetchAll,
    /**
     * Entries of the patient's log that verify, opened (only the patient can open them). Problems met on
     * the way are reported in `issues` (AUDIT_LOG_PROBLEMS), as for the views below. With `{ offline:
     * 'cached' }`, answered offline too (`AuditViewAnswer`, see the header).
     */
    entries: entriesView,
    /**
     * "Who saw my records": accesses the server logged, and entries grantees' devices wrote (their own
     * claims, marked `grantee`). The patient's own devices are not listed. With `{ offline: 'cached' }`,
     * answered offline too (`AuditViewAnswer`, see the header).
     */
    whoAccessed,
    /**
     * Accounting of disclosures: per grant the patient's own devices recorded (once per grant id), when
     * (the grant's signed times where this device holds it), to whom, which record types, why, whether
     * and when it was revoked, and how often the server served the recipient. With `{ offline: 'cached' }`,
     * answered offline too (`AuditViewAnswer`, see the header).
     */
    disclosures,
    /**
     * Which grants of `lookup` have a `consent-grant` entry, and which a `consent-revoke` entry, by one of
     * the patient's devices (see the header): both kinds with one read of the served log at most. Throws
     * when the served log is needed and cannot be read (offline, locked), or, AuditError
     * AUDIT_LOOKUP_UNVERIFIED, when one not found may be an entry that cannot be checked now (an author's
     * device list did not load, and the entry says it is that one).
     */
    recorded,
    /** What this device itself recorded (a provider's log of its own actions). */
    async ownActions() {
      return (await deps.meta.get(OWN, META_SCHEMAS.auditOwn)) ?? [];
    },
    stop(): void {
      if (changeTimer) clearTimeout(changeTimer);
      changeTimer = null;
    },
    /**
     * Before the session closes its database: the changes noted and not yet in an entry are appended (into
     * the outbox; pushed at the next connect), or, when that fails (a locked account signs nothing), kept
     * in device meta (the mirror) for `resumeNoted`. Never throws: a close must not fail over the audit
     * trail.
     */
    async close(): Promise<void> {
      if (changeTimer) clearTimeout(changeTimer);
      changeTimer = null;
      try {
        await appendNoted();
        return;
      } catch {
        // Kept by the mirror, which appendNoted saved after the failure.
      }
      if (mirrorError !== null) {
        issue(
          `AUDIT_NOT_KEPT: ${new Set(pendingBatches.map((b) => b.patientId)).size} patient(s)' record changes noted at close could not be kept: ${
            mirrorError.message
          }`,
        );
      }
    },
    /**
     * At a session's start: first renames what an older build kept under patients' ids (see the header),
     * then appends the changes the device meta mirror holds, noted by an earlier session and in no entry
     * yet (kept at its close, or left by a crash). The mirror is saved after, so what is appended leaves
     * it; on a failure the rest stay noted (appended with the next changes noted, at close or at the next
     * start), and the failure is listed in `issues`. Never throws.
     */
    async resumeNoted(): Promise<void> {
      await renameOld();
      try {
        const stored = storedBatches(await deps.meta.get(NOTED, NotedStored));
        // Those this log holds already (an earlier call took them) are not noted twice.
        const held = new Set([...taken, ...pendingBatches].map((b) => b.entry));
        const fresh = stored.filter(
          (b) => b.entry === undefined || !(held.has(b.entry) || resumed.has(b.entry)),
        );
        // Named by an entry this device queued: its changes are in the log already.
        const made = fresh.some((b) => b.entry !== undefined) ? await madeIds() : new Set<string>();
        const back: NotedBatch[] = [];
        for (const b of fresh) {
          if (b.entry !== undefined && made.has(b.entry)) continue;
          if (b.entry !== undefined) resumed.add(b.entry);
          // Named anew (see the header: an entry acknowledged whose OWN write failed is found nowhere,
          // and its id used again would be answered stored by the server, leaving a gap).
          for (let i = 0; i < b.changes.length; i += COALESCE)
            back.push(newBatch(b.patientId, b.changes.slice(i, i + COALESCE)));
        }
        if (back.length > 0) renamed++;
        pendingBatches.unshift(...back);
        if (pendingBatches.length > 0) await appendNoted();
        // Only batches already appended: NOTED keeps nothing any entry still needs.
        else if (fresh.length > 0) await mirror.save();
      } catch (error) {
        issue(
          `AUDIT_NOTED_PENDING: record changes noted by an earlier session are not in the log yet: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    },
  };
};

export type AuditLog = ReturnType<typeof createAuditLog>;
