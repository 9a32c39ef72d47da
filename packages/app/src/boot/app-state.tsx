/**
 * The app's state above the chart: which phase it is in, the `Hale` of the server it talks to, the open
 * session, and the settings.
 *
 * | phase | shows | leaves by |
 * |---|---|---|
 * | `loading` | a spinner | the vault answered `hasAccount` |
 * | `start` | sign up / add this device | `enter(session)` |
 * | `locked` | the unlock screen, nothing of the chart | `enter(session)` after unlock |
 * | `open` | the chart, below `<HaleProvider>` | `lock()` (on demand or idle), `signOut()`, `release()` |
 * | `failed` | what went wrong opening the app, in words | reload |
 *
 * Invariants: a session exists only in `open`; `lock()` forgets the keys (`session.lock()`) before the
 * phase changes, so nothing of the chart renders after it; a change of server address closes the session.
 *
 * Start-up: the library loads in its own chunk. A device that held an account when last used (a hint in
 * localStorage, no secret: set when a session opens, cleared at sign-out) shows the unlock screen at once,
 * while the library loads behind it (`whenHale()` waits for it); the vault's answer corrects the phase.
 */
import { notifications } from '@mantine/notifications';
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import { flushSync } from 'react-dom';
import type { Hale, HaleSession } from '@hale/client';
import { openBrowserHale } from './platform';
import { readSettings, writeSettings, defaultSettings, type AppSettings } from './settings';
import { clearDrafts, flushDrafts } from '../records/drafts';
import { readAccountHint, writeAccountHint } from './account-hint';

export type Phase = 'loading' | 'start' | 'locked' | 'open' | 'failed';

export interface AppState {
  readonly phase: Phase;
  readonly hale: Hale | null;
  readonly session: HaleSession | null;
  readonly settings: AppSettings;
  readonly failure: string | null;
  /** Sync paused by the person (settings), not by the network. */
  readonly syncPaused: boolean;
  setSyncPaused(paused: boolean): void;
  updateSettings(patch: Partial<AppSettings>): void;
  enter(session: HaleSession): void;
  lock(): Promise<void>;
  /** Closes the session and forgets the account on this device (its vault entry). */
  signOut(): Promise<void>;
  /** The chart lets go of the session at once (its account was just erased; it locks next). */
  release(): void;
  /** The `Hale` once the library has loaded (`hale` is null until then). */
  whenHale(): Promise<Hale>;
}

const AppContext = createContext<AppState | null>(null);

export const useApp = (): AppState => {
  const app = useContext(AppContext);
  if (app === null) throw new Error('useApp outside <AppStateProvider>');
  return app;
};

/** The open session; only for screens below the open phase. */
export const useOpenSession = (): HaleSession => {
  const { session } = useApp();
  if (session === null) throw new Error('no open session');
  return session;
};

export function AppStateProvider(props: { readonly children: ReactNode }): ReactNode {
  const [settings, setSettings] = useState<AppSettings>(() =>
    readSettings(localStorage, defaultSettings(location.origin, navigator.languages)),
  );
  const [phase, setPhase] = useState<Phase>(() => (readAccountHint(localStorage) ? 'locked' : 'loading'));
  const [hale, setHale] = useState<Hale | null>(null);
  const haleWaiters = useRef<((h: Hale) => void)[]>([]);
  const haleRef = useRef<Hale | null>(null);
  const [session, setSession] = useState<HaleSession | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [syncPaused, setSyncPaused] = useState(false);
  const sessionRef = useRef<HaleSession | null>(null);
  sessionRef.current = session;

  // One Hale per server address; a new address closes any open session first.
  useEffect(() => {
    let cancelled = false;
    haleRef.current = null;
    setHale(null);
    setPhase(readAccountHint(localStorage) ? 'locked' : 'loading');
    void (async () => {
      const open = sessionRef.current;
      if (open !== null) {
        await open.close().catch(() => undefined);
        setSession(null);
      }
      try {
        const next = await openBrowserHale(settings.server);
        const has = await next.hasAccount();
        if (cancelled) return;
        writeAccountHint(localStorage, has);
        haleRef.current = next;
        setHale(next);
        for (const resolve of haleWaiters.current.splice(0)) resolve(next);
        setPhase(has ? 'locked' : 'start');
      } catch (e) {
        if (cancelled) return;
        setFailure(e instanceof Error ? e.message : String(e));
        setPhase('failed');
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [settings.server]);

  const updateSettings = useCallback((patch: Partial<AppSettings>) => {
    setSettings((current) => {
      const next = { ...current, ...patch };
      writeSettings(localStorage, next);
      return next;
    });
  }, []);

  const whenHale = useCallback(
    (): Promise<Hale> =>
      haleRef.current !== null
        ? Promise.resolve(haleRef.current)
        : new Promise<Hale>((resolve) => haleWaiters.current.push(resolve)),
    [],
  );

  const enter = useCallback((opened: HaleSession) => {
    writeAccountHint(localStorage, true);
    setSyncPaused(false);
    setSession(opened);
    setPhase('open');
  }, []);

  const lock = useCallback(async () => {
    const open = sessionRef.current;
    setSession(null);
    setPhase('locked');
    // A locked app shows nothing of the chart: notices (a record's name, a file's) go with it.
    notifications.clean();
    // What was typed last is sealed on the device before the keys go; then the page forgets it.
    await flushDrafts();
    clearDrafts();
    if (open !== null) await open.lock().catch(() => undefined);
  }, []);

  const release = useCallback(() => {
    // Committed now, not at React's next render: the session locks or closes right after this returns.
    flushSync(() => {
      setSession(null);
      setPhase('loading');
    });
    notifications.clean();
  }, []);

  const signOut = useCallback(async () => {
    const open = sessionRef.current;
    // The chart unmounts before the session closes (no screen reads a closed session).
    release();
    await flushDrafts();
    if (open !== null) await open.close().catch(() => undefined);
    clearDrafts();
    writeAccountHint(localStorage, false);
    await (await whenHale()).removeLocalAccount();
    setPhase('start');
  }, [whenHale, release]);

  const value = useMemo<AppState>(
    () => ({
      phase,
      hale,
      session,
      settings,
      failure,
      syncPaused,
      setSyncPaused,
      updateSettings,
      enter,
      lock,
      signOut,
      release,
      whenHale,
    }),
    [
      phase,
      hale,
      session,
      settings,
      failure,
      syncPaused,
      updateSettings,
      enter,
      lock,
      signOut,
      release,
      whenHale,
    ],
  );
  return <AppContext.Provider value={value}>{props.children}</AppContext.Provider>;
}
