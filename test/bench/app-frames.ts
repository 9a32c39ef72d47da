/**
 * The page's WebSocket frames around one step of `npm run bench:app` (`--frames`): CDP `Network` events,
 * stamped with this process's wall clock as they come, each frame's type (`t`) and size. Printed as a
 * timeline relative to a given wall-clock time, gaps over `gapMs` marked, to see what the page waited for.
 */
import type { Page } from '@playwright/test';

export interface Frame {
  readonly at: number;
  readonly dir: 'in' | 'out';
  readonly t: string;
  readonly bytes: number;
}

const typeOf = (payload: string): string => /"t":"([^"]{1,40})"/.exec(payload)?.[1] ?? '?';

/** Starts recording; answers the function that stops and answers the frames. */
export async function recordFrames(page: Page): Promise<() => Promise<Frame[]>> {
  const cdp = await page.context().newCDPSession(page);
  const frames: Frame[] = [];
  const on = (dir: 'in' | 'out') => (e: { response: { payloadData: string } }) =>
    frames.push({
      at: Date.now(),
      dir,
      t: typeOf(e.response.payloadData),
      bytes: e.response.payloadData.length,
    });
  cdp.on('Network.webSocketFrameReceived', on('in'));
  cdp.on('Network.webSocketFrameSent', on('out'));
  await cdp.send('Network.enable');
  return async () => {
    await cdp.detach();
    return frames;
  };
}

/** The frames as lines (ms from `origin`), runs of one type folded, gaps of `gapMs` or more marked. */
export function timeline(frames: readonly Frame[], origin: number, gapMs = 200): string {
  const lines: string[] = [];
  let run: { from: number; to: number; key: string; n: number; bytes: number } | null = null;
  const flush = () => {
    if (run)
      lines.push(
        `    ${String(run.from - origin).padStart(7)}..${String(run.to - origin).padEnd(7)} ${run.key} ×${run.n} (${run.bytes} B)`,
      );
  };
  let last: number | null = null;
  for (const f of frames) {
    const key = `${f.dir} ${f.t}`;
    if (last !== null && f.at - last >= gapMs) {
      flush();
      run = null;
      lines.push(`    -- no frame for ${f.at - last} ms --`);
    }
    last = f.at;
    if (run && run.key === key) {
      run.to = f.at;
      run.n++;
      run.bytes += f.bytes;
    } else {
      flush();
      run = { from: f.at, to: f.at, key, n: 1, bytes: f.bytes };
    }
  }
  flush();
  return lines.join('\n');
}
