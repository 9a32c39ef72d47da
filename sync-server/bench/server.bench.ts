// Sync server benchmark: idle authenticated WebSockets (server RSS), live fan-out latency to 500
// subscribers, and pull throughput of a 100k-document stream. Run: npm run bench:server
//
// The server runs as a child process (`node --import tsx sync-server/src/main.ts`, which is what the
// `tsx` CLI does minus its wrapper process) on a free loopback port with a temporary HALE_DATA_DIR, so
// /proc/<pid>/status gives its RSS apart from the client sockets held by this process. Both processes
// share the machine's 2 cores: client work (frame parsing, signing) competes with the server and is part
// of every latency and throughput figure. The child keeps its production rate limits (the defaults of
// `--rate-per-device` and `--rate-per-address`, so the figures are what a default install does), so
// clients spread over loopback source addresses (127.1.x.y, at most 50 connections each)
// to keep the per-address limit (100 frames/s, burst 200) from throttling hello/auth, and over several
// devices to stay under the per-device limit (200 frames/s, burst 400).
// The last line printed is one JSON object with every figure.
// Optional: HALE_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" passes node flags to the server
// child (profiling); HALE_BENCH_PHASES=idle,fanout,pull picks the parts to run (default all three).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_DOCS,
  authSignaturePayload,
  decodeServerFrame,
  encodeFrame,
  type ClientFrame,
  type PushDoc,
  type ServerFrame,
} from '@hale/protocol';
import { generateDeviceKeys, hexEncode } from '@hale/crypto';
import { newId } from '@hale/model';
import {
  http,
  makeDeviceCert,
  makeDoc,
  makeGrant,
  makeRegistration,
  sign,
  streamOf,
  type TestAccount,
  type TestDevice,
} from '../src/testing/harness';
import { openSqliteStore, type DocWrite } from '../src/store/index';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER_MAIN = path.join(REPO_ROOT, 'sync-server/src/main.ts');

const MAX_IDLE = 5_000;
const IDLE_STEPS = [1_000, MAX_IDLE] as const;
const SOCKETS_PER_DEVICE = 100;
const CONNECTIONS_PER_ADDRESS = 50;
const CONNECT_CONCURRENCY = 100;
const FANOUT_RECEIVERS = 500;
const FANOUT_ROUNDS = 50;
const PULL_DOCS = 100_000;
const PULL_CT_BYTES = 1024;
const PULL_LIMIT = 1000;
const PULL_MAX_BYTES = MAX_BATCH_BYTES;
const FRAME_TIMEOUT_MS = 30_000;
const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat counts CPU time in these ticks
const SERVER_NODE_ARGS = (process.env.HALE_BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const PHASES = new Set((process.env.HALE_BENCH_PHASES ?? 'idle,fanout,pull').split(','));

// ---------------------------------------------------------------- cleanup on every exit path

const tempDirs: string[] = [];
const children = new Set<ChildProcess>();
const openSockets = new Set<WebSocket>();

const cleanupSync = (): void => {
  for (const ws of openSockets) ws.terminate();
  openSockets.clear();
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanupSync();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- small utilities

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
const pool = async <T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> => {
  const out: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return out;
};

const quantile = (sorted: number[], q: number): number => {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
};

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });

/** Soft and hard RLIMIT_NOFILE of this process, as the kernel reports them. */
const openFileLimit = (): { soft: string; hard: string } => {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const parts = line?.trim().split(/\s+/) ?? [];
  return { soft: parts[3] ?? '?', hard: parts[4] ?? '?' };
};

// ---------------------------------------------------------------- the server child process

