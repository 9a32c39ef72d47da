/** A record as the device holds it, with RxDB's deletion flag; whether one holds any content. */
import type { DeviceRecord } from '../store/device-db';

/** A device record as RxDB hands it to replication: the stored fields plus RxDB's deletion flag. */
export type PlainRecord = DeviceRecord & { _deleted: boolean };

/**
 * Whether a record holds no content: what a purge leaves of a record (it empties a record, then deletes
 * it, both at the same `rv`), or a tombstone. Nothing else writes a record without content.
 */
export const emptied = (record: { data: object }): boolean => Object.keys(record.data).length === 0;
