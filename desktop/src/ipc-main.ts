/**
 * The main process's side of IPC: one dispatcher in front of every handler.
 *
 * | check, in order | refusal |
 * |---|---|
 * | the channel is one of IPC_CHANNELS | UNKNOWN_CHANNEL |
 * | the sending frame's origin is the app's (`isAppUrl`) | FORBIDDEN_SENDER |
 * | the request matches the channel's schema | BAD_REQUEST (the first issue's path) |
 * | the handler ran | its DesktopError's code, else FAILED (logged, not sent) |
 *
 * Invariants: handlers receive only checked requests; nothing thrown crosses to the renderer (answers are
 * `IpcAnswer`); a handler's result is checked against the channel's result schema too (FAILED otherwise).
 */
import { Value } from '@sinclair/typebox/value';
import {
  IPC_CHANNELS,
  isIpcChannel,
  type DesktopErrorCode,
  type IpcAnswer,
  type IpcChannel,
  type IpcRequest,
  type IpcResult,
} from './ipc-contract';

export class DesktopError extends Error {
  constructor(
    readonly code: DesktopErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DesktopError';
  }
}

export type IpcHandlers = {
  [C in IpcChannel]: (request: IpcRequest<C>) => Promise<IpcResult<C>>;
};

/** What of an IPC event the dispatcher reads. */
export interface IpcSender {
  readonly senderFrame?: { readonly url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcSender, request: unknown) => Promise<IpcAnswer>): void;
}

const refuse = (code: DesktopErrorCode, message: string): IpcAnswer => ({ ok: false, code, message });

export function createIpcDispatcher(options: {
  readonly handlers: IpcHandlers;
  readonly isAppUrl: (url: string) => boolean;
  readonly log?: (message: string, error: unknown) => void;
}): (channel: string, event: IpcSender, request: unknown) => Promise<IpcAnswer> {
  return async (channel, event, request) => {
    if (!isIpcChannel(channel)) return refuse('UNKNOWN_CHANNEL', 'no such channel');
    const url = event.senderFrame?.url;
    if (url === undefined || !options.isAppUrl(url)) {
      return refuse('FORBIDDEN_SENDER', 'only the app may call the desktop bridge');
    }
    const contract = IPC_CHANNELS[channel];
    if (!Value.Check(contract.request, request)) {
      const first = Value.Errors(contract.request, request).First();
      return refuse(
        'BAD_REQUEST',
        `${channel}: ${first?.path || '/'} ${first?.message ?? 'is not valid'}`.slice(0, 500),
      );
    }
    try {
      const handler = options.handlers[channel] as (r: unknown) => Promise<unknown>;
      const value = await handler(request);
      if (!Value.Check(contract.result, value)) {
        options.log?.(`${channel}: handler answered outside its schema`, value);
        return refuse('FAILED', `${channel} failed`);
      }
      return { ok: true, value };
    } catch (error) {
      if (error instanceof DesktopError) return refuse(error.code, error.message.slice(0, 500));
      options.log?.(`${channel} failed`, error);
      return refuse('FAILED', `${channel} failed`);
    }
  };
}

/** Registers the dispatcher for every channel of IPC_CHANNELS (and only those). */
export function registerIpc(
  ipcMain: IpcMainLike,
  dispatch: (channel: string, event: IpcSender, request: unknown) => Promise<IpcAnswer>,
): void {
  for (const channel of Object.keys(IPC_CHANNELS)) {
    ipcMain.handle(channel, (event, request) => dispatch(channel, event, request));
  }
}
