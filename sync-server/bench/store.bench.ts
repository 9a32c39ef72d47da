// Micro-benchmark of the SQLite store: writeDocs and readDocs throughput for 20k × 1 KiB documents.
// Run: npx tsx sync-server/bench/store.bench.ts [docs] [batch]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/index';

const DOCS = Number(process.argv[2] ?? 20_000);
const BATCH = Number(process.argv[3] ?? 500);
const CT_BYTES = 1024;
const PAGE_DOCS = 1000;
const PAGE_BYTES = 4 * 1024 * 1024;
const STREAM = 'bench-patient/lab-result';

const dir = mkdtempSync(join(tmpdir(), 'hale-store-bench-'));
const store = await openSqliteStore({ dataDir: dir });
try {
  const ct = new Uint8Array(CT_BYTES);
  crypto.getRandomValues(ct);
  const now = new Date().toISOString();

  const writeStart = performance.now();
  for (let offset = 0; offset < DOCS; offset += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, DOCS - offset) }, (_, i) => ({
      doc: {
        stream: STREAM,
        id: `doc-${String(offset + i).padStart(8, '0')}`,
        rev: '1-0123456789abcdef01234567',
        deleted: false,
        epoch: 1,
        ct,
        size: CT_BYTES,
        author: 'bench-device',
        sig: 'x'.repeat(86),
      },
      assumedRev: null,
    }));
    await store.docs.writeDocs(rows, now);
  }
  const writeSeconds = (performance.now() - writeStart) / 1000;

  const readStart = performance.now();
  let since = 0;
  let read = 0;
  let bytes = 0;
  for (;;) {
    const page = await store.docs.readDocs(STREAM, since, PAGE_DOCS, PAGE_BYTES);
    read += page.docs.length;
    for (const doc of page.docs) bytes += doc.ct.byteLength;
    since = page.checkpoint;
    if (page.done) break;
  }
  const readSeconds = (performance.now() - readStart) / 1000;
  if (read !== DOCS) throw new Error(`read ${read} documents, expected ${DOCS}`);

  const mb = (DOCS * CT_BYTES) / 1024 / 1024;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`store bench: ${fmt(DOCS)} docs × ${CT_BYTES} B, SQLite WAL synchronous=FULL in ${dir}`);
  console.log(
    `writeDocs  batch ${BATCH}: ${fmt(DOCS / writeSeconds)} docs/s, ${(mb / writeSeconds).toFixed(1)} MB/s (${writeSeconds.toFixed(2)} s)`,
  );
  console.log(
    `readDocs   page ${PAGE_DOCS}: ${fmt(read / readSeconds)} docs/s, ${(bytes / 1024 / 1024 / readSeconds).toFixed(1)} MB/s (${readSeconds.toFixed(2)} s)`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