interface ServerProcess {
  pid: number;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** VmRSS and VmHWM (peak) in KiB. */
  memory(): { rssKiB: number; hwmKiB: number };
  /** User + system CPU seconds the server has used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const startServerProcess = async (dataDir: string): Promise<ServerProcess> => {
  const port = await freePort();
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, '--import', 'tsx', SERVER_MAIN], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      HALE_DATA_DIR: dataDir,
      HALE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the server');
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await http(url, 'GET', '/healthz');
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not become healthy:\n${output}`);
    await sleep(100);
  }

  return {
    pid,
    url,
    wsUrl: `ws://127.0.0.1:${port}/sync`,
    dataDir,
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const field = (name: string): number =>
        Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
      return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
    },
    cpuSeconds() {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15 overall.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await withTimeout(exited, 20_000, 'server shutdown').catch(() => {
          child.kill('SIGKILL');
        });
      }
      children.delete(child);
    },
  };
};

// ---------------------------------------------------------------- accounts and devices over HTTP
// The harness's registerAccount/addDevice take an in-process TestServer; these send the same bodies to a URL.

const registerAccount = async (url: string, role: 'patient' | 'provider'): Promise<TestAccount> => {
  const { body, account } = await makeRegistration(role);
  const res = await http(url, 'POST', '/v1/accounts', body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return account;
};

const addDevice = async (url: string, account: TestAccount): Promise<TestDevice> => {
  const keys = generateDeviceKeys();
  const device = await makeDeviceCert(account, keys, 'bench device');
  const res = await http(url, 'POST', '/v1/devices', { device });
  if (res.status !== 201) throw new Error(`add device failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { keys, deviceId: keys.deviceId };
};

/** The account's first device plus `extra` more. */
const devicesOf = async (url: string, account: TestAccount, extra: number): Promise<TestDevice[]> => {
  const devices = [account.device];
  for (let i = 0; i < extra; i++) devices.push(await addDevice(url, account));
  return devices;
};

// ---------------------------------------------------------------- a lean WebSocket client
// Replies are taken in order (each socket has at most one request in flight); `changes` frames go to
// `onChanges` with their arrival time, taken before any parsing so that client work does not delay it.

interface Arrival {
  text: string;
  at: number;
}

interface BenchClient {
  ws: WebSocket;
  request(frame: ClientFrame): Promise<Arrival>;
  onChanges: ((arrival: Arrival) => void) | null;
  close(): Promise<void>;
}

let connectionCounter = 0;

const localAddressFor = (n: number): string => {
  const block = Math.floor(n / CONNECTIONS_PER_ADDRESS);
  return `127.1.${Math.floor(block / 250)}.${(block % 250) + 1}`;
};

const openClient = async (wsUrl: string): Promise<BenchClient> => {
  const ws = new WebSocket(wsUrl, {
    perMessageDeflate: false,
    localAddress: localAddressFor(connectionCounter++),
  });
  openSockets.add(ws);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    FRAME_TIMEOUT_MS,
    'websocket open',
  );
  const replies: Arrival[] = [];
  let waiter: ((a: Arrival) => void) | null = null;
  const client: BenchClient = {
    ws,
    onChanges: null,
    request(frame) {
      const reply = new Promise<Arrival>((resolve) => {
        const queued = replies.shift();
        if (queued) resolve(queued);
        else waiter = resolve;
      });
      ws.send(encodeFrame(frame));
      return withTimeout(reply, FRAME_TIMEOUT_MS, `reply to ${frame.t}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        openSockets.delete(ws);
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
  ws.on('message', (data: Buffer) => {
    const at = performance.now();
    const text = data.toString('utf8');
    // The server writes `t` first (JSON.stringify of an object literal), so a prefix test is enough here.
    if (text.startsWith('{"t":"changes"')) {
      client.onChanges?.({ text, at });
      return;
    }
    const w = waiter;
    waiter = null;
    if (w) w({ text, at });
    else replies.push({ text, at });
  });
  ws.on('error', () => undefined);
  return client;
};

const expectFrame = <K extends ServerFrame['t']>(arrival: Arrival, t: K): Extract<ServerFrame, { t: K }> => {
  const decoded = decodeServerFrame(arrival.text);
  if (!decoded.ok) throw new Error(`invalid server frame: ${decoded.error.message}`);
  const frame = decoded.value;
  if (frame.t !== t) throw new Error(`expected ${t}, got ${arrival.text.slice(0, 300)}`);
  return frame as Extract<ServerFrame, { t: K }>;
};

let ridCounter = 1;
const rid = (): number => ridCounter++;

/** Opens a socket and completes hello → challenge → auth for the device. */
const connectDevice = async (server: ServerProcess, device: TestDevice): Promise<BenchClient> => {
  const client = await openClient(server.wsUrl);
  const challenge = expectFrame(
    await client.request({ t: 'hello', versions: [1], deviceId: device.deviceId }),
    'challenge',
  );
  const sig = await sign(
    device.keys.secretKey,
    authSignaturePayload({ nonce: challenge.nonce, deviceId: device.deviceId, serverId: challenge.serverId }),
  );
  expectFrame(await client.request({ t: 'auth', sig }), 'ready');
  return client;
};

/** `count` authenticated sockets, SOCKETS_PER_DEVICE per device, devices taken in order. */
const connectMany = (server: ServerProcess, devices: TestDevice[], count: number): Promise<BenchClient[]> =>
  pool(count, CONNECT_CONCURRENCY, (i) => {
    const device = devices[Math.floor(i / SOCKETS_PER_DEVICE) % devices.length];
    if (!device) throw new Error('no device');
    return connectDevice(server, device);
  });

/** Pings every socket at once; resolves with how many answered pong and the wall time. */
const pingAll = async (clients: BenchClient[]): Promise<{ ok: number; seconds: number }> => {
  const start = performance.now();
  const results = await Promise.all(
    clients.map(async (c) => {
      try {
        expectFrame(await c.request({ t: 'ping', rid: rid() }), 'pong');
        return 1;
      } catch {
        return 0;
      }
    }),
  );
  return { ok: results.reduce<number>((a, b) => a + b, 0), seconds: (performance.now() - start) / 1000 };
};

const closeAll = async (clients: BenchClient[]): Promise<void> => {
  await pool(clients.length, 500, (i) => clients[i]?.close() ?? Promise.resolve());
};

// ---------------------------------------------------------------- 1. idle authenticated connections

interface IdleStep {
  connections: number;
  rssMiB: number;
  pingsOk: number;
  pingAllSeconds: number;
  connectPerSecond: number | null;
}

const benchIdle = async (server: ServerProcess) => {
  const accounts = [];
  for (let i = 0; i < 5; i++) accounts.push(await registerAccount(server.url, 'patient'));
  const devicesPerAccount = Math.ceil(MAX_IDLE / SOCKETS_PER_DEVICE / accounts.length);
  const devices: TestDevice[] = [];
  for (const account of accounts)
    devices.push(...(await devicesOf(server.url, account, devicesPerAccount - 1)));

  await sleep(2_000);
  const steps: IdleStep[] = [
    {
      connections: 0,
      rssMiB: server.memory().rssKiB / 1024,
      pingsOk: 0,
      pingAllSeconds: 0,
      connectPerSecond: null,
    },
  ];
  const clients: BenchClient[] = [];
  const cpuBefore = server.cpuSeconds();
  let connectSeconds = 0;
  for (const target of IDLE_STEPS) {
    const start = performance.now();
    // Devices are interleaved by index so each step spreads over every device.
    const fresh = await pool(target - clients.length, CONNECT_CONCURRENCY, (i) => {
      const n = clients.length + i;
      const device = devices[n % devices.length];
      if (!device) throw new Error('no device');
      return connectDevice(server, device);
    });
    const seconds = (performance.now() - start) / 1000;
    connectSeconds += seconds;
    clients.push(...fresh);
    await sleep(2_000);
    const rssMiB = server.memory().rssKiB / 1024;
    const ping = await pingAll(clients);
    steps.push({
      connections: clients.length,
      rssMiB,
      pingsOk: ping.ok,
      pingAllSeconds: ping.seconds,
      connectPerSecond: fresh.length / seconds,
    });
  }
  const serverCpuSeconds = server.cpuSeconds() - cpuBefore;
  const clientRssMiB = process.memoryUsage().rss / 1024 / 1024;
  const hwmMiB = server.memory().hwmKiB / 1024;
  await closeAll(clients);
  const base = steps[0]?.rssMiB ?? 0;
  const last = steps[steps.length - 1];
  return {
    accounts: accounts.length,
    devices: devices.length,
    steps,
    perConnectionKiB: last ? ((last.rssMiB - base) * 1024) / last.connections : NaN,
    peakRssMiB: hwmMiB,
    connectSeconds,
    serverCpuSecondsConnectAndPing: serverCpuSeconds,
    benchProcessRssMiB: clientRssMiB,
  };
};

// ---------------------------------------------------------------- 2. fan-out of one change

interface FanoutResult {
  receivers: number;
  rounds: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Per round, the time until the last of the receivers had it. */
  lastReceiverP50Ms: number;
  lastReceiverMaxMs: number;
  pushAckP50Ms: number;
  serverCpuMsPerChange: number;
  /** Server CPU while the subscribed receivers sit idle (background work such as the grant sweep). */
  idleServerCpuPercent: number;
  /** Seq of the last pushed document (the stream head afterwards). */
  lastSeq: number;
}

const benchFanout = async (
  server: ServerProcess,
  patient: TestAccount,
  pusher: TestDevice,
  receivers: BenchClient[],
  since: number,
): Promise<FanoutResult> => {
  const type = 'medication';
  const stream = streamOf(patient.accountId, type);
  const pushClient = await connectDevice(server, pusher);
  await Promise.all(
    receivers.map(async (c) =>
      expectFrame(await c.request({ t: 'subscribe', rid: rid(), streams: [{ stream, since }] }), 'ok'),
    ),
  );
  const docs: PushDoc[] = [];
  for (let i = 0; i < FANOUT_ROUNDS + 3; i++) {
    docs.push(
      await makeDoc(patient, pusher, type, { name: `drug ${i}`, dose: '10 mg', note: 'x'.repeat(700) }),
    );
  }

  const idleCpuStart = server.cpuSeconds();
  await sleep(3_000);
  const idleServerCpuPercent = ((server.cpuSeconds() - idleCpuStart) / 3) * 100;

  const latencies: number[] = [];
  const lastReceiver: number[] = [];
  const acks: number[] = [];
  let cpuBefore = 0;
  let lastSeq = since;
  for (let r = 0; r < docs.length; r++) {
    const warmup = r < 3; // first rounds warm the JIT and the SQLite page cache
    if (r === 3) cpuBefore = server.cpuSeconds();
    const doc = docs[r];
    if (!doc) break;
    const arrivals: Arrival[] = [];
    let resolveAll: () => void = () => undefined;
    const all = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    for (const c of receivers) {
      c.onChanges = (a) => {
        arrivals.push(a);
        if (arrivals.length === receivers.length) resolveAll();
      };
    }
    const t0 = performance.now();
    const ack = await pushClient.request({ t: 'push', rid: rid(), rows: [{ doc, assumedRev: null }] });
    const pushed = expectFrame(ack, 'pushed');
    const result = pushed.results[0];
    if (result?.status !== 'ok') throw new Error(`push refused: ${JSON.stringify(pushed.results)}`);
    lastSeq = result.seq;
    await withTimeout(all, FRAME_TIMEOUT_MS, `fan-out round ${r}: ${arrivals.length}/${receivers.length}`);
    for (const a of arrivals) {
      if (!a.text.includes(doc.id)) throw new Error(`round ${r}: a receiver got another document`);
    }
    if (!warmup) {
      let slowest = 0;
      for (const a of arrivals) {
        latencies.push(a.at - t0);
        slowest = Math.max(slowest, a.at - t0);
      }
      lastReceiver.push(slowest);
      acks.push(ack.at - t0);
    }
    await sleep(20);
  }
  const cpu = server.cpuSeconds() - cpuBefore;
  for (const c of receivers) c.onChanges = null;
  await pushClient.close();
  latencies.sort((a, b) => a - b);
  lastReceiver.sort((a, b) => a - b);
  acks.sort((a, b) => a - b);
  return {
    receivers: receivers.length,
    rounds: FANOUT_ROUNDS,
    samples: latencies.length,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    lastReceiverP50Ms: quantile(lastReceiver, 0.5),
    lastReceiverMaxMs: lastReceiver[lastReceiver.length - 1] ?? NaN,
    pushAckP50Ms: quantile(acks, 0.5),
    serverCpuMsPerChange: (cpu * 1000) / FANOUT_ROUNDS,
    idleServerCpuPercent,
    lastSeq,
  };
};

const benchFanouts = async (server: ServerProcess) => {
  const deviceCount = Math.ceil(FANOUT_RECEIVERS / SOCKETS_PER_DEVICE);

  // a) the patient's own devices follow the stream (owner access)
  const patient = await registerAccount(server.url, 'patient');
  const ownDevices = await devicesOf(server.url, patient, deviceCount);
  const pusher = ownDevices.pop();
  if (!pusher) throw new Error('no pusher');
  const ownReceivers = await connectMany(server, ownDevices, FANOUT_RECEIVERS);
  const owner = await benchFanout(server, patient, pusher, ownReceivers, 0);
  await closeAll(ownReceivers);

  // b) a provider's devices follow it under a read grant (access re-decided per delivery, audited)
  const provider = await registerAccount(server.url, 'provider');
  const providerDevices = await devicesOf(server.url, provider, deviceCount - 1);
  const grantClient = await connectDevice(server, patient.device);
  const grant = await makeGrant(patient, provider, [{ type: 'medication', access: 'read' }]);
  expectFrame(await grantClient.request({ t: 'grant', rid: rid(), grant }), 'ok');
  await grantClient.close();
  const granteeReceivers = await connectMany(server, providerDevices, FANOUT_RECEIVERS);
  const grantee = await benchFanout(server, patient, pusher, granteeReceivers, owner.lastSeq);
  await closeAll(granteeReceivers);
  return { owner, grantee };
};

// ---------------------------------------------------------------- 3. pull throughput

interface PullRun {
  docs: number;
  pages: number;
  seconds: number;
  docsPerSecond: number;
  ctMiBPerSecond: number;
  wireMiBPerSecond?: number;
}

const pulledSummary = (text: string): { docs: number; checkpoint: number; done: boolean } => {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || !('t' in value) || value.t !== 'pulled')
    throw new Error(`expected pulled, got ${text.slice(0, 300)}`);
  if (
    !('docs' in value) ||
    !Array.isArray(value.docs) ||
    !('streams' in value) ||
    !Array.isArray(value.streams)
  )
    throw new Error('malformed pulled frame');
  const s: unknown = value.streams[0];
  if (typeof s !== 'object' || s === null || !('checkpoint' in s) || !('done' in s))
    throw new Error('pulled frame without stream checkpoint');
  return { docs: value.docs.length, checkpoint: Number(s.checkpoint), done: s.done === true };
};

const benchPull = async (server: ServerProcess) => {
  const patient = await registerAccount(server.url, 'patient');
  const stream = streamOf(patient.accountId, 'medication');

  // Written straight into the server's SQLite file (WAL allows a second connection), as a device's
  // pushes would have left it: random 1 KiB ciphertexts with real ids and revision tags.
  const store = await openSqliteStore({ dataDir: server.dataDir, exclusive: false });
  let storeWrite = { seconds: 0, docsPerSecond: 0 };
  const storeReads: PullRun[] = [];
  try {
    const now = new Date().toISOString();
    const tag = new Uint8Array(12);
    const writeStart = performance.now();
    for (let offset = 0; offset < PULL_DOCS; offset += MAX_BATCH_DOCS) {
      const rows: DocWrite[] = [];
      for (let i = 0; i < Math.min(MAX_BATCH_DOCS, PULL_DOCS - offset); i++) {
        const ct = new Uint8Array(PULL_CT_BYTES);
        crypto.getRandomValues(ct);
        crypto.getRandomValues(tag);
        rows.push({
          doc: {
            stream,
            id: newId(),
            rev: `1-${hexEncode(tag)}`,
            deleted: false,
            epoch: 0,
            ct,
            size: PULL_CT_BYTES,
            author: patient.device.deviceId,
          },
          assumedRev: null,
        });
      }
      const results = await store.docs.writeDocs(rows, now);
      if (results.some((r) => r.status !== 'ok')) throw new Error('bulk write refused a row');
    }
    const writeSeconds = (performance.now() - writeStart) / 1000;
    storeWrite = { seconds: writeSeconds, docsPerSecond: PULL_DOCS / writeSeconds };

    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      let since = 0;
      let docs = 0;
      let bytes = 0;
      let pages = 0;
      for (;;) {
        const page = await store.docs.readDocs(stream, since, PULL_LIMIT, PULL_MAX_BYTES);
        pages++;
        docs += page.docs.length;
        for (const d of page.docs) bytes += d.ct.byteLength;
        since = page.checkpoint;
        if (page.done) break;
      }
      const seconds = (performance.now() - start) / 1000;
      if (docs !== PULL_DOCS) throw new Error(`store read ${docs} documents, expected ${PULL_DOCS}`);
      storeReads.push({
        docs,
        pages,
        seconds,
        docsPerSecond: docs / seconds,
        ctMiBPerSecond: bytes / 1024 / 1024 / seconds,
      });
    }
  } finally {
    await store.close();
  }

  const client = await connectDevice(server, patient.device);
  const cpuBefore = server.cpuSeconds();
  const pullOver = async (validate: boolean): Promise<PullRun> => {
    const start = performance.now();
    let since = 0;
    let docs = 0;
    let pages = 0;
    let wireBytes = 0;
    for (let guard = 0; guard < PULL_DOCS; guard++) {
      const reply = await client.request({
        t: 'pull',
        rid: rid(),
        streams: [{ stream, since }],
        limit: PULL_LIMIT,
        maxBytes: PULL_MAX_BYTES,
      });
      wireBytes += reply.text.length;
      pages++;
      let page: { docs: number; checkpoint: number; done: boolean };
      if (validate) {
        const frame = expectFrame(reply, 'pulled');
        const s = frame.streams[0];
        if (!s) throw new Error('pulled frame without stream checkpoint');
        page = { docs: frame.docs.length, checkpoint: s.checkpoint, done: s.done };
      } else {
        page = pulledSummary(reply.text);
      }
      docs += page.docs;
      since = page.checkpoint;
      if (page.done) break;
    }
    const seconds = (performance.now() - start) / 1000;
    if (docs !== PULL_DOCS) throw new Error(`pulled ${docs} documents, expected ${PULL_DOCS}`);
    return {
      docs,
      pages,
      seconds,
      docsPerSecond: docs / seconds,
      ctMiBPerSecond: (docs * PULL_CT_BYTES) / 1024 / 1024 / seconds,
      wireMiBPerSecond: wireBytes / 1024 / 1024 / seconds,
    };
  };
  // Alternating runs, best of two per mode: the machine is shared, so the best run is the least disturbed.
  const parseRuns: PullRun[] = [];
  const validateRuns: PullRun[] = [];
  for (let run = 0; run < 2; run++) {
    parseRuns.push(await pullOver(false));
    validateRuns.push(await pullOver(true));
  }
  const best = (runs: PullRun[]): PullRun | undefined => [...runs].sort((a, b) => a.seconds - b.seconds)[0];
  const serverCpuSeconds = server.cpuSeconds() - cpuBefore;
  await client.close();
  const sortedStore = [...storeReads].sort((a, b) => a.seconds - b.seconds);
  return {
    docs: PULL_DOCS,
    ctBytes: PULL_CT_BYTES,
    limit: PULL_LIMIT,
    maxBytes: PULL_MAX_BYTES,
    storeWrite,
    storeReadMedian: sortedStore[1] ?? sortedStore[0],
    wsPullJsonParse: best(parseRuns),
    wsPullDecodeServerFrame: best(validateRuns),
    wsPullSecondsAllRuns: [...parseRuns, ...validateRuns].map((r) => round(r.seconds, 2)),
    serverCpuMsPerThousandDocsPulled: (serverCpuSeconds * 1000) / ((4 * PULL_DOCS) / 1000),
    serverRssAfterMiB: server.memory().rssKiB / 1024,
  };
};

// ---------------------------------------------------------------- report

const table = (rows: string[][]): string => {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows
    .map((r, i) => {
      const line = r.map((cell, col) =>
        col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0),
      );
      return i === 0 ? `${line.join('  ')}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line.join('  ');
    })
    .join('\n');
};

const main = async (): Promise<void> => {
  const started = performance.now();
  const limits = openFileLimit();
  const machine = {
    node: process.version,
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    loadAverage: loadavg().map((l) => round(l, 2)),
    openFilesSoft: limits.soft,
    openFilesHard: limits.hard,
    date: new Date().toISOString(),
  };
  const softLimit = Number(limits.soft);
  if (Number.isFinite(softLimit) && softLimit < MAX_IDLE + 200) {
    throw new Error(`ulimit -n is ${limits.soft}: too low for ${MAX_IDLE} sockets`);
  }
  console.log(
    `sync server bench — Node ${machine.node}, ${machine.cores} × ${machine.cpu}, load ${machine.loadAverage.join(' / ')}, ulimit -n ${limits.soft}/${limits.hard}`,
  );

  const dataDir = await mkdtemp(path.join(tmpdir(), 'hale-server-bench-'));
  tempDirs.push(dataDir);
  const server = await startServerProcess(dataDir);
  try {
    console.log(`server pid ${server.pid} on ${server.url}, data in ${dataDir}\n`);

    let idle: Awaited<ReturnType<typeof benchIdle>> | null = null;
    let fanout: Awaited<ReturnType<typeof benchFanouts>> | null = null;
    let pull: Awaited<ReturnType<typeof benchPull>> | null = null;
    if (PHASES.has('idle')) {
      idle = await benchIdle(server);
      console.log('1. Idle authenticated WebSocket connections (server in its own process)');
      console.log(
        table([
          ['connections', 'server RSS', 'answered ping', 'ping all', 'connect rate'],
          ...idle.steps.map((s) => [
            fmtInt(s.connections),
            `${s.rssMiB.toFixed(1)} MiB`,
            s.connections === 0 ? '—' : `${fmtInt(s.pingsOk)}/${fmtInt(s.connections)}`,
            s.connections === 0 ? '—' : `${(s.pingAllSeconds * 1000).toFixed(0)} ms`,
            s.connectPerSecond === null ? '—' : `${fmtInt(s.connectPerSecond)}/s`,
          ]),
        ]),
      );
      console.log(
        `≈ ${idle.perConnectionKiB.toFixed(1)} KiB server RSS per idle connection; peak RSS ${idle.peakRssMiB.toFixed(1)} MiB; ` +
          `${idle.accounts} accounts × ${idle.devices / idle.accounts} devices; bench process RSS ${idle.benchProcessRssMiB.toFixed(0)} MiB\n`,
      );
    }
    if (PHASES.has('fanout')) {
      fanout = await benchFanouts(server);
      console.log(
        `2. Fan-out: one pushed document to ${FANOUT_RECEIVERS} subscribed sockets, ${FANOUT_ROUNDS} rounds`,
      );
      const fanRow = (name: string, f: FanoutResult): string[] => [
        name,
        `${f.p50Ms.toFixed(1)} ms`,
        `${f.p99Ms.toFixed(1)} ms`,
        `${f.maxMs.toFixed(1)} ms`,
        `${f.lastReceiverP50Ms.toFixed(1)} ms`,
        `${f.pushAckP50Ms.toFixed(1)} ms`,
        `${f.serverCpuMsPerChange.toFixed(1)} ms`,
        `${f.idleServerCpuPercent.toFixed(1)} %`,
      ];
      console.log(
        table([
          ['receivers', 'p50', 'p99', 'max', 'last rcv p50', 'push ack p50', 'server CPU/change', 'idle CPU'],
          fanRow('patient devices (owner)', fanout.owner),
          fanRow('provider devices (read grant)', fanout.grantee),
        ]),
      );
      console.log(
        'latency = push sent → `changes` frame arrived at the receiving socket (same process, same clock)\n',
      );
    }
    if (PHASES.has('pull')) {
      pull = await benchPull(server);
      console.log(
        `3. Pull: ${fmtInt(PULL_DOCS)} docs × ${PULL_CT_BYTES} B ciphertext in one stream, pages of ${PULL_LIMIT} / ${PULL_MAX_BYTES / 1024 / 1024} MiB`,
      );
      const pullRow = (name: string, r: PullRun | undefined): string[] =>
        r
          ? [
              name,
              `${fmtInt(r.docsPerSecond)} docs/s`,
              `${r.ctMiBPerSecond.toFixed(1)} MiB/s`,
              r.wireMiBPerSecond === undefined ? '—' : `${r.wireMiBPerSecond.toFixed(1)} MiB/s`,
              `${r.seconds.toFixed(2)} s`,
            ]
          : [name, '—', '—', '—', '—'];
      console.log(
        table([
          ['path', 'docs/s', 'ciphertext', 'wire (base64 JSON)', 'time'],
          pullRow('store readDocs (no network, median of 3)', pull.storeReadMedian),
          pullRow('WebSocket pull, client JSON.parse (best of 2)', pull.wsPullJsonParse),
          pullRow('WebSocket pull, client decodeServerFrame (best of 2)', pull.wsPullDecodeServerFrame),
        ]),
      );
      console.log(
        `bulk writeDocs (setup): ${fmtInt(pull.storeWrite.docsPerSecond)} docs/s; server CPU ${pull.serverCpuMsPerThousandDocsPulled.toFixed(0)} ms per 1000 docs pulled; server RSS after ${pull.serverRssAfterMiB.toFixed(0)} MiB`,
      );
    }
    const totalSeconds = (performance.now() - started) / 1000;
    console.log(`\ntotal ${totalSeconds.toFixed(0)} s`);
    console.log(
      JSON.stringify({ bench: 'server', machine, idle, fanout, pull, totalSeconds: round(totalSeconds) }),
    );
  } finally {
    await server.stop();
    cleanupSync();
  }
};

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    cleanupSync();
    process.exit(1);
  },
);
