// Revocation with key rotation must cost the same whatever the number of records in the affected
// streams: rotation mints one key and wraps it per remaining holder; history is not re-encrypted.
// Run: npm run bench:rotation   (prints a table, then one JSON line)
import { randomBytes } from 'node:crypto';
import { newId } from '@hale/model';
import { registerAccount, startServer, type TestServer } from '@hale/sync-server/testing';
import { openDevice, waitOnline } from '../support/devices';

const SIZES = [1_000, 100_000];
const REPS = 5;

const fill = async (t: TestServer, stream: string, author: string, n: number): Promise<void> => {
  // Records are opaque to rotation; write them straight into the server store in large batches.
  for (let done = 0; done < n; done += 5_000) {
    const rows = [];
    for (let i = done; i < Math.min(n, done + 5_000); i++) {
      const ct = randomBytes(1024);
      rows.push({
        doc: {
          stream,
          id: newId(),
          rev: `1-${'0'.repeat(24)}`,
          deleted: false,
          epoch: 0,
          ct,
          size: ct.length,
          author,
        },
        assumedRev: null,
      });
    }
    await t.store.docs.writeDocs(rows, new Date().toISOString());
  }
};

const measure = async (records: number) => {
  const t = await startServer({ realClock: true });
  try {
    const patient = await registerAccount(t);
    const p = await openDevice(t, patient);
    await waitOnline(p);
    const stream = `${patient.accountId}/lab-result`;
    await fill(t, stream, patient.device.deviceId, records);
    const head = (await t.store.docs.streamHeads([stream]))[0]?.head ?? 0;
    const times: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const provider = await registerAccount(t, 'provider');
      const stay = await registerAccount(t, 'provider');
      const grant = await p.consent.grant({
        granteeId: provider.accountId,
        scope: [{ type: 'lab-result', access: 'read' }],
        durationMs: 3600_000,
        purpose: 'bench',
      });
      await p.consent.grant({
        granteeId: stay.accountId,
        scope: [{ type: 'lab-result', access: 'read' }],
        durationMs: 3600_000,
        purpose: 'bench',
      });
      const start = performance.now();
      await p.consent.revoke(grant.grant.grantId);
      times.push(performance.now() - start);
    }
    await p.close();
    times.sort((a, b) => a - b);
    return {
      records: head,
      medianMs: times[Math.floor(times.length / 2)]!,
      minMs: times[0]!,
      maxMs: times[times.length - 1]!,
    };
  } finally {
    await t.stop();
  }
};

const results = [];
for (const n of SIZES) results.push(await measure(n));
console.log('revocation + rotation (server revoke, new epoch, envelopes for remaining holders)');
console.log('records in stream | median ms | min ms | max ms');
for (const r of results)
  console.log(
    `${String(r.records).padStart(17)} | ${r.medianMs.toFixed(1).padStart(9)} | ${r.minMs.toFixed(1).padStart(6)} | ${r.maxMs.toFixed(1).padStart(6)}`,
  );
const ratio = results[1]!.medianMs / results[0]!.medianMs;
console.log(
  `ratio ${results[1]!.records} / ${results[0]!.records} records: ${ratio.toFixed(2)} (1.0 = independent of record count)`,
);
console.log(JSON.stringify({ rotation: results, ratio }));
process.exit(0);
