/**
 * `session.io`: records in and out, as an app's screens call them (the parts are in ../io/).
 *
 * | call | screen |
 * |---|---|
 * | `planImport(file, { source })` → FhirImportPlan | import: what will be imported, duplicates, what will not and why |
 * | `importFhir(file, { source })` → ImportReport | import: the result, each record with what it did not keep |
 * | `exportRecords({ attachments, format })` → ExportResult | export: signed Bundle, self-contained (embedded files), zip with files, NDJSON |
 * | `patientSummary()` / `emergencySummary()` → Summary | summary preview (IPS), emergency card preview |
 * | `shareSummary({ label, passcode, expiresAt, kinds, oneTime })` → CreatedLink | share: link and QR (`link`), viewer URL |
 * | `links()`, `revokeLink(id)`, `linkAccesses(id)` | shared links: list, revoke, each access |
 * | `emergencyCard()` / `rotateEmergencyCard()` → CreatedLink | emergency card: the QR (no passcode, every access logged) and its rotation |
 * | `watchLinkAccess(listener)` → stop | the notification when someone opens a link or the emergency card |
 *
 * Every call refuses with a HaleError (RecordsIoError, or the records/files/audit errors it passes on).
 */
import type { RecordKind } from '@hale/model';
import type { ProviderProfile } from '@hale/protocol';
import type { AccessRecord } from '../audit/types';
import { importFhir, planImport, type ImportOptions, type ImportReport } from '../io/fhir-import-run';
import { exportRecords, type ExportOptions, type ExportResult } from '../io/fhir-export-forms';
import { emergencySummary, patientSummary, type Summary } from '../io/summaries';
import {
  createLink,
  linkAccesses,
  listLinks,
  revokeLink,
  watchLinkAccess,
  type CreatedLink,
  type LinkAccess,
  type LinkAccessEntry,
  type LinkInfo,
} from '../io/shl-client';
import type { RecordsIoDeps } from '../io/records-io-deps';

/** Options of sharing a summary as a SMART Health Link: a label and an optional passcode. */
export interface ShareOptions {
  readonly label?: string;
  readonly passcode?: string;
  readonly expiresAt?: string;
  /** Opens once: the server revokes it at its first opening. */
  readonly oneTime?: boolean;
  /** Which kinds of the summary to share (default: the whole IPS). */
  readonly kinds?: readonly RecordKind[];
}

/**
 * Records in and out (`session.io`): FHIR import and export, summaries and SMART Health Links.
 *
 * @throws `RecordsIoError` (`RECORDS_IO_ERROR_CODES`).
 */
export interface HaleIo {
  /** What importing `file` would write, without writing. */
  planImport(file: string | Uint8Array, options?: ImportOptions): ReturnType<typeof planImport>;
  /** Imports a FHIR Bundle into the chart. */
  importFhir(file: string | Uint8Array, options?: ImportOptions): Promise<ImportReport>;
  /** Exports the chart as a signed FHIR Bundle (or a zip with attachments). */
  exportRecords(options?: ExportOptions): Promise<ExportResult>;
  /** The patient summary (IPS) of a chart. */
  patientSummary(options?: { kinds?: readonly RecordKind[] }): Promise<Summary>;
  /** The emergency summary of a chart. */
  emergencySummary(): Promise<Summary>;
  /** Shares a summary as a SMART Health Link. */
  shareSummary(options?: ShareOptions): Promise<CreatedLink>;
  /** The links this account shared. */
  links(): Promise<readonly LinkInfo[]>;
  /** Ends a shared link. */
  revokeLink(linkId: string): Promise<LinkInfo>;
  /** Who opened a shared link, and when. */
  linkAccesses(linkId: string): Promise<LinkAccessEntry[]>;
  /** The live emergency card link, made when there is none. The link text is only known when made here. */
  emergencyCard(label?: string): Promise<CreatedLink>;
  /** Revokes every emergency card link (old QR codes stop working) and makes a new one. */
  rotateEmergencyCard(label?: string): Promise<CreatedLink>;
  /** Each access to a shared link or the emergency card as it happens (a notification); answers the stop. */
  watchLinkAccess(listener: (access: LinkAccess) => void, options?: { onReady?: () => void }): () => void;
}

/** How long a link a list read lacked (or a failed read) waits before the list is read again for it. */
const LINK_COUNTS_RETRY_MS = 60_000;

/**
 * `records` with each server-logged link opening given its count: the server logs an opening per kind
 * without one (it holds the counts only sealed), so they come from this account's opened copy of the link
 * (`listLinks`, read when an opening names a link not known yet). An opening of a link the list lacks, or
 * while the list cannot be read (offline, not a patient), stays without (asked again after
 * LINK_COUNTS_RETRY_MS).
 */
