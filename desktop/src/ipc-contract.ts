/**
 * Every IPC channel between the renderer (through the preload's one bridge) and main, defined once with
 * runtime schemas: main checks each request against `request` before a handler sees it, and the preload
 * checks each answer against `result` before the page does.
 *
 * | channel | request | result |
 * |---|---|---|
 * | `hale:notify` | `{ title, body }` | null |
 * | `hale:save-file` | `{ suggestedName, data: bytes ≤ 200 MiB, filterName?, extensions? }` | `{ saved, path? }` |
 * | `hale:vault-get` / `-set` / `-delete` | `{ key }` / `{ key, value }` / `{ key }` | string \| null / null / null |
 * | `hale:app-version` | `{}` | the version |
 * | `hale:print-emergency-card` | `{ suggestedName }` | `{ saved, path? }` (the window as a one-page PDF) |
 * | `hale:reminders` | `{ words: { title, day, hour, dose }, starts, doses: epoch ms[] ≤ 50 each }` | null (main reminds; reminders.ts) |
 *
 * Main → renderer: `hale:lock` (no payload) when the OS suspends or locks the screen.
 * Every answer is `IpcAnswer`: `{ ok: true, value }` or `{ ok: false, code, message }` with a code of
 * DESKTOP_ERROR_CODES, never a thrown Error (Electron would send its message and stack across).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;
/** A file name without a directory part: the dialog picks the folder. */
const FileName = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^/\\\\\\x00-\\x1f]+$' });
const VaultKey = Type.String({ minLength: 1, maxLength: 200 });
const Saved = Type.Object(
  { saved: Type.Boolean(), path: Type.Optional(Type.String({ maxLength: 4096 })) },
  closed,
);

/** Start times of confirmed appointments (and, apart, due times of doses) handed at once: the nearest. */
export const MAX_REMINDER_STARTS = 50;
const Words = Type.String({ minLength: 1, maxLength: 200 });
/** A moment as ms since 1970, within the range of a JavaScript Date. */
const EpochMs = Type.Integer({ minimum: 0, maximum: 8_640_000_000_000_000 });

export const MAX_SAVE_BYTES = 200 * 1024 * 1024;
/** A vault value: the account record (a passphrase wrap and a sealed key), a few KiB; room to grow. */
export const MAX_VAULT_VALUE_CHARS = 1024 * 1024;

export const IPC_CHANNELS = {
  'hale:notify': {
    request: Type.Object(
      { title: Type.String({ minLength: 1, maxLength: 100 }), body: Type.String({ maxLength: 500 }) },
      closed,
    ),
    result: Type.Null(),
  },
  'hale:save-file': {
    request: Type.Object(
      {
        suggestedName: FileName,
        data: Type.Uint8Array({ maxByteLength: MAX_SAVE_BYTES }),
        filterName: Type.Optional(Type.String({ maxLength: 60 })),
        extensions: Type.Optional(
          Type.Array(Type.String({ pattern: '^[A-Za-z0-9]{1,10}$' }), { maxItems: 5 }),
        ),
      },
      closed,
    ),
    result: Saved,
  },
  'hale:vault-get': {
    request: Type.Object({ key: VaultKey }, closed),
    result: Type.Union([Type.String(), Type.Null()]),
  },
  'hale:vault-set': {
    request: Type.Object({ key: VaultKey, value: Type.String({ maxLength: MAX_VAULT_VALUE_CHARS }) }, closed),
    result: Type.Null(),
  },
  'hale:vault-delete': { request: Type.Object({ key: VaultKey }, closed), result: Type.Null() },
  'hale:app-version': { request: Type.Object({}, closed), result: Type.String({ maxLength: 64 }) },
  'hale:print-emergency-card': {
    request: Type.Object({ suggestedName: FileName }, closed),
    result: Saved,
  },
  'hale:reminders': {
    request: Type.Object(
      {
        /** The fixed words of the renderer's language: nothing of any appointment or medicine. */
        words: Type.Object({ title: Words, day: Words, hour: Words, doseTitle: Words, dose: Words }, closed),
        /** Start times (ms since 1970) of confirmed appointments: nothing else of them. */
        starts: Type.Array(EpochMs, { maxItems: MAX_REMINDER_STARTS }),
        /** Times (ms since 1970) a scheduled dose of a medicine is due: nothing else of the medicine. */
        doses: Type.Array(EpochMs, { maxItems: MAX_REMINDER_STARTS }),
      },
      closed,
    ),
    result: Type.Null(),
  },
} as const satisfies Record<string, { request: TSchema; result: TSchema }>;

export type IpcChannel = keyof typeof IPC_CHANNELS;
export type IpcRequest<C extends IpcChannel> = Static<(typeof IPC_CHANNELS)[C]['request']>;
export type IpcResult<C extends IpcChannel> = Static<(typeof IPC_CHANNELS)[C]['result']>;

export const LOCK_CHANNEL = 'hale:lock';

/** Append-only. */
export const DESKTOP_ERROR_CODES = [
  /** The channel is none of IPC_CHANNELS. */
  'UNKNOWN_CHANNEL',
  /** The request does not match the channel's schema. */
  'BAD_REQUEST',
  /** The request came from a page that is not the app's. */
  'FORBIDDEN_SENDER',
  /** The OS offers no encryption for the vault (`safeStorage`): nothing was stored. */
  'VAULT_UNAVAILABLE',
  /** The vault file could not be read or written (disk full, permissions). */
  'VAULT_IO',
  /** An entry of the vault does not decrypt (another user's, or the OS key changed). */
  'VAULT_CORRUPT',
  /** Anything else the handler failed with; the main process logged it. */
  'FAILED',
] as const;
export type DesktopErrorCode = (typeof DESKTOP_ERROR_CODES)[number];

export const IpcAnswer = Type.Union([
  Type.Object({ ok: Type.Literal(true), value: Type.Unknown() }, closed),
  Type.Object(
    {
      ok: Type.Literal(false),
      code: Type.Union(DESKTOP_ERROR_CODES.map((c) => Type.Literal(c))),
      message: Type.String({ maxLength: 500 }),
    },
    closed,
  ),
]);
export type IpcAnswer = Static<typeof IpcAnswer>;

export const isIpcChannel = (channel: unknown): channel is IpcChannel =>
  typeof channel === 'string' && Object.prototype.hasOwnProperty.call(IPC_CHANNELS, channel);
