// The smallest complete Hale client, quoted verbatim in docs/client-api.md (test/example.e2e.test.ts
// fails if the two drift apart, and runs it against a real server).
// Run a server (`npm start`), then: npx tsx example/quickstart.ts [http://127.0.0.1:8787]
import { pathToFileURL } from 'node:url';

// #region quickstart
import WebSocket from 'ws';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  createAccount,
  createHttpApi,
  memoryVault,
  openDeviceSession,
  type WebSocketLike,
} from '@hale/client';
import { chooseEd25519 } from '@hale/crypto';

export async function quickstart(serverUrl: string) {
  const api = createHttpApi({ baseUrl: serverUrl, fetch });
  const ed = await chooseEd25519(); // WebCrypto Ed25519 where available, else tweetnacl

  // 1. Create a patient account; this device becomes its first device.
  const vault = memoryVault(); // in a browser or Electron: a vault over persistent storage
  const { account, recoveryKey } = await createAccount(
    { api, vault, ed },
    { role: 'patient', passphrase: 'a long passphrase only I know', deviceName: 'My laptop' },
  );
  console.log(`account ${account.accountId}`);
  console.log(`recovery key (show it once, store it nowhere): ${recoveryKey}`);

  // 2. Open the device: encrypted local store + one WebSocket to the server.
  const session = await openDeviceSession({
    account,
    serverUrl,
    createWebSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    storage: getRxStorageMemory(),
    getAccount: (accountId) => api.getAccount(accountId),
    getDevice: (accountId, deviceId) => api.getAccountDevice(accountId, deviceId),
    ed,
    // With both, a passphrase changed on another device is taken into this vault as soon as the server says.
    vault,
    api,
  });
  try {
    // 3. Add a record: validated, stored locally at once, then encrypted and pushed.
    const allergy = await session.records.add('Allergy', {
      substance: 'Penicillin',
      severity: 'moderate',
      recordedAt: new Date().toISOString(),
      active: true,
    });

    // 4. Wait until everything local has reached the server.
    await session.sync.awaitInSync();
    const { status, pendingWrites } = session.sync.state();
    console.log(`allergy ${allergy.id} synced: status ${status}, pending writes ${pendingWrites}`);
    return { accountId: account.accountId, allergyId: allergy.id, pendingWrites };
  } finally {
    await session.close();
  }
}
// #endregion quickstart

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await quickstart(process.argv[2] ?? 'http://127.0.0.1:8787');
}
