// A grant's envelopes (every epoch of every granted stream) reach the grantee however many there are: a
// `putEnvelopes` frame holds at most the protocol's maxItems, and one over it is refused whole while the
// connection stays up, so no reconnect's check would wrap them.
import { describe, expect, it } from 'vitest';
import { deriveAccountKeys } from '@hale/crypto';
import { createNodeEd25519 } from '@hale/crypto/node';
import { PutEnvelopesFrame, type KeyEnvelope } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import { SyncError, type Connection } from '../sync/connection';
import type { DeviceDirectory } from '../sync/device-directory';
import type { Keyring } from '../sync/keyring';
import { createConsent, type ConsentDeps } from './consent';

const PATIENT = 'AAAAAAAAAAAAAAAAAAAAAA';
const PROVIDER = 'BBBBBBBBBBBBBBBBBBBBBB';
const MAX_ITEMS = PutEnvelopesFrame.properties.envelopes.maxItems!;

const setup = (perStream: number, refusal?: SyncError) => {
  const values = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => values.get(key),
    write: async (key, value) => void values.set(key, value),
  });
  const published: KeyEnvelope[] = [];
  const counts = { checks: 0, frames: 0 };
  const connection = {
    status: () => 'ready',
    version: () => 1,
    whenReady: async () => undefined,
    request: async (frame: { t: string; envelopes?: KeyEnvelope[] }) => {
      if (frame.t === 'grant') return { t: 'ok' };
      if (frame.t === 'putEnvelopes') {
        counts.frames++;
        // As the server's codec: a frame over the schema's bound is refused whole; the socket stays.
        if (frame.envelopes!.length > MAX_ITEMS) throw new SyncError('BAD_MESSAGE', 'too many items', false);
        if (refusal) throw refusal;
        published.push(...frame.envelopes!);
        return { t: 'ok' };
      }
      if (frame.t === 'listGrants') return { t: 'grants', grants: [] };
      throw new Error(`unexpected ${frame.t}`);
    },
  };
  const keyring = {
    useWriteGuard: () => undefined,
    invalidateWriteChecks: () => undefined,
    // One envelope per epoch of the stream, as the keyring wraps the whole history.
    envelopesFor: async (stream: string) =>
      Array.from(
        { length: perStream },
        (_, epoch) => ({ stream, epoch, recipient: PROVIDER }) as KeyEnvelope,
      ),
    // A check reads every key (a grant reads its own streams' again, which is no check).
    refresh: async (streams?: string[]) => {
      if (streams === undefined) counts.checks++;
      throw new Error('stub: no keys');
    },
  };
  const deps: ConsentDeps = {
    accountId: PATIENT,
    role: 'patient',
    keys: deriveAccountKeys(new Uint8Array(32).fill(1)),
    device: { deviceId: 'dev', secretKey: new Uint8Array(32) },
    ed: createNodeEd25519(),
    connection: connection as unknown as Connection,
    keyring: keyring as unknown as Keyring,
    directory: {
      forget: () => undefined,
      presentedIdentity: async () => ({ key: new Uint8Array(32).fill(2), selfCertified: true }),
      wrappingKey: async () => new Uint8Array(32).fill(7),
    } as unknown as DeviceDirectory,
    now: () => Date.now(),
    meta,
    grantRefreshMs: 0,
  };
  return { consent: createConsent(deps), published, counts };
};

const grantBoth = {
  granteeId: PROVIDER,
  scope: [
    { type: 'allergy' as const, access: 'read' as const },
    { type: 'medication' as const, access: 'read' as const },
  ],
  durationMs: 3_600_000,
  purpose: 'care',
};

describe("a grant's envelopes", () => {
  it('are all published when there are more than one frame holds', async () => {
    const perStream = Math.ceil(MAX_ITEMS / 2) + 1;
    const { consent, published } = setup(perStream);
    await consent.grant(grantBoth);
    expect(published).toHaveLength(2 * perStream);
  });

  it('refused while the connection stays up: a check runs at once to wrap them', async () => {
    const { consent, counts } = setup(3, new SyncError('RATE_LIMITED', 'slow down', true));
    await consent.grant(grantBoth);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(counts.frames).toBe(1);
    expect(counts.checks).toBe(1);
  });
});
