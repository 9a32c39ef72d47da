/**
 * Seal once, the codec's side: the sealer the at-rest wrapper of the records collection is given
 * (store/stream-sealing.ts), sealing a local version once, as push would (`encodeRecords`: tag, and the
 * author signature where required), and answering the stream keys its stored versions open with.
 *
 * | a state is sealed once when | otherwise |
 * | --- | --- |
 * | this device authored it, the stream is the account's own, its current epoch is 0 and `writeKey` (with the write guard) answers epoch 0 | null: the wrapper seals it under the at-rest key, push seals it as before |
 *
 * Invariants
 * - Only epoch 0 of the account's own streams: that key derives from the root, so every unlocked session
 *   can open what was stored, offline too; other epochs' keys come from envelopes fetched from the
 *   server, not held at start (a later step persists them).
 * - `writeKey` is asked only when the key is held (`heldKey`): no fetch on the write path; the write
 *   guard (local grants) still decides, so nothing is sealed under an epoch an ended grantee holds.
 * - `keyNow` answers only what `seal` seals under; null once the keyring is unusable (locked, closed).
 * - `isCurrent`: the keyring's current epoch of the stream (no fetch), for the replication-meta copies.
 * Failure modes: `encodeRecords` rejecting (an offload's bad reply) rejects the batch (the wrapper's
 * write fails AT_REST_ENCRYPT_FAILED, nothing stored).
 */
import { parseStreamId, type PushDoc } from '@hale/protocol';
import type { StreamRecordState, StreamSealer } from '../store/stream-sealing';
import { encodeRecords, type CodecDeps, type EncodeInput, type PlainRecord } from './record-codec';
import type { Keyring } from './keyring';

export function createStreamSealer(deps: {
  readonly codec: CodecDeps;
  readonly keyring: Pick<Keyring, 'heldKey' | 'currentEpoch' | 'writeKey'>;
  readonly accountId: string;
}): StreamSealer {
  const { codec, keyring, accountId } = deps;
  const deviceId = codec.device.deviceId;
  const own = (stream: string): boolean => {
    const p = parseStreamId(stream);
    return p.ok && p.value.patientId === accountId;
  };
  const epochZeroHeld = (stream: string): boolean =>
    own(stream) && keyring.currentEpoch(stream) === 0 && keyring.heldKey(stream, 0) !== null;
  return {
    deviceId,
    keyNow: (stream, epoch) => (epoch === 0 && own(stream) ? keyring.heldKey(stream, 0) : null),
    isCurrent: (stream, epoch) => keyring.currentEpoch(stream) === epoch,
    async seal(states: readonly StreamRecordState[]): Promise<ReadonlyArray<PushDoc | null>> {
      const writes = new Map<string, Promise<{ epoch: number; key: Uint8Array } | null>>();
      const inputs: EncodeInput[] = [];
      const at: number[] = [];
      for (const [n, state] of states.entries()) {
        if (state.author !== deviceId || !epochZeroHeld(state.stream)) continue;
        let write = writes.get(state.stream);
        if (write === undefined) {
          write = keyring.writeKey(state.stream);
          writes.set(state.stream, write);
        }
        const w = await write;
        if (w === null || w.epoch !== 0) continue;
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
