// Who wrote a version, in words: this device, another device of this account (by its name), or another
// account (by its directory name when known, `names`); and what the app knows of its signature.
import type { TFunction } from 'i18next';
import type { DeviceList } from '@hale/client';
import { shortId } from './format';

export interface Me {
  readonly accountId: string;
  readonly deviceId: string;
}

export const deviceName = (devices: DeviceList | null, deviceId: string): string | undefined =>
  devices?.active.find((d) => d.deviceId === deviceId)?.name ??
  devices?.revoked.find((d) => d.deviceId === deviceId)?.name;

export const whoWrote = (
  t: TFunction,
  me: Me,
  devices: DeviceList | null,
  by: string | undefined,
  deviceId: string | undefined,
  names?: ReadonlyMap<string, string>,
): string => {
  if (by === undefined) return t('history.unknownAuthor');
  if (by !== me.accountId) return names?.get(by) ?? t('history.otherAccount', { account: shortId(by) });
  if (deviceId === me.deviceId) return t('history.thisDevice');
  const name = deviceId === undefined ? undefined : deviceName(devices, deviceId);
  return name === undefined ? t('history.yourOtherDevice') : t('history.yourDevice', { name });
};
