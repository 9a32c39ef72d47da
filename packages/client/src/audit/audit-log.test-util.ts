// Shared by the audit log's tests: device metadata in memory, a scripted server for the log's pushes
// and pulls, the log opened over them, and the stored log verified as a reader would.
import {
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  type AccountKeys,
  type DeviceKeys,
  type Ed25519,
} from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import type { PullFrame, PushDoc, PushFrame, PushResult, ServedDoc } from '@hale/protocol';
import type { Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';
import { createAuditLog, type AuditEntryDetail, type AuditLog, type AuditLogDeps } from './audit-log';
import { verifyAuditLog } from './audit-chain';

/** Ed25519 through node:crypto: the same signatures as tweetnacl's (cross-checked in @hale/crypto), faster. */
const nodeEd25519 = createNodeEd25519();

export const AT = '2026-01-01T00:00:00.000Z';

/** A connection that serves `served` (as it stands at each pull) as the one audit stream asked for, whole. */
export const servingLog = (served: readonly ServedDoc[]): Connection =>
  ({
    status: () => 'ready' as const,
    request: async (frame: PullFrame) => ({
      t: 'pulled',
      rid: 1,
      docs: served.filter((d) => d.seq > frame.streams[0]!.since),
      streams: [{ stream: frame.streams[0]!.stream, checkpoint: served.length, done: true }],
      denied: [],
    }),
  }) as unknown as Connection;

/**
 * Device metadata in memory, kept across `open` (a restart of the device). `failNextWrite(key)`: the
 * next write of `key` fails once (a crash between two writes, as far as what is stored goes);
 * `storeThenFailNextWrite(key)`: the next write of `key` is stored, then reported failed once.
 */
export const memoryMeta = () => {
  const raw = new Map<string, unknown>();
  let failNext: { key: string; stored: boolean } | null = null;
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      const fail = failNext?.key === key ? failNext : null;
      if (fail?.stored !== false) raw.set(key, structuredClone(value));
      if (fail !== null) {
        failNext = null;
        throw new Error(`write of ${key} lost`);
      }
    },
  });
  return {
    meta,
    failNextWrite: (key: string) => void (failNext = { key, stored: false }),
    storeThenFailNextWrite: (key: string) => void (failNext = { key, stored: true }),
  };
};

/** How the scripted server answers one pushed row. */
export type Decision = 'ok' | 'store-then-lose' | 'hang' | { code: string };

/**
 * A server that stores the audit rows it takes (a stored id pushed again is answered `ok`, as the server
 * does); `setDecide` answers each pushed row: `store-then-lose` stores it and loses the answer, `hang`
 * never answers the push. Pulls are served everything stored (`serve`), refused for every stream
 * (`deny`), or, with neither, fail the test's device.
 */
export const auditServer = (pulls?: 'serve' | 'deny') => {
  const stored: PushDoc[] = [];
  const pushes: PushDoc[][] = [];
  let decide: (doc: PushDoc) => Decision = () => 'ok';
  let online = true;
  let reads = 0;
  /** The stored rows of `stream` (every stream: all of them), in the order stored. */
  const of = (stream?: string) => stored.filter((d) => stream === undefined || d.stream === stream);
  /** What is stored of `stream`, as served. */
  const served = (stream?: string): ServedDoc[] => of(stream).map((d, i) => ({ ...d, seq: i + 1, at: AT }));
  const connection = {
    status: () => (online ? ('ready' as const) : ('offline' as const)),
    async request(frame: PushFrame | PullFrame) {
      if (frame.t === 'pull') {
        reads++;
        if (pulls === undefined) throw new Error('no pull expected');
        const serve = pulls === 'serve';
        const docs = serve ? served() : [];
        return {
          t: 'pulled',
          rid: 1,
          docs,
          streams: serve ? [{ stream: frame.streams[0]!.stream, checkpoint: docs.length, done: true }] : [],
          denied: serve ? [] : frame.streams.map((s) => ({ stream: s.stream, code: 'FORBIDDEN' })),
        };
      }
      const rows = frame.rows.map((r) => r.doc);
      pushes.push(rows);
      // The device stops while waiting (nothing is stored, but it cannot know).
      if (rows.some((doc) => decide(doc) === 'hang')) return new Promise(() => undefined);
      let lose = false;
      const results: PushResult[] = rows.map((doc) => {
        const decision = decide(doc);
        if (decision === 'ok' || decision === 'store-then-lose' || decision === 'hang') {
          if (!stored.some((s) => s.id === doc.id)) stored.push(doc);
          lose ||= decision === 'store-then-lose';
          return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.length };
        }
        return { status: 'error', stream: doc.stream, id: doc.id, code: decision.code, message: 'refused' };
      });
      if (lose) throw new Error('connection lost before the answer');
      return { t: 'pushed', rid: 1, results };
    },
  } as unknown as Connection;
  return {
    connection,
    pushes,
    served,
    reads: () => reads,
    /** Positions of the stored rows of `stream` (every stream: all of them), in the order stored. */
    positions: (stream?: string): number[] => of(stream).map((d) => d.audit?.authorSeq ?? 0),
    /** The store loses the entries past `position` (a restore from a backup onto an empty disk, or a cut). */
    cut: (position: number): void => {
      const kept = stored.filter((d) => (d.audit?.authorSeq ?? 0) <= position);
      stored.splice(0, stored.length, ...kept);
    },
    setDecide: (f: (doc: PushDoc) => Decision) => void (decide = f),
    setOnline: (v: boolean) => void (online = v),
  };
};

