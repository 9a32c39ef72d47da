/**
 * The browser's WebSocket as @hale/client's `WebSocketLike`: text frames only (a binary frame is not part
 * of the protocol and is dropped before the client sees it), close code and reason passed through.
 * `onText` sees each text frame first (diagnostics, tests); it must not throw.
 */
import type { WebSocketFactory, WebSocketLike } from '@hale/client';

/** The browser's WebSocket constructor: its sockets already have `WebSocketLike`'s shape. */
export type BrowserSocketConstructor = new (url: string) => WebSocketLike;

export const browserWebSocket =
  (
    WebSocket: BrowserSocketConstructor,
    options: { onText?: (text: string) => void } = {},
  ): WebSocketFactory =>
  (url: string): WebSocketLike => {
    const ws = new WebSocket(url);
    const like: WebSocketLike = {
      get readyState() {
        return ws.readyState;
      },
      send: (data: string) => ws.send(data),
      close: (code?: number, reason?: string) => ws.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    ws.onopen = (ev) => like.onopen?.(ev);
    ws.onclose = (ev) => like.onclose?.({ code: ev.code, reason: ev.reason });
    ws.onerror = (ev) => like.onerror?.(ev);
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      options.onText?.(ev.data);
      like.onmessage?.({ data: ev.data });
    };
    return like;
  };
