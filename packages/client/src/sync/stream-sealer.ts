/**
 * Seal once, the codec's side: the sealer the at-rest wrapper of the records collection is given
 * (store/stream-sealing.ts), sealing a local version once, as push would (`encodeRecords`: tag, and the
 * author signature where required), and answering the stream keys its stored versions open with.
 *
 * | a state is sealed once when | otherwise |
 * | --- | --- |
 * | this device authored it, the key of its stream's current epoch is held (no fetch) and kept (`keptKey`: the next session holds it without a fetch), and `writeKey` (with the write guard) answers that epoch and key | null: the wrapper seals it under the at-rest key, push seals it as before |
 *
 * Invariants
 * - Only under a key every later unlocked session holds at its start, offline too (`keptKey`): epoch 0 of
 *   the account's own streams (derived from the root), or a key the key cache stores (sync/key-cache.ts,
 *   sealed under the at-rest key; a granted stream's, an own stream's later epoch).
 * - `writeKey` is asked only when the current epoch's key is held for use (`heldKey`: an own stream's kept
 *   key of a later epoch opens versions but is not written under before the keyring takes it again): no
 *   fetch on the write path; the write
 *   guard (local grants) still decides, so nothing is sealed under an epoch an ended grantee holds.
 * - A version with no content (a purge's emptied copy) is not sealed once: it stays readable after its
 *   stream's keys are forgotten.
 * - `keyNow` answers any key held now (kept ones too), for opening; `keptNow` only what may be stored
 *   (received bytes kept as they are); both null once the keyring is unusable (locked, closed).
 * - `isCurrent`: the keyring's current epoch of the stream (no fetch), for the replication-meta copies.
 * Failure modes: `encodeRecords` rejecting (an offload's bad reply) rejects the batch (the wrapper's
 * write fails AT_REST_ENCRYPT_FAILED, nothing stored).
 */
import type { PushDoc } from '@hale/protocol';
import type { StreamRecordState, StreamSealer } from '../store/stream-sealing';
import { encodeRecords, type CodecDeps, type EncodeInput } from './record-codec';
import { emptied, type PlainRecord } from '../records/plain-record';
import type { Keyring } from './keyring';

export function createStreamSealer(deps: {
  readonly codec: CodecDeps;
  readonly keyring: Pick<Keyring, 'heldKey' | 'readKey' | 'keptKey' | 'currentEpoch' | 'writeKey'>;
}): StreamSealer {
  const { codec, keyring } = deps;
  const deviceId = codec.device.deviceId;
  const keptCurrent = (stream: string): boolean => {
    const epoch = keyring.currentEpoch(stream);
    return keyring.heldKey(stream, epoch) !== null && keyring.keptKey(stream, epoch) !== null;
  };
  return {
    deviceId,
    keyNow: (stream, epoch) => keyring.readKey(stream, epoch),
    keptNow: (stream, epoch) => keyring.keptKey(stream, epoch),
    isCurrent: (stream, epoch) => keyring.currentEpoch(stream) === epoch,
    async seal(states: readonly StreamRecordState[]): Promise<ReadonlyArray<PushDoc | null>> {
      const writes = new Map<string, Promise<{ epoch: number; key: Uint8Array } | null>>();
      const inputs: EncodeInput[] = [];
      const at: number[] = [];
      for (const [n, state] of states.entries()) {
        if (state.author !== deviceId || !keptCurrent(state.stream)) continue;
        if (state.conflictData === null && emptied(state as { data: object })) continue;
        let write = writes.get(state.stream);
        if (write === undefined) {
          write = keyring.writeKey(state.stream);
          writes.set(state.stream, write);
        }
        const w = await write;
        if (w === null || keyring.keptKey(state.stream, w.epoch) !== w.key) continue;
        inputs.push({ record: state as unknown as PlainRecord, write: w });
        at.push(n);
      }
      const out: Array<PushDoc | null> = states.map(() => null);
      if (inputs.length === 0) return out;
      const docs = await encodeRecords(codec, inputs);
      docs.forEach((doc, k) => void (out[at[k]!] = doc));
      return out;
    },
  };
}
