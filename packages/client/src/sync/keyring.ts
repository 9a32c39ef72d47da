/**
 * Stream keys held by one device.
 *
 * Invariants:
 * - Epoch 0 of the account's own streams is derived from the root (no race between offline devices);
 *   every other key comes from an envelope addressed to this account, opened with the account's X25519
 *   wrapping key, bound to (stream, epoch), whose key id matches and whose signature verifies against a
 *   certified device of the stream's patient. An envelope failing any of these is ignored and reported,
 *   so a server cannot plant a key of its own choosing.
 * - Keys of older epochs are kept (history stays readable); new writes use the highest known epoch.
 * - The revision-tag key of a stream is derived from its epoch-0 key, so it survives rotations.
 * Failure modes: a missing key answers null (the caller quarantines, never overwrites); `rotate` needs
 * the server (it publishes the new envelopes) and fails with the server's typed error otherwise.
 */
import {
  base64urlDecode,
  deriveInitialStreamKey,
  deriveRevisionTagKey,
  generateStreamKey,
  keyId,
  signCanonical,
  base64urlEncode,
  unwrapKey,
  verifyCanonical,
  wrapKey,
  type AccountKeys,
  type Ed25519,
} from '@hale/crypto';
import { envelopeSignaturePayload, parseStreamId, type KeyEnvelope } from '@hale/protocol';

export interface KeyringDeps {
  accountId: string;
  root: Uint8Array;
  keys: AccountKeys;
  device: { deviceId: string; secretKey: Uint8Array };
  ed: Ed25519;
  fetchEnvelopes: (streams?: string[]) => Promise<KeyEnvelope[]>;
  publishEnvelopes: (envelopes: KeyEnvelope[]) => Promise<void>;
  /** Public key of a certified, non-revoked device of `accountId`, or null. */
  deviceKey: (accountId: string, deviceId: string) => Promise<Uint8Array | null>;
  onRejectedEnvelope?: (envelope: KeyEnvelope, reason: string) => void;
}

