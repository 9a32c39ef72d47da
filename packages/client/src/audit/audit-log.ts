/**
 * The device's audit trail: what it appends, and the patient's views over the whole log.
 *
 * Invariants:
 * - Every entry is built (numbered, linked, signed, sealed to the patient) when the action happens, even
 *   offline, and kept in a persisted outbox until the server acknowledged it; retries re-send the same
 *   entry, so nothing is lost or duplicated.
 * - Record writes are coalesced (one entry lists up to 500 changes) so auditing never dominates sync cost.
 * - Views ("who accessed what", accounting of disclosures) are derived only from entries that verify.
 * Failure modes: a push refused by the server is reported in `issues`; `verify` lists every problem with
 * its kind instead of throwing.
 */
import type { AccountKeys, Ed25519 } from '@hale/crypto';
import type { PulledFrame, PushedFrame, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import { META_SCHEMAS, type DeviceMeta } from '../session/device-meta';
import type { DeviceDirectory } from '../sync/device-directory';
import { makeAuditEntry, openAuditBody, verifyAuditLog, type AuditBody } from './audit-chain';

export interface AuditLogDeps {
  accountId: string;
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  now: () => number;
  connection: Connection;
  directory: DeviceDirectory;
  meta: DeviceMeta;
  /** The server's id and audit signing key (GET /v1/server). */
  serverKey: () => Promise<{ serverId: string; publicKey: Uint8Array } | null>;
}

export interface RecordChange {
  action: 'create' | 'update' | 'delete';
  kind: string;
  id: string;
}

export interface OpenedEntry {
  id: string;
  seq: number;
  author: string;
  authorSeq: number;
  at: string;
  body: AuditBody;
}

const OUTBOX = 'audit-outbox';
const OWN = 'audit-own';
const MAX_OWN = 10_000;
const COALESCE = 500;

export const createAuditLog = (deps: AuditLogDeps) => {
  const iso = (): string => new Date(deps.now()).toISOString();
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const pendingChanges = new Map<string, RecordChange[]>();
  let changeTimer: ReturnType<typeof setTimeout> | null = null;
  const issues: string[] = [];

  const append = (patientId: string, body: { action: string; summary?: string; [key: string]: unknown }) =>
    serial(async () => {
      const wrapping =
        patientId === deps.accountId
          ? deps.keys.wrapping.publicKey
          : await deps.directory.wrappingKey(patientId);
      if (!wrapping) throw new Error(`no wrapping key for ${patientId}`);
      const chainKey = `audit-chain/${patientId}`;
      const full: AuditBody = {
        ...body,
        kind: 'AuditEntry',
        actorId: deps.accountId,
        actorDeviceId: deps.device.deviceId,
        at: iso(),
      };
      // A chain position that cannot be read stops the append (restarting at 0 would fork the chain).
      const entry: { made?: Awaited<ReturnType<typeof makeAuditEntry>> } = {};
      await deps.meta.update(chainKey, META_SCHEMAS.auditChain, async (chain) => {
        const made = await makeAuditEntry({
          patientId,
          patientWrappingKey: wrapping,
          device: deps.device,
          ed: deps.ed,
          chain: chain ?? { seq: 0, hash: null },
          body: full,
          now: deps.now,
        });
        entry.made = made;
        return made.chain;
      });
      const made = entry.made;
      if (made === undefined) throw new Error('audit entry was not made');
      await deps.meta.update(OUTBOX, META_SCHEMAS.auditOutbox, (outbox) => [...(outbox ?? []), made.doc]);
      await deps.meta.update(OWN, META_SCHEMAS.auditOwn, (own) =>
        [...(own ?? []), { id: made.doc.id, patientId, body: full }].slice(-MAX_OWN),
      );
      return made.doc;
    });

  const flush = () =>
    serial(async () => {
      if (deps.connection.status() !== 'ready') return 0;
      const outbox = (await deps.meta.get(OUTBOX, META_SCHEMAS.auditOutbox)) ?? [];
      if (outbox.length === 0) return 0;
      let sent = 0;
      for (let i = 0; i < outbox.length; i += 200) {
        const batch = outbox.slice(i, i + 200);
        const reply = await deps.connection.request<PushedFrame>({
          t: 'push',
          rows: batch.map((doc) => ({ doc, assumedRev: null })),
        });
        for (const r of reply.results) {
          if (r.status === 'ok') sent++;
          else if (r.status === 'error') issues.push(`${r.code}: ${r.message}`);
          else sent++; // conflict on an append-only id: the same entry is already stored
        }
      }
      await deps.meta.set(OUTBOX, []);
      return sent;
    });

  const flushChanges = async (): Promise<void> => {
    changeTimer = null;
    const batches = [...pendingChanges.entries()];
    pendingChanges.clear();
    for (const [patientId, changes] of batches) {
      for (let i = 0; i < changes.length; i += COALESCE) {
        const slice = changes.slice(i, i + COALESCE);
        await append(patientId, {
          action: 'records-changed',
          summary: `${slice.length} record change(s)`,
          changes: slice,
        });
      }
    }
    await flush().catch(() => 0);
  };

  const fetchAll = async (patientId: string): Promise<ServedDoc[]> => {
    const stream = `${patientId}/audit` as ServedDoc['stream'];
    const out: ServedDoc[] = [];
    let since = 0;
    for (;;) {
      const reply = await deps.connection.request<PulledFrame>({
        t: 'pull',
        streams: [{ stream, since }],
        limit: 1000,
        maxBytes: 4 * 1024 * 1024,
      });
      if (reply.denied.length > 0) throw new Error(`audit log not readable: ${reply.denied[0]!.code}`);
      out.push(...reply.docs);
      const cp = reply.streams[0];
      if (!cp || cp.done || reply.docs.length === 0) return out;
      since = cp.checkpoint;
    }
  };

  const authorKeyFor = async (entry: ServedDoc): Promise<Uint8Array | null> => {
    const server = await deps.serverKey();
    if (server && entry.author === server.serverId) return server.publicKey;
    const body = openAuditBody(entry, deps.keys.wrapping);
    if (!body || typeof body.actorId !== 'string') return null;
    return deps.directory.deviceKey(body.actorId, entry.author);
  };

  const opened = async (entries: ServedDoc[]): Promise<OpenedEntry[]> => {
    const out: OpenedEntry[] = [];
    for (const e of entries) {
      const body = openAuditBody(e, deps.keys.wrapping);
      if (!body || !e.audit) continue;
      out.push({ id: e.id, seq: e.seq, author: e.author, authorSeq: e.audit.authorSeq, at: body.at, body });
    }
    return out;
  };

  return {
    append,
    flush,
    /** Notes a record write; coalesced into one entry per short burst. */
    noteRecordChange(patientId: string, change: RecordChange): void {
      const list = pendingChanges.get(patientId) ?? [];
      list.push(change);
      pendingChanges.set(patientId, list);
      if (list.length >= COALESCE) void flushChanges().catch(() => undefined);
      else changeTimer ??= setTimeout(() => void flushChanges().catch(() => undefined), 200);
    },
    flushChanges,
    pendingCount: async (): Promise<number> =>
      ((await deps.meta.get(OUTBOX, META_SCHEMAS.auditOutbox)) ?? []).length,
    issues: (): string[] => [...issues],
    /** The patient's whole audit stream as served, verified. */
    async verify(patientId = deps.accountId) {
      const entries = await fetchAll(patientId);
      return verifyAuditLog(entries, authorKeyFor, deps.ed);
    },
    fetchAll,
    /** Entries of the patient's log that verify, opened (only the patient can open them). */
    async entries(): Promise<OpenedEntry[]> {
      const all = await fetchAll(deps.accountId);
      const check = await verifyAuditLog(all, authorKeyFor, deps.ed);
      const bad = new Set(
        check.problems.filter((p) => p.kind === 'modified' || p.kind === 'inserted').map((p) => p.entryId),
      );
      return opened(all.filter((e) => !bad.has(e.id)));
    },
    /** "Who saw my records": every access by someone other than the patient's own devices. */
    async whoAccessed() {
      const list = await this.entries();
      return list
        .filter((e) => e.body.kind === 'AccessEvent' || e.body.actorId !== deps.accountId)
        .map((e) => ({
          at: e.at,
          actorId: e.body.actorId,
          actorDeviceId: e.body.actorDeviceId,
          action: e.body.action,
          stream: typeof e.body['stream'] === 'string' ? e.body['stream'] : undefined,
          count: typeof e.body['count'] === 'number' ? e.body['count'] : undefined,
        }));
    },
    /** Accounting of disclosures: per grant, when, to whom, which record types, why, and how often used. */
    async disclosures() {
      const list = await this.entries();
      const grants = list.filter((e) => e.body.action === 'consent-grant');
      return grants.map((g) => {
        const recipient = String(g.body['granteeId']);
        const accesses = list.filter((e) => e.body.kind === 'AccessEvent' && e.body.actorId === recipient);
        return {
          date: g.at,
          recipient,
          recordTypes: ((g.body['scope'] as Array<{ type: string }> | undefined) ?? []).map((s) => s.type),
          purpose: typeof g.body['purpose'] === 'string' ? g.body['purpose'] : '',
          expiresAt: typeof g.body['expiresAt'] === 'string' ? g.body['expiresAt'] : '',
          accesses: accesses.length,
          documentsDisclosed: accesses.reduce(
            (n, e) => n + (typeof e.body['count'] === 'number' ? e.body['count'] : 0),
            0,
          ),
        };
      });
    },
    /** What this device itself recorded (a provider's log of its own actions). */
    async ownActions() {
      return (await deps.meta.get(OWN, META_SCHEMAS.auditOwn)) ?? [];
    },
    stop(): void {
      if (changeTimer) clearTimeout(changeTimer);
    },
  };
};

export type AuditLog = ReturnType<typeof createAuditLog>;
