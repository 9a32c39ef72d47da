/**
 * The audit log's session state, made once per log and passed explicitly to each of its modules.
 *
 * | field        | what                                                                     | written by            |
 * | ------------ | ------------------------------------------------------------------------ | --------------------- |
 * | `deps`       | what the session injects (keys, meta, connection, directory, clock)      | —                     |
 * | `issues`     | problems reported (`issue`), the newest MAX_ISSUES                       | every module          |
 * | `serial`     | one queue for the outbox, chain positions, KEPT and other patients' SEEN | append, outbox, kept  |
 * | `names`      | per-patient key names and their moves from older names                   | meta-keys.ts          |
 * | `served`     | the store incarnation the current connection announced                   | `connected`           |
 * | `endings`    | per patient, how often `accessEnded` ran this session                    | kept.ts               |
 * | `accessGone` | patients whose KEPT and SEEN were removed whole, neither written since   | kept.ts, seen.ts      |
 *
 * - Only this log writes its device meta keys, and one session of a device runs at a time (device lock):
 *   what a field caches of them stays true until this log writes them.
 */
import type { AuditLogDeps } from './types';
import { createMetaNames, type MetaNames } from './meta-keys';

const MAX_ISSUES = 200;

export interface AuditCore {
  readonly deps: AuditLogDeps;
  /** `<account>/audit`: the account's own log. */
  readonly ownStream: string;
  readonly iso: (ms?: number) => string;
  readonly issues: string[];
  readonly issue: (message: string) => void;
  readonly serial: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly names: MetaNames;
  served: string | undefined;
  readonly endings: Map<string, number>;
  readonly accessGone: Set<string>;
}

export const createAuditCore = (deps: AuditLogDeps): AuditCore => {
  let queue: Promise<unknown> = Promise.resolve();
  const issues: string[] = [];
  return {
    deps,
    ownStream: `${deps.accountId}/audit`,
    iso: (ms = deps.now()) => new Date(ms).toISOString(),
    issues,
    issue: (message) => {
      issues.push(message);
      if (issues.length > MAX_ISSUES) issues.splice(0, issues.length - MAX_ISSUES);
    },
    serial: <T>(fn: () => Promise<T>): Promise<T> => {
      const next = queue.then(fn, fn);
      queue = next.catch(() => undefined);
      return next;
    },
    // Derived now, from the copy this log was given: the session zeroes its copies at close.
    names: createMetaNames(deps.keys.localKey),
    served: undefined,
    endings: new Map(),
    accessGone: new Set(),
  };
};

/** How often access to `patientId` ended this session: a check begun before another count remembers nothing. */
export const endingsOf = (core: Pick<AuditCore, 'endings'>, patientId: string): number =>
  core.endings.get(patientId) ?? 0;