export const createKeyring = (deps: KeyringDeps) => {
  const keys = new Map<string, Map<number, Uint8Array>>();
  const serverEpoch = new Map<string, number>();
  const tagKeys = new Map<string, Uint8Array>();
  const rejected = new Set<string>();

  const own = (stream: string): boolean => {
    const p = parseStreamId(stream);
    return p.ok && p.value.patientId === deps.accountId;
  };
  const put = (stream: string, epoch: number, key: Uint8Array): void => {
    let m = keys.get(stream);
    if (!m) {
      m = new Map();
      keys.set(stream, m);
    }
    m.set(epoch, key);
  };
  const derive0 = (stream: string): Uint8Array => {
    let k = keys.get(stream)?.get(0);
    if (!k) {
      k = deriveInitialStreamKey(deps.root, stream);
      put(stream, 0, k);
    }
    return k;
  };

  const accept = async (env: KeyEnvelope): Promise<boolean> => {
    // Remembered by the whole envelope: a planted envelope must not shadow a genuine one for the same key.
    const id = `${env.stream}|${env.epoch}|${env.recipient}|${env.createdBy}|${env.wrapped}|${env.sig ?? ''}`;
    if (keys.get(env.stream)?.has(env.epoch) || rejected.has(id)) return false;
    const reject = (reason: string): boolean => {
      rejected.add(id);
      deps.onRejectedEnvelope?.(env, reason);
      return false;
    };
    const parsed = parseStreamId(env.stream);
    if (!parsed.ok || env.recipient !== deps.accountId) return reject('not addressed to this account');
    if (env.sig === undefined) return reject('unsigned envelope');
    const pk = await deps.deviceKey(parsed.value.patientId, env.createdBy);
    const sig = base64urlDecode(env.sig);
    const payload = envelopeSignaturePayload(env);
    if (!pk || !sig.ok || !(await verifyCanonical(deps.ed, pk, payload.label, payload, sig.value))) {
      return reject("not signed by a device of the stream's patient");
    }
    const opened = unwrapKey(env.wrapped, deps.keys.wrapping, { stream: env.stream, epoch: env.epoch });
    if (!opened.ok) return reject(`cannot open: ${opened.error.code}`);
    if (keyId(opened.value) !== env.keyId) return reject('key id mismatch');
    put(env.stream, env.epoch, opened.value);
    return true;
  };

  const refresh = async (streams?: string[]): Promise<number> => {
    const envelopes = await deps.fetchEnvelopes(streams);
    let n = 0;
    for (const env of envelopes) if (await accept(env)) n++;
    return n;
  };

  const keyFor = async (stream: string, epoch: number): Promise<Uint8Array | null> => {
    if (epoch === 0 && own(stream)) return derive0(stream);
    const known = keys.get(stream)?.get(epoch);
    if (known) return known;
    await refresh([stream]);
    return keys.get(stream)?.get(epoch) ?? null;
  };

  const highestKnown = (stream: string): number => {
    const m = keys.get(stream);
    let max = own(stream) ? 0 : -1;
    if (m) for (const e of m.keys()) if (e > max) max = e;
    return max;
  };

  return {
    keyFor,
    refresh,
    /** Records the server's current epoch for a stream (from listStreams / accessChanged / STALE_EPOCH). */
    noteServerEpoch(stream: string, epoch: number): void {
      if (epoch > (serverEpoch.get(stream) ?? -1)) serverEpoch.set(stream, epoch);
    },
    /** The epoch and key new writes must use; null when this device lacks the current key. */
    async writeKey(stream: string): Promise<{ epoch: number; key: Uint8Array } | null> {
      const epoch = Math.max(serverEpoch.get(stream) ?? 0, highestKnown(stream));
      const key = await keyFor(stream, epoch);
      return key ? { epoch, key } : null;
    },
    async tagKey(stream: string): Promise<Uint8Array | null> {
      const cached = tagKeys.get(stream);
      if (cached) return cached;
      const k0 = await keyFor(stream, 0);
      if (!k0) return null;
      const t = deriveRevisionTagKey(k0);
      tagKeys.set(stream, t);
      return t;
    },
    /** Envelopes of every known epoch of `stream` for a recipient (a new grantee reads the history). */
    async envelopesFor(stream: string, recipient: { accountId: string; wrappingPublicKey: Uint8Array }) {
      const out: KeyEnvelope[] = [];
      const top = Math.max(serverEpoch.get(stream) ?? 0, highestKnown(stream));
      for (let epoch = 0; epoch <= top; epoch++) {
        const key = await keyFor(stream, epoch);
        if (!key) continue;
        out.push(await signedEnvelope(stream, epoch, key, recipient));
      }
      return out;
    },
    /**
     * Mints epoch n+1 for `stream`, wraps it for every remaining holder and publishes. History is not
     * re-encrypted: cost is one key per recipient whatever the number of records.
     */
    async rotate(stream: string, recipients: Array<{ accountId: string; wrappingPublicKey: Uint8Array }>) {
      const next = Math.max(serverEpoch.get(stream) ?? 0, highestKnown(stream)) + 1;
      const key = generateStreamKey();
      const self = { accountId: deps.accountId, wrappingPublicKey: deps.keys.wrapping.publicKey };
      const all = [self, ...recipients.filter((r) => r.accountId !== deps.accountId)];
      const envelopes = await Promise.all(all.map((r) => signedEnvelope(stream, next, key, r)));
      await deps.publishEnvelopes(envelopes);
      put(stream, next, key);
      serverEpoch.set(stream, next);
      return next;
    },
    forgetStream(stream: string): void {
      keys.delete(stream);
      tagKeys.delete(stream);
      serverEpoch.delete(stream);
    },
  };

  async function signedEnvelope(
    stream: string,
    epoch: number,
    key: Uint8Array,
    recipient: { accountId: string; wrappingPublicKey: Uint8Array },
  ): Promise<KeyEnvelope> {
    const env = {
      stream: stream as KeyEnvelope['stream'],
      epoch,
      recipient: recipient.accountId,
      keyId: keyId(key),
      wrapped: wrapKey(key, recipient.wrappingPublicKey, { stream, epoch }),
      createdBy: deps.device.deviceId,
    };
    const payload = envelopeSignaturePayload(env);
    const sig = await signCanonical(deps.ed, deps.device.secretKey, payload.label, payload);
    return { ...env, sig: base64urlEncode(sig) };
  }
};

export type Keyring = ReturnType<typeof createKeyring>;
