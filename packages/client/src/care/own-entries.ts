/**
 * What a clinician keeps of its own entries in a patient's chart after the grant ends.
 *
 * Decision (docs/architecture.md, Care): when a grant ends, the patient's streams are purged from the
 * clinician's device (the sync engine does it; what the clinician wrote stays in the patient's chart). A
 * clinician must still be able to show what it documented, so this device keeps, beside the purged store,
 * a copy of every record version this account wrote into a patient's chart (the last such version of each
 * record, as written), and exports them as a FHIR Bundle signed by this account (`signFhirExport`): its
 * own attestation of its own entries, made while its write grant stood (the server and the patient's
 * devices refuse a write without one). Nothing the patient or another clinician wrote is kept.
 *
 * Invariants: the copies live in device meta (sealed at rest under the account's key), one key per patient;
 * a version is kept when this device holds it with `by` = this account, whether written here or by another
 * device of the account; a later version by someone else does not replace it. Provider accounts only.
 * Noticed two ways, neither a query over the whole store (`by` has no index): each write as the store
 * emits it while started, and at start the writes since a saved mark (read as clear fields, in pages,
 * yielding between them; only this account's opened). The mark moves only once what it passed is kept.
 * Failure modes (CareError): a patient with nothing kept (NOTHING_KEPT); a patient account (NOT_A_PROVIDER);
 * a locked or closed session (AccountError LOCKED).
 */
import { Type } from '@sinclair/typebox';
import type { Subscription } from 'rxjs';
import { toFhirBundle, type FhirExportItem } from '@hale/model';
import type { Ed25519 } from '@hale/crypto';
import type { DeviceSession } from '../session/session';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';
import { deviceMetaStore } from '../store/meta-store';
import { signFhirExport, type SignedFhirBundle } from '../io/signed-fhir-export';
import { isRecordsApiKind } from '../records/records';
import type { DeviceRecord } from '../store/device-db';
import { clearWritesSince } from '../sync/stream-copies';
import { assertUnlocked } from '../account/account';
import { CareError } from './errors';

const KEY_PREFIX = 'care-own-entries/';
/** The last write the catch-up read (not under KEY_PREFIX: `patients` lists those). */
const MARK_KEY = 'care-own-entries-mark';
const Mark = Type.Object({ lwt: Type.Number(), id: Type.String({ maxLength: 64 }) });
const SCAN_PAGE = 500;

