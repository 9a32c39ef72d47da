// A table that scrolls sideways on narrow screens: a focusable, named region, so keyboard users can scroll it.
import type { ReactNode } from 'react';

export function ScrollTable(props: {
  readonly label: string;
  readonly minWidth: number;
  readonly children: ReactNode;
}): ReactNode {
  return (
    <div role="region" aria-label={props.label} tabIndex={0} style={{ overflowX: 'auto' }}>
      <div style={{ minWidth: props.minWidth }}>{props.children}</div>
    </div>
  );
}
