// The devices of the restore tests, opened as an app opens them: `openHaleForTests` over a `nodePlatform`
// of their own (its storage and vault kept for a restart), whose WebSocket factory a test taps (frames
// seen, changed or answered on the way) and drops. Issues are followed from the session's opening, so a
// test counts every report, also one that replaced an earlier entry of the same words (sync/issues.ts).
import { exampleInput, type RecordKind, type RecordOf } from '@hale/model';
import type { HaleSession, Platform, RecordInput, SyncIssue, WebSocketLike } from '@hale/client';
import { openHaleForTests, type HaleTestKnobs } from '@hale/client/testing';
import { nodePlatform, type NodePlatformOptions } from '@hale/platform-node';
import { PASSPHRASE, when } from '../client-api/hale-devices';

export { online, useHaleSessions, when } from '../client-api/hale-devices';
export { until } from '../convergence/parties';

/** A valid record input of `kind` (`exampleInput`); the records API fills in the rest. */
export const input = <K extends RecordKind>(kind: K, overrides: Partial<RecordOf<K>> = {}): RecordInput<K> =>
  exampleInput(kind, overrides) as unknown as RecordInput<K>;

/** What a test does with each frame (JSON text) on a tapped socket; without a hook, frames pass. */
export interface FrameTap {
  /**
   * A frame the device sends: `send` passes it (or another text) to the server, `answer` hands the device
   * a frame as if the server had sent it.
   */
  sent?: (text: string, send: (text: string) => void, answer: (text: string) => void) => void;
  /** A frame the server sends: `deliver` hands it (or the text given) to the device. */
  received?: (text: string, deliver: (text?: string) => void) => void;
  /** A new socket is being opened (the one before, if any, closed: its requests went unanswered). */
  opening?: () => void;
}

/** A device's platform: `nodePlatform(options)` with its sockets passing through `tap` (changeable). */
export interface TappedPlatform {
  readonly platform: Platform;
  tap: FrameTap;
  /** Closes the open socket as a lost network does; the session reconnects on its own. */
  drop(): void;
}

const textOf = (data: unknown): string =>
  Buffer.isBuffer(data) ? data.toString('utf8') : typeof data === 'string' ? data : '';

export const tappedPlatform = (options: NodePlatformOptions = {}, tap: FrameTap = {}): TappedPlatform => {
  const base = nodePlatform(options);
  let open: WebSocketLike | null = null;
  const tapped: TappedPlatform = {
    platform: {
      ...base,
      createWebSocket: (url: string): WebSocketLike => {
        tapped.tap.opening?.();
        const inner = base.createWebSocket(url);
        const outer: WebSocketLike = {
          get readyState() {
            return inner.readyState;
          },
          send: (data: string) => {
            const hook = tapped.tap.sent;
            if (!hook) return inner.send(data);
            hook(
              data,
              (text) => inner.send(text),
              (text) => setTimeout(() => outer.onmessage?.({ data: text }), 0),
            );
          },
          close: (code, reason) => inner.close(code, reason),
          onopen: null,
          onmessage: null,
          onclose: null,
          onerror: null,
        };
        inner.onopen = (ev) => outer.onopen?.(ev);
        inner.onerror = (ev) => outer.onerror?.(ev);
        inner.onclose = (ev) => outer.onclose?.(ev);
        inner.onmessage = (ev) => {
          const text = textOf(ev.data);
          const deliver = (replaced?: string): void => outer.onmessage?.({ data: replaced ?? text });
          const hook = tapped.tap.received;
          if (hook) hook(text, deliver);
          else deliver();
        };
        open = outer;
        return outer;
      },
    },
    tap,
    drop: () => open?.close(4000, 'dropped by the test'),
  };
  return tapped;
};

/** Every issue each session reported since it opened, in order (see the header). */
const reportedBy = new WeakMap<HaleSession, SyncIssue[]>();

const followed = (session: HaleSession, sessions: HaleSession[]): HaleSession => {
  const log: SyncIssue[] = [];
  const seen = new Set<SyncIssue>();
  // Each report is a new issue object (a repeated one replaces the entry of the same words).
  session.sync.state.$.subscribe((state) => {
    for (const issue of state.errors) {
      if (seen.has(issue)) continue;
      seen.add(issue);
      log.push(issue);
    }
  });
  reportedBy.set(session, log);
  sessions.push(session);
  return session;
};

/** The reports of `code` by `s` since it opened, oldest first. */
export const reports = (s: HaleSession, code: string): SyncIssue[] =>
  (reportedBy.get(s) ?? []).filter((issue) => issue.code === code);

/** The codes of the issues `s` shows now. */
export const codesNow = (s: HaleSession): string[] => s.sync.state.get().errors.map((e) => e.code);

/** Resolves once `s` has reported `code` `times` times in all since it opened; fails naming `what` after `ms`. */
export const whenReported = (s: HaleSession, code: string, what: string, ms = 15_000, times = 1) =>
  when(s.sync.state, () => reports(s, code).length >= times, what, ms);

/** Resolves once every local write of `s` was acknowledged by the server. */
export const allPushed = (s: HaleSession, what = 'pushed') =>
  when(s.sync.state, (x) => x.pendingWrites === 0, what);

/** Drops `device`'s socket and resolves once its session is online again. */
export const reconnected = async (s: HaleSession, device: TappedPlatform, what: string): Promise<void> => {
  const dropped = when(
    s.sync.state,
    (x) => x.status === 'offline' || x.status === 'connecting',
    `${what}: dropped`,
  );
  device.drop();
  await dropped;
  await when(s.sync.state, (x) => x.status === 'online', `${what}: online again`, 30_000);
};

let counter = 0;
const uniqueLogin = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}`;

/** A new account on `server` and the session of its first device, on `device` (a tapped nodePlatform). */
export const createdDevice = async (
  server: string,
  sessions: HaleSession[],
  options: { role?: 'patient' | 'provider'; device?: TappedPlatform; knobs?: HaleTestKnobs } = {},
) => {
  const device = options.device ?? tappedPlatform();
  const hale = await openHaleForTests({ server, platform: device.platform }, options.knobs);
  const loginName = uniqueLogin(options.role ?? 'patient');
  const created = await hale.createAccount({
    role: options.role ?? 'patient',
    passphrase: PASSPHRASE,
    loginName,
    deviceName: 'first device',
  });
  return {
    session: followed(created.session, sessions),
    device,
    loginName,
    recoveryKey: created.recoveryKey,
  };
};

/** Another device joining the account `loginName` with its passphrase, on `device`. */
export const joinedDevice = async (
  server: string,
  sessions: HaleSession[],
  loginName: string,
  options: { device?: TappedPlatform; knobs?: HaleTestKnobs } = {},
) => {
  const device = options.device ?? tappedPlatform();
  const hale = await openHaleForTests({ server, platform: device.platform }, options.knobs);
  const session = await hale.join({ loginName, passphrase: PASSPHRASE, deviceName: 'another device' });
  return { session: followed(session, sessions), device };
};

/** The account `device` holds (its vault), unlocked again: the device restarted, its store kept. */
export const restarted = async (
  server: string,
  sessions: HaleSession[],
  device: TappedPlatform,
  knobs?: HaleTestKnobs,
): Promise<HaleSession> => {
  const hale = await openHaleForTests({ server, platform: device.platform }, knobs);
  return followed(await hale.unlock({ passphrase: PASSPHRASE }), sessions);
};
