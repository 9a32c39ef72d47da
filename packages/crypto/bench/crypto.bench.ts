/**
 * Crypto micro-benchmarks: `npm run bench:crypto` from the repository root.
 * Each figure runs its operation repeatedly for a bounded time (~1 s; the KDF a few runs) and
 * prints a Markdown table, ready for docs/benchmarks.md.
 */
import { createNodeEd25519 } from '../node/ed25519';
import { cpus, loadavg } from 'node:os';
import {
  deriveAccountKeys,
  generateDeviceKeys,
  generateRootSecret,
  generateStreamKey,
  loadSodiumSecretbox,
  openBytes,
  openRecord,
  PRODUCTION_KDF,
  PRODUCTION_KDF_ARGON2ID,
  safetyNumber,
  sealBytes,
  sealRecord,
  signingMessage,
  tweetnaclEd25519,
  unwrapKey,
  unwrapRootWithPassphrase,
  useSecretbox,
  webCryptoEd25519,
  wrapKey,
  wrapRootWithPassphrase,
} from '@hale/crypto';

const BUDGET_MS = 1000;

interface Measurement {
  ops: number;
  ms: number;
}

async function measure(fn: () => unknown, budgetMs = BUDGET_MS): Promise<Measurement> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < budgetMs) {
    await fn();
    ops++;
    now = performance.now();
  }
  return { ops, ms: now - start };
}

const perSecond = (m: Measurement) => (m.ops * 1000) / m.ms;
const fmt = (n: number) =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2);

const rows: Array<[string, string, string]> = [];
const row = (what: string, figure: string, note = '') => {
  rows.push([what, figure, note]);
  console.error(`  ${what}: ${figure} ${note}`);
};

const recordCtx = (kind: string) => ({
  stream: `Qk3abcdefghijklmnopqrs/${kind}`,
  id: '01HZX3Q4J5K6M7N8P9R0S1T2V3',
  epoch: 1,
  rev: 1,
});
/** 1 MiB of a repeated random 64 KiB pattern, and the context of its chunk. */
const blobChunk = () => {
  const chunk = crypto.getRandomValues(new Uint8Array(65536));
  const blob = new Uint8Array(1024 * 1024).map((_, i) => chunk[i % chunk.length]!);
  return { blob, chunkCtx: { blobId: '01HZX3Q4J5K6M7N8P9R0S1T2V9', chunkIndex: 0, epoch: 1 } };
};

async function records(): Promise<void> {
  const key = generateStreamKey();
  const ctx = recordCtx('lab-result');
  const small = { kind: 'LabResult', note: 'x'.repeat(1024 - 120), value: 5.4, unit: 'mmol/L' };
  const sealedSmall = sealRecord(key, ctx, small);
  row(
    'seal 1 KB record',
    `${fmt(perSecond(await measure(() => sealRecord(key, ctx, small))))} ops/s`,
    `${sealedSmall.length} B sealed`,
  );
  row('open 1 KB record', `${fmt(perSecond(await measure(() => openRecord(key, sealedSmall, ctx))))} ops/s`);
  row(
    'seal + open 1 KB record',
    `${fmt(perSecond(await measure(() => openRecord(key, sealRecord(key, ctx, small), ctx))))} ops/s`,
  );

  const big = { kind: 'HealthDocument', text: 'y'.repeat(1024 * 1024) };
  const mb = (m: Measurement) => `${fmt(perSecond(m))} MiB/s`; // one op = 1 MiB of payload
  row(
    'seal + open 1 MB record',
    mb(await measure(() => openRecord(key, sealRecord(key, ctx, big), ctx))),
    'JSON data',
  );
  const { blob, chunkCtx } = blobChunk();
  row(
    'sealBytes + openBytes 1 MiB chunk',
    mb(await measure(() => openBytes(key, chunkCtx, sealBytes(key, chunkCtx, blob)))),
    'blob chunks',
  );
}

/** The same secretbox formats under each implementation (tweetnacl, the reference, and libsodium's WebAssembly). */
async function secretboxes(): Promise<void> {
  const sodium = await loadSodiumSecretbox();
  if (sodium === null) throw new Error('libsodium did not load');
  const key = generateStreamKey();
  const ctx = recordCtx('allergy');
  const small = { kind: 'Allergy', note: 'x'.repeat(1024 - 120), substance: 'peanut' };
  const { blob, chunkCtx } = blobChunk();
  const sealed = sealRecord(key, ctx, small);
  const cases: Array<[string, () => unknown, (m: Measurement) => string]> = [
    ['seal 1 KB record', () => sealRecord(key, ctx, small), (m) => `${fmt(perSecond(m))} ops/s`],
    ['open 1 KB record', () => openRecord(key, sealed, ctx), (m) => `${fmt(perSecond(m))} ops/s`],
    [
      'sealBytes + openBytes 1 MiB chunk',
      () => openBytes(key, chunkCtx, sealBytes(key, chunkCtx, blob)),
      (m) => `${fmt(perSecond(m))} MiB/s`,
    ],
  ];
  for (const [what, fn, show] of cases) {
    useSecretbox(null);
    const reference = await measure(fn);
    useSecretbox(sodium);
    const fast = await measure(fn);
    useSecretbox(null);
    row(`${what}, tweetnacl`, show(reference));
    row(
      `${what}, libsodium (WebAssembly)`,
      show(fast),
      `${fmt(perSecond(fast) / perSecond(reference))}× tweetnacl`,
    );
  }
}

