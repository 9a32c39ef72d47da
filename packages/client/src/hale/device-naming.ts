/**
 * A grantee's device names itself to each patient whose chart it holds a grant in force from: an audit
 * entry (DEVICE_NAMED_ACTION: the name in `summary`, `deviceId` the device itself) appended to that
 * patient's log, signed by the device and sealed to the patient like every entry, so the patient's access
 * story names the device as the clinician named it. The server relays ciphertext only.
 *
 * A pass runs at start, whenever the connection's status or the patients in force change, after this
 * device is renamed (`named`), and RETRY_MS after a pass that could not append everything (offline: a
 * patient's wrapping key not to be had; locked). Entries go out with the audit outbox.
 *
 * Invariants:
 * - At most one entry per patient per name: appended only when the name differs from the last one
 *   appended for that patient (HALE_STATE.deviceNamed, device meta); passes run one at a time.
 * - An entry appended but not recorded here (a crash between) is found among the device's own actions
 *   and recorded, not appended again.
 * - Access that ends and comes back appends nothing new: the patient's log keeps the name.
 * Failure modes: nothing is thrown; what failed is tried again at a later pass.
 */
import type { Observable, Subscription } from 'rxjs';
import type { AuditEntryDetail } from '../audit/audit-log';
import { DEVICE_NAMED_ACTION } from '../audit/audit-log';
import type { DeviceMeta } from '../store/device-meta';
import { HALE_STATE } from './stored-state';

/** The device meta key of the names appended (names no patient: the value is sealed). */
const KEY = 'device-named';
/** Wait before a pass that could not append everything is run again. */
export const RETRY_MS = 30_000;

/** One of the device's own actions as the audit log keeps them (`ownActions`). */
interface OwnAction {
  readonly id: string;
  readonly patientId: string;
  readonly body: { readonly action: string } & Readonly<Record<string, unknown>>;
}

export interface DeviceNamingDeps {
  readonly deviceId: string;
  /** This device's name at start (the vault's); later names come through `named`. */
  readonly name: string;
  readonly meta: DeviceMeta;
  /** The patients this account holds a grant in force from, at the call. */
  readonly patients: () => readonly string[];
  /** Emits when a pass may have something to do (status or patients changed). */
  readonly changes$: Observable<unknown>;
  readonly append: (patientId: string, detail: AuditEntryDetail) => Promise<{ readonly id: string }>;
  readonly flush: () => Promise<unknown>;
  readonly ownActions: () => Promise<readonly OwnAction[]>;
  readonly retryMs?: number;
}

export interface DeviceNaming {
  /** This device was given `name` (renamed here, or seen renamed from another device of the account). */
  named(name: string): void;
  /** Resolves once no pass runs (one asked for meanwhile included). */
  settled(): Promise<void>;
  stop(): void;
}

/** The newest of this device's own `device-named` entries for `patientId`, or undefined. */
const newestOwn = (own: readonly OwnAction[], patientId: string, deviceId: string): OwnAction | undefined => {
  for (let i = own.length - 1; i >= 0; i--) {
    const o = own[i]!;
    if (o.patientId === patientId && o.body.action === DEVICE_NAMED_ACTION && o.body['deviceId'] === deviceId)
      return o;
  }
  return undefined;
};

export function createDeviceNaming(deps: DeviceNamingDeps): DeviceNaming {
  let name = deps.name.trim();
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  /** One pass; answers whether everything due was appended (or found appended). */
  const pass = async (): Promise<boolean> => {
    const current = name;
    const patients = [...new Set(deps.patients())];
    if (current === '' || patients.length === 0) return true;
    const stored = (await deps.meta.get(KEY, HALE_STATE.deviceNamed)) ?? [];
    const last = new Map(stored.map((s) => [s.patientId, s]));
    const due = patients.filter((p) => last.get(p)?.name !== current);
    if (due.length === 0) return true;
    const own = await deps.ownActions();
    let done = true;
    let appended = false;
    for (const patientId of due) {
      if (stopped) return false;
      const found = newestOwn(own, patientId, deps.deviceId);
      let entryId: string;
      if (
        found !== undefined &&
        found.id !== last.get(patientId)?.entryId &&
        found.body['summary'] === current
      )
        entryId = found.id;
      else {
        try {
          const detail = {
            action: DEVICE_NAMED_ACTION,
            summary: current,
            deviceId: deps.deviceId,
            patientId,
          };
          entryId = (await deps.append(patientId, detail)).id;
          appended = true;
        } catch {
          done = false;
          continue;
        }
      }
      await deps.meta.update(KEY, HALE_STATE.deviceNamed, (list) => [
        ...(list ?? []).filter((s) => s.patientId !== patientId),
        { patientId, name: current, entryId },
      ]);
    }
    if (appended) await deps.flush().catch(() => 0);
    return done;
  };

  const run = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running !== null) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        const done = await pass().catch(() => false);
        if (!done && !stopped && retry === undefined)
          retry = setTimeout(() => {
            retry = undefined;
            void run();
          }, deps.retryMs ?? RETRY_MS);
        // Node: a retry waiting keeps no process alive (close() stops it anyway).
        (retry as { unref?: () => void } | undefined)?.unref?.();
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const watch: Subscription = deps.changes$.subscribe(() => void run());
  return {
    named(next) {
      name = next.trim();
      void run();
    },
    settled: () => running ?? Promise.resolve(),
    stop() {
      stopped = true;
      watch.unsubscribe();
      if (retry !== undefined) clearTimeout(retry);
      retry = undefined;
    },
  };
}
