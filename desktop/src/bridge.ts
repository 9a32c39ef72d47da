/**
 * The one object the preload gives the page (`window.hale`): a few named calls, each over one fixed IPC
 * channel, with its answer checked before the page gets it. The page cannot name a channel.
 *
 * `vault` is `@hale/client`'s `Vault` (checked by `satisfies`), so the app uses it as its platform vault in
 * Electron: `{ ...webPlatform(…), vault: window.hale.vault }`.
 */
import { Value } from '@sinclair/typebox/value';
import type { Vault } from '@hale/client';
import {
  IPC_CHANNELS,
  IpcAnswer,
  LOCK_CHANNEL,
  type DesktopErrorCode,
  type IpcChannel,
  type IpcRequest,
  type IpcResult,
} from './ipc-contract';

/** The parts of Electron's `ipcRenderer` the bridge uses. */
export interface IpcRendererLike {
  invoke(channel: string, request: unknown): Promise<unknown>;
  on(channel: string, listener: () => void): void;
  removeListener(channel: string, listener: () => void): void;
}

export class DesktopBridgeError extends Error {
  constructor(
    readonly code: DesktopErrorCode | 'BAD_ANSWER',
    message: string,
  ) {
    super(message);
    this.name = 'DesktopBridgeError';
  }
}

export interface HaleDesktopBridge {
  readonly platform: 'electron';
  notify(title: string, body: string): Promise<void>;
  saveFile(input: IpcRequest<'hale:save-file'>): Promise<IpcResult<'hale:save-file'>>;
  readonly vault: Vault;
  appVersion(): Promise<string>;
  /**
   * Hands main the start times of the confirmed appointments and the times doses are due (ms since 1970),
   * and the fixed words to remind with; main shows them a day and an hour before an appointment and at a
   * dose's time, also while the page is locked. Replaces the last lists.
   */
  setReminders(
    words: IpcRequest<'hale:reminders'>['words'],
    starts: readonly number[],
    doses: readonly number[],
  ): Promise<void>;
  /** The current window as a PDF (print stylesheet, A4), saved where the person chooses. */
  printEmergencyCard(suggestedName?: string): Promise<IpcResult<'hale:print-emergency-card'>>;
  /** Called when the OS suspends or locks the screen; returns the function that stops it. */
  onLock(listener: () => void): () => void;
}

export function createBridge(ipc: IpcRendererLike): HaleDesktopBridge {
  const call = async <C extends IpcChannel>(channel: C, request: IpcRequest<C>): Promise<IpcResult<C>> => {
    const answer = await ipc.invoke(channel, request);
    if (!Value.Check(IpcAnswer, answer))
      throw new DesktopBridgeError('BAD_ANSWER', `${channel}: unexpected answer`);
    if (!answer.ok) throw new DesktopBridgeError(answer.code, answer.message);
    const result: unknown = answer.value;
    if (!Value.Check(IPC_CHANNELS[channel].result, result)) {
      throw new DesktopBridgeError('BAD_ANSWER', `${channel}: unexpected answer`);
    }
    return result;
  };
  const vault = {
    get: (key: string) => call('hale:vault-get', { key }),
    set: async (key: string, value: string) => {
      await call('hale:vault-set', { key, value });
    },
    delete: async (key: string) => {
      await call('hale:vault-delete', { key });
    },
  } satisfies Vault;
  return {
    platform: 'electron',
    notify: async (title, body) => {
      await call('hale:notify', { title, body });
    },
    saveFile: (input) => call('hale:save-file', input),
    setReminders: async (words, starts, doses) => {
      await call('hale:reminders', { words: { ...words }, starts: [...starts], doses: [...doses] });
    },
    vault,
    appVersion: () => call('hale:app-version', {}),
    printEmergencyCard: (suggestedName = 'emergency-card.pdf') =>
      call('hale:print-emergency-card', { suggestedName }),
    onLock: (listener) => {
      const handler = (): void => listener();
      ipc.on(LOCK_CHANNEL, handler);
      return () => ipc.removeListener(LOCK_CHANNEL, handler);
    },
  } satisfies HaleDesktopBridge;
}