/** A directory that knows the wrapping key of each of `patients` (what a provider device looks up). */
export const wrappingDirectory = (patients: readonly AccountKeys[]): DeviceDirectory =>
  ({
    wrappingKey: async (accountId: string) =>
      patients.find((p) => p.accountId === accountId)?.wrapping.publicKey ?? null,
  }) as unknown as DeviceDirectory;

type OpenerBase = Omit<AuditLogDeps, 'accountId' | 'device' | 'serverKey'> &
  Partial<Pick<AuditLogDeps, 'serverKey'>> & { device: DeviceKeys };

/** Opens `keys`' audit log on `device`; each call a session (a second one: the device restarted). */
export const auditLogOpener =
  ({ device, ...base }: OpenerBase) =>
  (extra: Partial<AuditLogDeps> = {}) =>
    createAuditLog({
      accountId: base.keys.accountId,
      device: { deviceId: device.deviceId, secretKey: device.secretKey },
      serverKey: async () => null,
      ...base,
      ...extra,
    });

/** Connects `log` on `incarnation`, appends `bodies` (or actions) for `patientId`, flushes; answers `log`. */
export const appendAcknowledged = async (
  log: AuditLog,
  incarnation: string,
  patientId: string,
  bodies: ReadonlyArray<string | AuditEntryDetail>,
): Promise<AuditLog> => {
  await log.connected(incarnation);
  for (const body of bodies) await log.append(patientId, typeof body === 'string' ? { action: body } : body);
  await log.flush();
  return log;
};

/** `docs` verified as a patient's device verifies them, `device` the only author it knows. */
export const verifyDocs = (docs: readonly ServedDoc[], device: DeviceKeys, ed: Ed25519) =>
  verifyAuditLog(docs, async (e) => (e.author === device.deviceId ? device.publicKey : null), ed);

/**
 * A provider device appending to the logs of `patients` patients over `auditServer(pulls)`, its metadata
 * `meta` (else `memoryMeta()`, whose `failNextWrite` it hands on), on a clock the test moves (from AT).
 */
export const providerAudit = ({
  patients: n = 1,
  pulls,
  ed = nodeEd25519,
  meta: given,
}: { patients?: number; pulls?: 'serve' | 'deny'; ed?: Ed25519; meta?: DeviceMeta } = {}) => {
  const provider = deriveAccountKeys(generateRootSecret());
  const patients = Array.from({ length: n }, () => deriveAccountKeys(generateRootSecret()));
  const device = generateDeviceKeys();
  const server = auditServer(pulls);
  const memory = memoryMeta();
  const meta = given ?? memory.meta;
  let clock = Date.parse(AT);
  return {
    provider,
    patients,
    server,
    failNextWrite: (key: string, how: 'lost' | 'stored' = 'lost'): void => {
      // Over a given meta it would fail nothing, and a test relying on it could not fail.
      if (given !== undefined) throw new Error('failNextWrite is only for the memory metadata');
      if (how === 'stored') memory.storeThenFailNextWrite(key);
      else memory.failNextWrite(key);
    },
    /** A session of the device over its stored metadata (a second one: the device restarted). */
    open: auditLogOpener({
      keys: provider,
      device,
      ed,
      now: () => clock,
      connection: server.connection,
      directory: wrappingDirectory(patients),
      meta,
    }),
    /** `patientId`'s log as stored (every log: all of it), verified against the provider device's key. */
    verifyStored: (patientId?: string) =>
      verifyDocs(server.served(patientId === undefined ? undefined : `${patientId}/audit`), device, ed),
    advance: (ms: number) => void (clock += ms),
  };
};
