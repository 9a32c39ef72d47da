/** RxDB's storage for a browser device: IndexedDB through Dexie (the records at rest, already sealed). */
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';

export const webStorage = () => getRxStorageDexie();
