/**
 * `<HaleProvider session={…}>` makes an open `HaleSession` available to the hooks below it.
 *
 * Failure modes: a hook used outside a provider throws `HaleProviderMissing` (a programming error, not an
 * expected failure); a provider whose session is `null` (locked) renders its children, and every hook
 * below it throws, so a locked app must render its lock screen instead of the chart.
 */
import { createContext, useContext, type ReactNode } from 'react';
import type { HaleSession } from '@hale/client';

const SessionContext = createContext<HaleSession | null>(null);

export function HaleProvider(props: {
  readonly session: HaleSession;
  readonly children?: ReactNode;
}): ReactNode {
  return <SessionContext.Provider value={props.session}>{props.children}</SessionContext.Provider>;
}

export class HaleProviderMissing extends Error {
  override readonly name = 'HaleProviderMissing';
  constructor() {
    super('A Hale hook was used outside <HaleProvider session={…}>.');
  }
}

/** The session of the nearest provider. */
export function useHaleSession(): HaleSession {
  const session = useContext(SessionContext);
  if (session === null) throw new HaleProviderMissing();
  return session;
}
