/**
 * A group of the clinician benchmark's patients in a process of its own (app-clinician.ts starts one per
 * `PER_PROCESS` patients): RxDB's open-source build holds at most 16 collections in one JavaScript realm,
 * and each patient's session is one. Each patient is a Node device of the real client, connected to the
 * server for the whole run.
 *
 * IPC (process.send): `ready` once every patient has its account, grant and chart in sync; on
 * `{ send, body }` patient `send` (an index in this group) sends `body` to the clinician and the answer
 * `{ sent, at }` carries the wall-clock time (ms) just before the call; on `close` every session closes.
 */
import { openHaleForTests } from '@hale/client/testing';
import { exampleInput, RECORD_KINDS } from '@hale/model';
import { nodePlatform } from '@hale/platform-node';
import type { HaleSession } from '@hale/client';
import { chartRecords, writeChart } from './app-chart';

export const PER_PROCESS = 10;
const PASSPHRASE = 'copper lantern orbit meadow 1842';

export interface GroupConfig {
  readonly server: string;
  readonly clinicianId: string;
  readonly from: number;
  readonly count: number;
  readonly perPatient: number;
}

export type GroupMessage = { readonly send: number; readonly body: string } | { readonly close: true };
export type GroupAnswer =
  { readonly ready: number } | { readonly sent: number; readonly at: number } | { readonly failed: string };

/** The streams a patient's bench chart writes to, each granted read (messages write, for replies). */
const grantScope = (perPatient: number) => {
  const types = new Set<string>(['profile', 'message']);
  for (const [kind] of chartRecords(chartOf(perPatient))) {
    const stream = RECORD_KINDS[kind].streamType;
    if (stream !== null) types.add(stream);
  }
  return [...types].map((type) => ({ type, access: type === 'message' ? 'write' : 'read' }) as const);
};

/** Half labs (series of 100, or one series when fewer), half the other kinds. */
const chartOf = (perPatient: number) => {
  const points = Math.min(100, Math.max(1, Math.floor(perPatient / 2)));
  return { total: perPatient, series: Math.floor(perPatient / 2 / points), points, longPoints: 0 };
};

/** One patient on a Node device: account, profile, grant to the clinician, chart; left open (connected). */
async function openPatient(
  server: string,
  clinicianId: string,
  i: number,
  perPatient: number,
): Promise<HaleSession> {
  const hale = await openHaleForTests({ server, platform: nodePlatform() });
  const { session } = await hale.createAccount({
    role: 'patient',
    passphrase: PASSPHRASE,
    loginName: `bench-p${i}-${Date.now().toString(36)}`,
    deviceName: 'phone',
  });
  await session.records.add(
    'Profile',
    exampleInput('Profile', { fullName: `Patient ${String(i).padStart(3, '0')}` }) as never,
  );
  await session.consent.verifyProvider(clinicianId);
  await session.consent.grant({
    granteeId: clinicianId,
    scope: grantScope(perPatient) as never,
    durationMs: 365 * 24 * 3_600_000,
    purpose: 'bench: ongoing care',
  });
  await writeChart(session, chartOf(perPatient - 1));
  await session.sync.awaitInSync();
  return session;
}

async function main(config: GroupConfig): Promise<void> {
  const sessions: HaleSession[] = [];
  const answer = (a: GroupAnswer): void => void process.send?.(a);
  try {
    for (let i = 0; i < config.count; i += 5) {
      const batch = Array.from({ length: Math.min(5, config.count - i) }, (_, j) =>
        openPatient(config.server, config.clinicianId, config.from + i + j, config.perPatient),
      );
      sessions.push(...(await Promise.all(batch)));
    }
  } catch (e) {
    answer({ failed: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  }
  answer({ ready: sessions.length });
  process.on('message', (m: GroupMessage) => {
    if ('close' in m) {
      void Promise.all(sessions.map((s) => s.close())).finally(() => process.exit(0));
      return;
    }
    const session = sessions[m.send];
    if (session === undefined) return answer({ failed: `no patient ${m.send}` });
    const at = performance.timeOrigin + performance.now();
    session.care.messages.send({ to: config.clinicianId, body: m.body }).then(
      () => answer({ sent: m.send, at }),
      (e: unknown) => answer({ failed: e instanceof Error ? e.message : String(e) }),
    );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main(JSON.parse(process.argv[2] ?? '{}') as GroupConfig);
}
