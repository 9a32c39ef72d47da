/**
 * What the views list, from the log's entries that verify, opened.
 *
 * Views trust an entry's content only as far as its verified author:
 * | content | believed from |
 * | ------- | ------------- |
 * | access events and their counts (positive integers only) | the server, signed with its key |
 * | patient actions (consent grants, revocations) | the patient's own devices (a revoked one: only entries signed before its revocation) |
 * | anything a grantee's device wrote | listed as its own claim (`source: 'grantee'`), never as either of the above |
 * | a device's name (`device-named`) | that very device, verified as the entry's author; any other claim is ignored |
 *
 * - `disclosures` lists a grant once, by its first served entry (two devices may each have appended one).
 *   Its dates are the signed grant's `issuedAt` and `start` and the signed revocation's time, from the
 *   device's copy of the grants (device meta `grants`, signed copies only) when held; else the entries'.
 */
import { ACCESS_DENIED } from '@hale/protocol';
import { AUDIT_STATE } from './stored-state';
import type { AuditCore } from './context';
import type { AccessRecord, Disclosure, GrantAction, OpenedEntry } from './types';

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/** Server-logged access events: the only entries whose access counts are believed. */
const isServerAccess = (e: OpenedEntry): boolean => e.source === 'server' && e.body.kind === 'AccessEvent';
/** A server-logged access that served or took something: not a refused attempt (`denied`). */
const isServedAccess = (e: OpenedEntry): boolean => isServerAccess(e) && e.body.action !== ACCESS_DENIED;

/** The grant a patient device's `consent-grant` / `consent-revoke` entry concerns; undefined otherwise. */
export const grantOf = (e: OpenedEntry, action: GrantAction): string | undefined =>
  e.source === 'patient' && e.body.kind === 'AuditEntry' && e.body.action === action
    ? e.body.grantId
    : undefined;

/**
 * The action of the entry a grantee's device appends to a patient's log to name itself (`summary`: the
 * name; `deviceId`: the device itself), sealed to the patient like every entry.
 */
export const DEVICE_NAMED_ACTION = 'device-named';

/** The key of a device in `deviceNamesOf`'s map: its account and its id. */
export const deviceKey = (accountId: string, deviceId: string): string => `${accountId} ${deviceId}`;

/**
 * The newest name each grantee device gave itself in `list` (by `deviceKey`): only from a readable
 * DEVICE_NAMED_ACTION entry whose verified author is the device it names; newest by the author's chain.
 */
export const deviceNamesOf = (list: readonly OpenedEntry[]): Map<string, string> => {
  const newest = new Map<string, { seq: number; name: string }>();
  for (const e of list) {
    const body = e.body;
    if (e.source !== 'grantee' || e.unreadable === true || body.kind !== 'AuditEntry') continue;
    if (body.action !== DEVICE_NAMED_ACTION || body.deviceId !== e.author) continue;
    const name = body.summary?.trim() ?? '';
    const key = deviceKey(e.authorAccountId, e.author);
    if (name === '' || (newest.get(key)?.seq ?? -1) > e.authorSeq) continue;
    newest.set(key, { seq: e.authorSeq, name });
  }
  return new Map([...newest].map(([key, { name }]) => [key, name]));
};

/** "Who saw my records" from `list` (the log's entries that verify, opened): see `whoAccessed`. */
export const accessesOf = (list: readonly OpenedEntry[]): AccessRecord[] => {
  const out: AccessRecord[] = [];
  const names = deviceNamesOf(list);
  const named = (record: AccessRecord): AccessRecord => {
    const name = names.get(deviceKey(record.actorId, record.actorDeviceId));
    if (name !== undefined) record.actorDeviceName = name;
    return record;
  };
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
      out.push(named(record));
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
      out.push(named(record));
    }
  }
  return out;
};

/** The accounting of disclosures from `list` (the log's entries that verify, opened): see `disclosures`. */
export const disclosuresOf = async (
  core: Pick<AuditCore, 'deps'>,
  list: readonly OpenedEntry[],
): Promise<Disclosure[]> => {
  const { deps } = core;
  // The device's copy of the grants (consent.ts keeps it: only signed copies that verify).
  const held = new Map<string, { issuedAt: string; start: string; granteeId: string; revokedAt?: string }>();
  for (const g of (await deps.meta.get('grants', AUDIT_STATE.grants)) ?? []) {
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
    const accesses = list.filter((e) => isServedAccess(e) && e.body.actorId === recipient);
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