const Kept = Type.Object({
  entries: Type.Record(
    Type.String({ maxLength: 64 }),
    Type.Object({
      kind: Type.String({ maxLength: 64 }),
      rv: Type.Integer({ minimum: 1 }),
      keptAt: Type.String({ maxLength: 40 }),
      record: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
});

export interface OwnEntriesDeps {
  readonly session: Pick<DeviceSession, 'account' | 'db' | 'audit'>;
  readonly ed: () => Promise<Ed25519>;
  readonly now: () => number;
}

export const createOwnEntries = (deps: OwnEntriesDeps) => {
  const { session } = deps;
  const me = session.account.accountId;
  const provider = session.account.role === 'provider';
  const meta: DeviceMeta = createDeviceMeta(deviceMetaStore(session.db));
  let chain: Promise<void> = Promise.resolve();
  let subscription: Subscription | null = null;
  let caughtUp: Promise<void> = Promise.resolve();

  const keep = (
    patientId: string,
    docs: ReadonlyArray<{ id: string; kind: string; rv: number; data: object }>,
  ) => {
    chain = chain
      .then(() =>
        meta.update(`${KEY_PREFIX}${patientId}`, Kept, (current) => {
          const entries = { ...(current?.entries ?? {}) };
          let changed = false;
          for (const d of docs) {
            if ((entries[d.id]?.rv ?? 0) >= d.rv) continue;
            entries[d.id] = {
              kind: d.kind,
              rv: d.rv,
              keptAt: new Date(deps.now()).toISOString(),
              record: d.data as Record<string, unknown>,
            };
            changed = true;
          }
          return changed ? { entries } : current;
        }),
      )
      .then(
        () => undefined,
        () => undefined,
      );
    return chain;
  };

  type Own = { id: string; kind: string; rv: number; data: object };
  /** Keeps, per patient, the copies of `docs` that are this account's entries in another's chart. */
  const keepOwn = (docs: ReadonlyArray<DeviceRecord>): void => {
    const byPatient = new Map<string, Own[]>();
    for (const d of docs) {
      if (d.by !== me || d.patientId === me || !isRecordsApiKind(d.kind) || Object.keys(d.data).length === 0)
        continue;
      const list = byPatient.get(d.patientId) ?? [];
      list.push({ id: d.id, kind: d.kind, rv: d.rv, data: d.data });
      byPatient.set(d.patientId, list);
    }
    for (const [patientId, list] of byPatient) void keep(patientId, list);
  };

  /**
   * The writes since the saved mark, read as clear fields (no record opened); only this account's are
   * opened and kept. The mark moves once they are kept. Yields to other work between pages.
   */
  const catchUp = async (): Promise<void> => {
    const collection = session.db.records;
    const from = await meta.get(MARK_KEY, Mark).catch(() => null);
    const pages = clearWritesSince(collection.storageInstance, from, {
      pageSize: SCAN_PAGE,
      between: () => new Promise((resolve) => setTimeout(resolve, 0)),
    });
    for await (const page of pages) {
      if (subscription === null) return;
      const ids = page.documents
        .filter((d) => !d._deleted && d.by === me && d.patientId !== me)
        .map((d) => d.id);
      if (ids.length > 0) {
        const found = await collection.findByIds(ids).exec();
        keepOwn([...found.values()].map((doc) => doc.toJSON() as DeviceRecord));
      }
      await chain;
      await meta.set(MARK_KEY, page.end);
    }
  };

  return {
    /**
     * Starts keeping this account's entries (provider devices; a patient's are its own chart): each write
     * as it is stored, and those stored since the mark of the last start.
     */
    start(): void {
      if (!provider || subscription !== null) return;
      subscription = session.db.records.$.subscribe((event) => {
        if (event.operation !== 'DELETE') keepOwn([event.documentData]);
      });
      caughtUp = catchUp().catch(() => undefined);
    },

    stop(): void {
      subscription?.unsubscribe();
      subscription = null;
    },

    /** Resolves once every copy noticed so far, and the catch-up since the mark, is kept. */
    settled: async (): Promise<void> => {
      await caughtUp;
      await chain;
    },

    /** The patients this device keeps entries of. */
    async patients(): Promise<string[]> {
      return ((await meta.keys(KEY_PREFIX)) ?? []).map((key) => key.slice(KEY_PREFIX.length));
    },

    /** This account's entries in `patientId`'s chart as a FHIR Bundle signed by this account. */
    async export(patientId: string): Promise<SignedFhirBundle> {
      if (!provider) throw new CareError('NOT_A_PROVIDER', 'only a clinician keeps its own entries apart');
      assertUnlocked(session.account);
      await caughtUp;
      await chain;
      const kept = await meta.get(`${KEY_PREFIX}${patientId}`, Kept);
      const entries = Object.values(kept?.entries ?? {});
      if (entries.length === 0) {
        throw new CareError('NOTHING_KEPT', `this device kept no entry of yours in ${patientId}'s chart`);
      }
      const items = entries.map((e) => ({ kind: e.kind, record: e.record }) as unknown as FhirExportItem);
      const unsigned = toFhirBundle({
        patientId,
        records: items,
        generatedAt: new Date(deps.now()).toISOString(),
      });
      const bundle = await signFhirExport(
        unsigned,
        { accountId: me, identity: session.account.keys.identity },
        await deps.ed(),
        unsigned.timestamp,
      );
      await session.audit
        .append(me, {
          action: 'export',
          summary: `exported ${items.length} own entr${items.length === 1 ? 'y' : 'ies'} of a patient's chart`,
          patientId,
          count: items.length,
        })
        .catch(() => undefined);
      return bundle;
    },
  };
};

export type OwnEntries = ReturnType<typeof createOwnEntries>;
