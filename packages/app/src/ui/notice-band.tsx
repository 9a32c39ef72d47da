/**
 * Where the app's notices (ui/notice.ts) are drawn, so that one never covers a control: a band in the
 * page's flow that pushes the screen down while a notice shows, at every width. The open app's frame
 * (layout/app-layout.tsx) draws it under its header, above the screen (`HostedNotices`); on every other
 * page (start, unlock, a link's viewer) the root draws it below the page (`RootNotices`), so a notice that
 * comes while a person fills a form there (the first load's "works offline") moves no control.
 *
 * Invariants:
 * - One `Notifications` is mounted at a time: the root's gives way once the frame hosts the band.
 * - A notice is never `position: fixed`: nothing of the page lies under it.
 */
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Notifications } from '@mantine/notifications';

const AUTO_CLOSE_MS = 3000;

interface Host {
  readonly hosted: boolean;
  readonly setHosted: (hosted: boolean) => void;
}

const HostContext = createContext<Host>({ hosted: false, setHosted: () => undefined });

/** The band: Mantine's container taken out of its fixed place, as wide as a form at most. */
function Band(props: { readonly place: 'page' | 'frame' }): ReactNode {
  return (
    <div className="hale-notice-band" data-place={props.place} data-testid="notice-band">
      <Notifications
        withinPortal={false}
        position="top-center"
        limit={1}
        autoClose={AUTO_CLOSE_MS}
        styles={{
          root: {
            position: 'static',
            transform: 'none',
            width: '100%',
            maxWidth: '40rem',
            margin: props.place === 'page' ? '0 auto' : 0,
          },
        }}
      />
    </div>
  );
}

/** The root's band, below any page the frame does not host. */
export function RootNotices(props: { readonly children: ReactNode }): ReactNode {
  const [hosted, setHosted] = useState(false);
  const host = useMemo(() => ({ hosted, setHosted }), [hosted]);
  return (
    <HostContext.Provider value={host}>
      {props.children}
      {!hosted && <Band place="page" />}
    </HostContext.Provider>
  );
}

/** The frame's band, drawn where the caller puts it once the root has given it up. */
export function HostedNotices(): ReactNode {
  const { hosted, setHosted } = useContext(HostContext);
  useEffect(() => {
    setHosted(true);
    return () => setHosted(false);
  }, [setHosted]);
  return hosted ? <Band place="frame" /> : null;
}