export const linkCounts = (
  deps: RecordsIoDeps,
): ((records: readonly AccessRecord[]) => Promise<AccessRecord[]>) => {
  // Per link id its count per stream type (a link never changes what it carries), and when a read lacked it.
  const counts = new Map<string, ReadonlyMap<string, number>>();
  const lacked = new Map<string, number>();
  const uncounted = (r: AccessRecord): boolean =>
    r.action === 'link-open' && r.source === 'server' && r.count === undefined && r.stream !== undefined;
  return async (records) => {
    const now = deps.now?.() ?? Date.now();
    const wanted = new Set(
      records
        .filter((r) => uncounted(r) && !counts.has(r.actorId))
        .map((r) => r.actorId)
        .filter((id) => now - (lacked.get(id) ?? -Infinity) > LINK_COUNTS_RETRY_MS),
    );
    if (wanted.size > 0) {
      try {
        for (const link of await listLinks(deps))
          counts.set(link.linkId, new Map(link.contents.map((c) => [c.type, c.count])));
      } catch {
        // Told without counts until asked again.
      }
      for (const id of wanted) if (!counts.has(id)) lacked.set(id, now);
    }
    return records.map((r) => {
      const count = uncounted(r) ? counts.get(r.actorId)?.get(r.stream?.split('/')[1] ?? '') : undefined;
      return count === undefined ? r : { ...r, count };
    });
  };
};

/** How many directory pages `directoryLookup` reads for one account at most. */
const LOOKUP_PAGES = 10;

/**
 * A provider's signed, verified directory profile by account id, through the directory search (which
 * searches names, not ids: the pages of an empty query are read, at most LOOKUP_PAGES of 100). Cached per
 * lookup function; null when not found.
 */
export const directoryLookup = (
  search: (
    q: string,
    options?: { limit?: number; cursor?: string },
  ) => Promise<{
    providers: readonly { readonly profile: ProviderProfile }[];
    next?: string;
  }>,
): ((accountId: string) => Promise<ProviderProfile | null>) => {
  const cache = new Map<string, Promise<ProviderProfile | null>>();
  const find = async (accountId: string): Promise<ProviderProfile | null> => {
    let cursor: string | undefined;
    for (let page = 0; page < LOOKUP_PAGES; page++) {
      const answer = await search('', { limit: 100, ...(cursor === undefined ? {} : { cursor }) });
      const found = answer.providers.find((p) => p.profile.accountId === accountId);
      if (found !== undefined) return found.profile;
      if (answer.next === undefined) return null;
      cursor = answer.next;
    }
    return null;
  };
  return (accountId) => {
    const held = cache.get(accountId) ?? find(accountId).catch(() => null);
    cache.set(accountId, held);
    return held;
  };
};

/** Records in and out over a device session: what `session.io` is. */
export function toHaleIo(deps: RecordsIoDeps): HaleIo {
  const makeEmergency = async (label?: string): Promise<CreatedLink> => {
    const summary = await emergencySummary(deps);
    return createLink(deps, {
      content: summary.bundle,
      contents: summary.contents,
      emergency: true,
      label: label ?? 'Emergency card',
    });
  };
  const rotate = async (label?: string): Promise<CreatedLink> => {
    for (const link of await listLinks(deps)) {
      if (link.emergency && link.revokedAt === undefined) await revokeLink(deps, link.linkId);
    }
    return makeEmergency(label);
  };
  return {
    planImport: (file, options) => planImport(deps, file, options),
    importFhir: (file, options) => importFhir(deps, file, options),
    exportRecords: (options) => exportRecords(deps, options),
    patientSummary: (options) => patientSummary(deps, options),
    emergencySummary: () => emergencySummary(deps),
    shareSummary: async (options = {}) => {
      const summary = await patientSummary(deps, options.kinds === undefined ? {} : { kinds: options.kinds });
      return createLink(deps, {
        content: summary.bundle,
        contents: summary.contents,
        ...(options.label === undefined ? {} : { label: options.label }),
        ...(options.passcode === undefined ? {} : { passcode: options.passcode }),
        ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
        ...(options.oneTime === true ? { oneTime: true } : {}),
      });
    },
    links: () => listLinks(deps),
    revokeLink: (linkId) => revokeLink(deps, linkId),
    linkAccesses: (linkId) => linkAccesses(deps, linkId),
    // The link text is never stored (its key would then sit beside the records): showing the card again
    // after a restart means a new link, the old one revoked.
    emergencyCard: (label) => rotate(label),
    rotateEmergencyCard: (label) => rotate(label),
    watchLinkAccess: (listener, options) => watchLinkAccess(deps, listener, options),
  };
}
