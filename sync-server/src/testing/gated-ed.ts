// Test seam: an Ed25519 whose next verification or signature waits until the test releases it, so a test
// can hold a request open at that point (a push checking a row's signature, the server signing an access
// event before it serves) and change something meanwhile. Otherwise the harness's Ed25519.
import type { Ed25519 } from '@hale/crypto';
import { ed } from './harness';

/** Ed25519 whose next `verify` or `sign`, once armed, waits until released. */
export const gatedEd = () => {
  let armed: { kind: 'verify' | 'sign'; reached: () => void; release: Promise<void> } | null = null;
  const hold = async (kind: 'verify' | 'sign') => {
    const held = armed;
    if (held === null || held.kind !== kind) return;
    armed = null;
    held.reached();
    await held.release;
  };
  const gate: Ed25519 = {
    name: 'gated',
    sign: async (secretKey, msg) => {
      await hold('sign');
      return ed.sign(secretKey, msg);
    },
    verify: async (publicKey, msg, sig) => {
      await hold('verify');
      return ed.verify(publicKey, msg, sig);
    },
  };
  const arm = (kind: 'verify' | 'sign') => {
    let reached!: () => void;
    let release!: () => void;
    const isReached = new Promise<void>((resolve) => (reached = resolve));
    armed = { kind, reached, release: new Promise<void>((resolve) => (release = resolve)) };
    return { reached: isReached, release };
  };
  return { gate, arm };
};
