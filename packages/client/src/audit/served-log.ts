/**
 * Reading a patient's audit stream as the server serves it.
 *
 * - A read of the log (a view without the offline option, `verify`, `acceptLosses`, `recorded`) waits for
 *   the connection until its deadline, VIEW_WAIT_MS from when it was asked, then fails SyncError NETWORK
 *   (retry); a stopped or fatal connection refuses it at once.
 * - A request is sent only while the connection is up (in the same turn its status is read), so one given
 *   up before it went out never queues for a later connection. Sent on a connection that stays up, it is
 *   bounded by its reply timeout; only a wait for a reconnect after it (its socket closing) is cut short.
 * - A stream the server will not serve fails AuditError AUDIT_NOT_READABLE with its code.
 */
import type { PulledFrame, ServedDoc } from '@hale/protocol';
import { SyncError, type ConnectionStatus } from '../sync/connection';
import { SYNC_STATE } from '../sync/stored-state';
import { AuditError } from './errors';
import type { AuditCore } from './context';

/**
 * How long a read of the log waits for the connection, from when it was asked: twice the connection's
 * longest reconnect backoff (15 s), so one attempt at least is waited for, and a screen never spins for ever.
 */
export const VIEW_WAIT_MS = 30_000;
/** Statuses a request waits in for `ready`; any other it is sent (or refused: stopped, fatal) at once. */
const WAITING: ReadonlySet<ConnectionStatus> = new Set(['offline', 'connecting']);

type Core = Pick<AuditCore, 'deps'>;

/** When a read of the log asked now stops waiting for the connection (Date.now() ms). */
export const readDeadline = (core: Core): number => Date.now() + (core.deps.viewWaitMs ?? VIEW_WAIT_MS);

/** `send()` (one request of a read) sent once the connection is up, or NETWORK past `deadline`. */
const connectedBy = <T>(core: Core, deadline: number, send: () => Promise<T>): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const { connection, viewWaitMs } = core.deps;
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
      const s = Math.round((viewWaitMs ?? VIEW_WAIT_MS) / 1000);
      reject(new SyncError('NETWORK', `not connected: the audit log could not be read within ${s} s`, true));
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
      unwatch ??= connection.onStatusChange((status) => {
        if (!WAITING.has(status)) go();
        else if (sent && Date.now() >= deadline) giveUp();
      });
    };
    const timer = setTimeout(
      () => {
        if (WAITING.has(connection.status())) giveUp();
        else if (sent) watch();
      },
      Math.max(0, deadline - Date.now()),
    );
    if (WAITING.has(connection.status())) watch();
    else go();
  });

/**
 * The patient's audit stream as served after position `from`, up to its end (or, with `until`, the first
 * page reaching it), and the position read through. With `deadline`, each request waits for the
 * connection only until then; without, as long as the connection takes.
 */
export const fetchFrom = async (
  core: Core,
  patientId: string,
  from: number,
  until = Infinity,
  deadline?: number,
): Promise<{ docs: ServedDoc[]; through: number }> => {
  const { connection } = core.deps;
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
        ? await connection.request<PulledFrame>(frame)
        : await connectedBy(core, deadline, () => connection.request<PulledFrame>(frame));
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

/** The patient's whole audit stream as served. */
export const fetchAll = async (core: Core, patientId: string): Promise<ServedDoc[]> =>
  (await fetchFrom(core, patientId, 0)).docs;

/** The server store's incarnation this device is in step with or catching up to (engine.ts), if known. */
export const currentIncarnation = async (core: Core): Promise<string | undefined> => {
  const kept = await core.deps.meta.get('incarnation', SYNC_STATE.incarnation).catch(() => null);
  return kept?.reset?.to ?? kept?.recorded;
};
