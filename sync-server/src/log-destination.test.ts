// The log destination over a real pipe (a FIFO): lines arrive in order; a reader that stops reading
// blocks nothing and costs bounded memory (lines past the cap are dropped, counted and reported once the
// reader catches up); a reader that is gone (EPIPE) retires the destination without an exception.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogDestination } from './log-destination';

const open: number[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const fd of open.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      /* closed by the test */
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A FIFO with a non-blocking read end and a blocking write end (like a shell pipe's). */
const pipe = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hale-log-dest-'));
  dirs.push(dir);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  open.push(reader, writer);
  return { fifo, reader, writer };
};

/** Everything readable right now. */
const readNow = (fd: number): Buffer => {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw error;
    }
  }
  return Buffer.concat(parts);
};

/** Reads until `done(all bytes so far)` holds (the test's own timeout bounds it). */
const readUntil = async (fd: number, done: (all: Buffer) => boolean): Promise<Buffer> => {
  let all = Buffer.alloc(0);
  while (!done(all)) {
    all = Buffer.concat([all, readNow(fd)]);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return all;
};

const line = (i: number, size = 1024): string => {
  const head = `{"i":${i},"pad":"`;
  return `${head}${'x'.repeat(size - head.length - 3)}"}\n`;
};

describe('createLogDestination', () => {
  it('writes every line, in order', async () => {
    const p = pipe();
    const d = createLogDestination(p.writer);
    const lines = Array.from({ length: 500 }, (_, i) => line(i, 100));
    for (const l of lines) d.write(l);
    const expected = lines.join('');
    const got = await readUntil(p.reader, (all) => all.length >= expected.length);
    expect(got.toString('utf8')).toBe(expected);
    await d.settle(10_000);
    expect(d.dropped).toBe(0);
    expect(d.failure).toBe(null);
  });

  it('a reader that stops reading blocks nothing: lines past the cap are dropped, counted and reported', async () => {
    const p = pipe();
    // Fill the pipe through a non-blocking second write end, so the destination's next write blocks.
    const filler = openSync(p.fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    open.push(filler);
    let filled = 0;
    for (;;) {
      try {
        filled += writeSync(filler, Buffer.alloc(4096, 0x2e));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw error;
      }
    }
    const reports: number[] = [];
    const d = createLogDestination(p.writer, {
      maxBufferBytes: 16 * 1024,
      onDropped: (n) => reports.push(n),
    });
    // 100 lines of 1 KiB: the first is being written (blocked), it and 15 more fill the 16 KiB.
    for (let i = 0; i < 100; i++) d.write(line(i));
    expect(d.dropped).toBe(84);
    // The bounded flush gives up on a reader that does not read.
    await d.settle(50);
    expect(reports).toEqual([]);

    // The reader catches up: the kept lines arrive whole and in order, and the gap is reported once.
    const kept = Array.from({ length: 16 }, (_, i) => line(i)).join('');
    const got = await readUntil(p.reader, (all) => all.length >= filled + kept.length && reports.length > 0);
    expect(got.subarray(filled).toString('utf8')).toBe(kept);
    expect(reports).toEqual([84]);
    d.write(line(100));
    expect((await readUntil(p.reader, (all) => all.length >= 1024)).toString('utf8')).toBe(line(100));
    expect(reports).toEqual([84]);
    expect(d.failure).toBe(null);
  });

  it('a reader that is gone (EPIPE) retires the destination: no exception, later lines are dropped', async () => {
    const p = pipe();
    const d = createLogDestination(p.writer);
    // Closed here, so not again after the test (its number may be in use by then).
    open.splice(open.indexOf(p.reader), 1);
    closeSync(p.reader);
    d.write(line(0));
    await d.settle(10_000);
    expect(d.failure?.code).toBe('EPIPE');
    expect(d.dropped).toBe(1);
    expect(() => d.write(line(1))).not.toThrow();
    expect(d.dropped).toBe(2);
    await d.settle(10_000);
  });
});
