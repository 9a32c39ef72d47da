/**
 * SEEN (`audit-seen:<patient>`): per author of a patient's log (the server, each device), how far its
 * chain verified whole from position 1, the link hash there, and the store's incarnation then.
 *
 * - Only ever raised by a check (`remember`), so a chain later served ending below it, or holding another
 *   entry there, is reported `deleted`: the server cannot cut a chain unreported to a device that read it.
 * - Lowered only when the person accepts a loss (`rememberAccepted`: every chain held to what is served
 *   now) or the own chain is continued after a restore (continuation.ts).
 * - A check of another patient's log begun before access to that patient ended remembers nothing: its
 *   write runs in `serial` with `accessEnded` and is skipped when an ending came since (`endings`).
 * - A failure to raise is reported (AUDIT_SEEN_NOT_KEPT); a failure to accept is thrown (nothing accepted).
 */
import type { AuditCore } from './context';
import { endingsOf } from './context';
import { messageOf } from '../core/message-of';
import type { ChainHead } from './audit-chain';
import { seenKey } from './meta-keys';
import { SeenChains } from './stored';

type Core = Pick<AuditCore, 'deps' | 'issue' | 'names' | 'serial' | 'endings' | 'accessGone'>;

/** Runs `write` unless access to `patientId` ended since the check began (`ended`); see the header. */
const whileAccess = (
  core: Core,
  patientId: string,
  ended: number,
  write: () => Promise<void>,
): Promise<void> => {
  const run = async (): Promise<void> => {
    if (endingsOf(core, patientId) !== ended) return;
    core.accessGone.delete(patientId);
    await write();
  };
  return patientId === core.deps.accountId ? run() : core.serial(run);
};

/** Raises the remembered heads to those verified now (never lowers one); a failure is only reported. */
export const remember = async (
  core: Core,
  patientId: string,
  seen: SeenChains,
  heads: ReadonlyMap<string, ChainHead>,
  incarnation: string | undefined,
  ended: number,
): Promise<void> => {
  const higher = [...heads].filter(([author, head]) => head.seq > (seen[author]?.seq ?? 0));
  if (higher.length === 0) return;
  await whileAccess(core, patientId, ended, () => raise(core, patientId, higher, incarnation));
};

const raise = async (
  core: Core,
  patientId: string,
  higher: ReadonlyArray<[string, ChainHead]>,
  incarnation: string | undefined,
): Promise<void> => {
  try {
    await core.deps.meta.update(seenKey(core, patientId), SeenChains, (current) => {
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
    core.issue(
      `AUDIT_SEEN_NOT_KEPT: how far the audit log of ${patientId} was verified could not be kept, so a later cut ` +
        `of it may go unreported: ${messageOf(error)}`,
    );
  }
};

/** Replaces the remembered heads with those verified now, lowered ones included; throws on failure. */
export const rememberAccepted = async (
  core: Core,
  patientId: string,
  heads: ReadonlyMap<string, ChainHead>,
  incarnation: string | undefined,
  ended: number,
): Promise<void> => {
  const next: SeenChains = {};
  for (const [author, head] of heads) {
    next[author] = { seq: head.seq, hash: head.hash, ...(incarnation === undefined ? {} : { incarnation }) };
  }
  await whileAccess(core, patientId, ended, async () => core.deps.meta.set(seenKey(core, patientId), next));
};