async function signatures(): Promise<void> {
  const device = generateDeviceKeys();
  const msg = signingMessage('hale/doc/v1', {
    stream: 'Qk3abcdefghijklmnopqrs/note',
    id: '01HZX3Q4J5K6M7N8P9R0S1T2V3',
    rev: 7,
    author: device.deviceId,
  });
  const impls = [webCryptoEd25519, createNodeEd25519(), tweetnaclEd25519];
  const results = new Map<string, { sign: number; verify: number }>();
  for (const ed of impls) {
    const sig = await ed.sign(device.secretKey, msg);
    const sign = perSecond(await measure(() => ed.sign(device.secretKey, msg)));
    const verify = perSecond(await measure(() => ed.verify(device.publicKey, msg, sig)));
    results.set(ed.name, { sign, verify });
  }
  const base = results.get('tweetnacl')!;
  for (const [name, r] of results) {
    const ratio = (x: number, b: number) => (name === 'tweetnacl' ? '' : ` (${fmt(x / b)}× tweetnacl)`);
    row(`Ed25519 sign, ${name}`, `${fmt(r.sign)} ops/s`, ratio(r.sign, base.sign).trim());
    row(`Ed25519 verify, ${name}`, `${fmt(r.verify)} ops/s`, ratio(r.verify, base.verify).trim());
  }
}

async function envelopes(): Promise<void> {
  const recipient = deriveAccountKeys(generateRootSecret()).wrapping;
  const key = generateStreamKey();
  const ctx = { stream: 'Qk3abcdefghijklmnopqrs/allergy', epoch: 3 };
  const envelope = wrapKey(key, recipient.publicKey, ctx);
  row(
    'wrapKey (sealed box to X25519)',
    `${fmt(perSecond(await measure(() => wrapKey(key, recipient.publicKey, ctx))))} ops/s`,
  );
  row('unwrapKey', `${fmt(perSecond(await measure(() => unwrapKey(envelope, recipient, ctx))))} ops/s`);
  const a = deriveAccountKeys(generateRootSecret()).identity.publicKey;
  const b = deriveAccountKeys(generateRootSecret()).identity.publicKey;
  row(
    'safetyNumber (2 × 5200 SHA-256)',
    `${fmt(1000 / perSecond(await measure(() => safetyNumber(a, b))))} ms`,
  );
}

async function kdf(): Promise<void> {
  const root = generateRootSecret();
  const time = async (fn: () => Promise<unknown>, runs: number) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await fn();
      times.push(performance.now() - start);
    }
    return times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
  };
  let blob = await wrapRootWithPassphrase(root, 'correct horse battery staple', PRODUCTION_KDF);
  const wrapMs = await time(async () => {
    blob = await wrapRootWithPassphrase(root, 'correct horse battery staple', PRODUCTION_KDF);
  }, 3);
  const unwrapMs = await time(() => unwrapRootWithPassphrase(blob, 'correct horse battery staple'), 3);
  row('wrapRootWithPassphrase, scrypt N=2^17 r=8 p=1 (PRODUCTION_KDF)', `${fmt(wrapMs)} ms`, 'median of 3');
  row('unwrapRootWithPassphrase, same parameters', `${fmt(unwrapMs)} ms`, 'median of 3');
  const argonMs = await time(() => wrapRootWithPassphrase(root, 'pw', PRODUCTION_KDF_ARGON2ID), 1);
  row('wrapRootWithPassphrase, argon2id m=64 MiB t=3 (alternative)', `${fmt(argonMs)} ms`, '1 run');
}

console.error(
  `@hale/crypto benchmark — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
);
await records();
await secretboxes();
await signatures();
await envelopes();
await kdf();

const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' / ');
console.log(
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${new Date().toISOString().slice(0, 10)}, load average ${load} (1/5/15 min)\n`,
);
console.log('| operation | result | note |');
console.log('|---|---:|---|');
for (const [what, figure, note] of rows) console.log(`| ${what} | ${figure} | ${note} |`);
