// The smallest complete Hale client, quoted verbatim in docs/client-api.md (test/client-api/example.e2e.test.ts
// fails if the two drift apart, and runs it against a real server).
// Run a server (`npm start`), then: npx tsx example/quickstart.ts [http://127.0.0.1:8787]
import { pathToFileURL } from 'node:url';

// #region quickstart
import { openHale } from '@hale/client';
import { nodePlatform } from '@hale/platform-node';

export async function quickstart(server: string) {
  // A browser app passes webPlatform(...) from @hale/platform-web instead.
  const hale = await openHale({ server, platform: nodePlatform() });

  // 1. Create a patient account; this device becomes its first device, and a session opens on it.
  const { session, recoveryKey } = await hale.createAccount({
    role: 'patient',
    passphrase: 'a long passphrase only I know',
    deviceName: 'My laptop',
  });
  console.log(`account ${session.account.accountId}`);
  console.log(`recovery key (show it once, store it nowhere): ${recoveryKey}`);
  try {
    // 2. Add a record: validated, stored locally at once, then encrypted and pushed.
    const allergy = await session.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'moderate',
      recordedAt: new Date().toISOString(),
      active: true,
    });

    // 3. A screen binds to an Observed: get() now, subscribe() for changes (or `$` with RxJS).
    const allergies = session.records.list('Allergy', { sort: 'clinical' });
    const stop = allergies.subscribe(() => console.log(`${allergies.get().total} allergies`));

    // 4. Wait until everything local has reached the server.
    await session.sync.awaitInSync();
    const { status, pendingWrites } = session.sync.state.get();
    console.log(`allergy ${allergy.id} synced: status ${status}, pending writes ${pendingWrites}`);
    stop();
    return { accountId: session.account.accountId, allergyId: allergy.id, pendingWrites };
  } finally {
    await session.close();
  }
}
// #endregion quickstart

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await quickstart(process.argv[2] ?? 'http://127.0.0.1:8787');
}
