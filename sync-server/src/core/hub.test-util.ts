// Hub tests drive a hub of their own over the test server's store, with a connection that records what
// the hub sends to it and how it closes it.
import type { AccessChangedFrame, ServerFrame } from '@hale/protocol';
import type { LiveConnection } from './hub';

export interface RecordedDevice {
  accountId: string;
  deviceId: string;
  role: 'patient' | 'provider';
}

/** A live connection of `device` (id 1 unless given) whose frames go to `frames`, its closes to `onClose`. */
export const recordingConnection = (
  device: RecordedDevice,
  frames: ServerFrame[],
  onClose: (code: number, reason: string) => void = () => undefined,
  id = 1,
): LiveConnection => ({
  id,
  principal: { ...device, devicePublicKey: new Uint8Array(32) },
  send: (f) => void frames.push(f),
  sendEncoded: (text) => void frames.push(JSON.parse(text) as ServerFrame),
  bufferedAmount: () => 0,
  close: onClose,
  // A dropped socket: its client sees 1006.
  terminate: (reason) => onClose(1006, reason),
});

/** The `accessChanged` frames among `frames`, in order. */
export const accessChangedIn = (frames: readonly ServerFrame[]): AccessChangedFrame[] =>
  frames.filter((f): f is AccessChangedFrame => f.t === 'accessChanged');
