/*
 * Signed stream heads on the server (docs/architecture.md, "Signed stream heads"): `putHead` keeps a patient
 * device's statement when it is true of the server's own rows; `getHead` serves the kept one with its leaves
 * to whoever may pull the stream.
 *
 * | request | refused with                                                                            |
 * | ------- | --------------------------------------------------------------------------------------- |
 * | putHead | FORBIDDEN: not the patient's stream, or signed by another device than the sender        |
 * |         | BAD_SIGNATURE: the sender's device key does not verify it                                |
 * |         | HEAD_NOT_CURRENT: `seq` is not the stream's current seq (`details.seq`), then or at commit|
 * |         | HEAD_MISMATCH: `n`/`root` are not those of the rows at that seq                          |
 * |         | HEAD_STALE: a statement at a higher seq is kept (`details.seq`)                           |
 * | getHead | the pull's consent refusal (NO_CONSENT, CONSENT_*, FORBIDDEN for another's audit stream) |
 *
 * Invariants: nothing is kept unless every check passed, and the seq check is taken again in the store's
 * write step (`heads.keep`), so no write committed meanwhile is covered by a root computed without it. The
 * leaves are derived from the rows' clear fields only (id, rev, deleted). A kept row whose rev is not of the
 * `${rv}-${tag}` form (never stored by this server: the push schema refuses it) is left out of a page.
 */
import { base64urlDecode, headRoot, STREAM_HEAD_LABEL, verifyCanonical, type Ed25519 } from '@hale/crypto';
import {
  leafOfRev,
  MAX_HEAD_LEAVES_PAGE,
  parseStreamId,
  SignedHead,
  validate,
  type HeadLeaf,
  type StreamId,
} from '@hale/protocol';
import type { HeadRow, SyncStore } from '../store/types';
import type { AccessDecision, Operation, Principal } from './access';
import { ServiceError } from './service-error';

export interface HeadServiceDeps {
  store: SyncStore;
  ed: Ed25519;
  /** The consent check pulls take (sync-service.ts `check`). */
  check: (p: Principal, stream: string, op: Operation) => Promise<AccessDecision>;
}

export interface HeadPage {
  stream: StreamId;
  signed?: SignedHead;
  leaves: HeadLeaf[];
  next?: string;
}

const leavesOf = (rows: readonly HeadRow[]): HeadLeaf[] => {
  const out: HeadLeaf[] = [];
  for (const row of rows) {
    const leaf = leafOfRev(row.id, row.rev, row.deleted);
    if (leaf !== null) out.push(leaf);
  }
  return out;
};

export const createHeadService = (deps: HeadServiceDeps) => {
  const { store, ed } = deps;

  const putHead = async (
    p: Principal & { devicePublicKey: Uint8Array },
    signed: SignedHead,
  ): Promise<void> => {
    const { head } = signed;
    const parsed = parseStreamId(head.stream);
    if (!parsed.ok || parsed.value.patientId !== p.accountId)
      throw new ServiceError('FORBIDDEN', "only the patient's devices sign a stream's head", {
        stream: head.stream,
      });
    if (head.device !== p.deviceId)
      throw new ServiceError('FORBIDDEN', 'a device puts only the statements it signed itself', {
        device: head.device,
      });
    const sig = base64urlDecode(signed.sig);
    if (!sig.ok || !(await verifyCanonical(ed, p.devicePublicKey, STREAM_HEAD_LABEL, head, sig.value)))
      throw new ServiceError(
        'BAD_SIGNATURE',
        "the statement's signature does not verify with this device's key",
      );
    const { seq, rows } = await store.heads.rows(head.stream);
    const notCurrent = (current: number) =>
      new ServiceError(
        'HEAD_NOT_CURRENT',
        `the statement is of seq ${head.seq}, the stream is at ${current}: pull to its head and sign again later`,
        { seq: current },
      );
    if (seq !== head.seq) throw notCurrent(seq);
    const mine = headRoot(leavesOf(rows));
    if (mine.n !== head.n || mine.root !== head.root)
      throw new ServiceError(
        'HEAD_MISMATCH',
        `the statement's root or count (${head.n}) is not that of the server's ${mine.n} records at seq ${seq}: pull again before signing`,
      );
    const kept = await store.heads.keep({ stream: head.stream, seq, signed }, rows);
    if (kept.status === 'moved') throw notCurrent(kept.seq);
    if (kept.status === 'stale')
      throw new ServiceError('HEAD_STALE', `a statement at seq ${kept.seq} is kept already`, {
        seq: kept.seq,
      });
  };

  const getHead = async (
    p: Principal,
    stream: StreamId,
    after: string | undefined,
    limit: number = MAX_HEAD_LEAVES_PAGE,
  ): Promise<HeadPage> => {
    const decision = await deps.check(p, stream, 'pull');
    if (!decision.ok) throw new ServiceError(decision.code, decision.message, { stream });
    const kept = await store.heads.get(stream, after, limit + 1);
    if (kept === null) return { stream, leaves: [] };
    const statement = validate(SignedHead, kept.head.signed);
    // Stored only after the codec accepted it; a damaged row is served as none rather than sent.
    if (!statement.ok || statement.value.head.stream !== stream) return { stream, leaves: [] };
    const more = kept.rows.length > limit;
    const leaves = leavesOf(kept.rows.slice(0, limit));
    const last = leaves[leaves.length - 1];
    return {
      stream,
      signed: statement.value,
      leaves,
      ...(more && last !== undefined ? { next: last.id } : {}),
    };
  };

  return { putHead, getHead };
};

export type HeadService = ReturnType<typeof createHeadService>;
