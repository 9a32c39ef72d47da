// A device's network as a test shapes it: every frame the server sends the device passes through
// `delayIn`, every frame the device sends through `delayOut` (milliseconds; 0 = as it comes), in order per
// direction, and `cut()` drops the socket as a lost network does. Injected at the platform's WebSocket
// factory, so the session under test is the one `openHale` builds.
import type { Platform, WebSocketLike } from '@hale/client';

export interface ShapedNetwork {
  /** Delay of the next frame from the server (its text given); called once per frame. */
  delayIn: (frame: string) => number;
  /** Delay of the next frame to the server. */
  delayOut: (frame: string) => number;
  /** Closes the open socket as a dropped network would (the session reconnects on its own). */
  cut(): void;
}

/** `platform` with its WebSocket factory shaped by `network` (delays default to none). */
export const shapedPlatform = (platform: Platform): { platform: Platform; network: ShapedNetwork } => {
  let open: WebSocketLike | null = null;
  const network: ShapedNetwork = {
    delayIn: () => 0,
    delayOut: () => 0,
    cut: () => open?.close(4000, 'network cut by the test'),
  };
  const createWebSocket = (url: string): WebSocketLike => {
    const inner = platform.createWebSocket(url);
    open = inner;
    // Frames keep their order per direction: each waits for the one before it.
    let inTail = Promise.resolve();
    let outTail = Promise.resolve();
    const later = (tail: Promise<void>, ms: number, f: () => void): Promise<void> =>
      tail.then(() => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : undefined)).then(f);
    const outer: WebSocketLike = {
      get readyState() {
        return inner.readyState;
      },
      send(data: string) {
        const ms = network.delayOut(data);
        outTail = later(outTail, ms, () => {
          if (inner.readyState === 1) inner.send(data);
        });
      },
      close: (code, reason) => inner.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    inner.onopen = (ev) => outer.onopen?.(ev);
    inner.onerror = (ev) => outer.onerror?.(ev);
    // A close overtakes no frame delivered before it.
    inner.onclose = (ev) => void inTail.then(() => outer.onclose?.(ev));
    inner.onmessage = (ev) => {
      const ms = network.delayIn(typeof ev.data === 'string' ? ev.data : '');
      inTail = later(inTail, ms, () => outer.onmessage?.(ev));
    };
    return outer;
  };
  return { platform: { ...platform, createWebSocket }, network };
};
