/**
 * A device vault in one JSON file, for Node hosts (a CLI, a server-side agent, Electron's main process).
 *
 * | invariant | how |
 * |---|---|
 * | a write that resolved is on disk | written to a temporary file, fsynced, renamed over the vault, directory fsynced |
 * | a crash never leaves half a vault | the rename is atomic: the old file or the new one |
 * | writes never interleave | one queue per vault object |
 *
 * Failure modes: an unreadable or malformed file rejects `get` with VaultFileError VAULT_UNREADABLE (never
 * read as empty: that would offer to create a second account); a failed write rejects VAULT_WRITE_FAILED
 * and leaves the previous file.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { HaleError, type Vault } from '@hale/client';

export type VaultFileErrorCode = 'VAULT_UNREADABLE' | 'VAULT_WRITE_FAILED';

export class VaultFileError extends HaleError {
  constructor(
    readonly code: VaultFileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VaultFileError';
  }
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v as Record<string, unknown>).every((x) => typeof x === 'string');

export function fileVault(file: string): Vault {
  let queue: Promise<unknown> = Promise.resolve();
  const read = async (): Promise<Record<string, string>> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return {};
      throw new VaultFileError('VAULT_UNREADABLE', `the vault ${file} could not be read`, { cause: e });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new VaultFileError('VAULT_UNREADABLE', `the vault ${file} is not JSON`, { cause: e });
    }
    if (!isStringRecord(parsed))
      throw new VaultFileError('VAULT_UNREADABLE', `the vault ${file} is malformed`);
    return parsed;
  };
  const write = async (data: Record<string, string>): Promise<void> => {
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(data));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
      const dir = await open(path.dirname(file), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new VaultFileError('VAULT_WRITE_FAILED', `the vault ${file} could not be written`, { cause: e });
    }
  };
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const next = queue.then(job, job);
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    get: (key) => serial(async () => (await read())[key] ?? null),
    set: (key, value) =>
      serial(async () => {
        const data = await read();
        await write({ ...data, [key]: value });
      }),
    delete: (key) =>
      serial(async () => {
        const data = await read();
        if (!(key in data)) return;
        const { [key]: _gone, ...rest } = data;
        await write(rest);
      }),
  };
}
