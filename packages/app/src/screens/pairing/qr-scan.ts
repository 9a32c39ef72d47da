/**
 * Reads a QR code from the camera: the browser's BarcodeDetector where it reads QR codes, else jsQR on a
 * frame of the video drawn to a canvas (a few times a second). The camera stops when `stop()` is called
 * or a code was read.
 *
 * Failure modes (rejected by `startQrScan`, each a `ScanError` with a code a screen words):
 * | code | when |
 * |---|---|
 * | `NO_CAMERA_API` | no `navigator.mediaDevices` (an old browser, or a page not on HTTPS) |
 * | `DENIED` | the person or the browser refused the camera |
 * | `NO_CAMERA` | no camera found, or it is in use |
 */
export type ScanErrorCode = 'NO_CAMERA_API' | 'DENIED' | 'NO_CAMERA';

export class ScanError extends Error {
  constructor(
    readonly code: ScanErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ScanError';
  }
}

interface DetectorLike {
  detect(source: HTMLVideoElement): Promise<readonly { readonly rawValue: string }[]>;
}
interface DetectorConstructor {
  new (options: { formats: string[] }): DetectorLike;
  getSupportedFormats(): Promise<string[]>;
}

/** The browser's detector when it reads QR codes; null otherwise. */
const nativeDetector = async (): Promise<DetectorLike | null> => {
  const Ctor = (globalThis as { BarcodeDetector?: DetectorConstructor }).BarcodeDetector;
  if (Ctor === undefined) return null;
  try {
    const formats = await Ctor.getSupportedFormats();
    return formats.includes('qr_code') ? new Ctor({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
};

/** jsQR over one frame of the video (loaded only when the browser has no detector). */
const frameDetector = async (): Promise<DetectorLike> => {
  const { default: jsQR } = await import('jsqr');
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  return {
    detect: (video) => {
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (context === null || width === 0 || height === 0) return Promise.resolve([]);
      canvas.width = width;
      canvas.height = height;
      context.drawImage(video, 0, 0, width, height);
      const found = jsQR(context.getImageData(0, 0, width, height).data, width, height, {
        inversionAttempts: 'attemptBoth',
      });
      return Promise.resolve(found === null ? [] : [{ rawValue: found.data }]);
    },
  };
};

const cameraError = (e: unknown): ScanError => {
  const name = e instanceof DOMException ? e.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return new ScanError('DENIED', 'the camera was refused');
  return new ScanError('NO_CAMERA', e instanceof Error ? e.message : 'no camera');
};

/** Starts the camera into `video` and calls `onCode` with the first QR code read; answers the stop. */
export async function startQrScan(
  video: HTMLVideoElement,
  onCode: (text: string) => void,
): Promise<() => void> {
  const media = navigator.mediaDevices as MediaDevices | undefined;
  if (media?.getUserMedia === undefined) throw new ScanError('NO_CAMERA_API', 'no camera access here');
  let stream: MediaStream;
  try {
    stream = await media.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    throw cameraError(e);
  }
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const stop = (): void => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play().catch(() => undefined);
  const detector = (await nativeDetector()) ?? (await frameDetector());
  const tick = async (): Promise<void> => {
    if (stopped) return;
    const codes = await detector.detect(video).catch(() => []);
    const first = codes[0];
    if (first !== undefined && !stopped) {
      stop();
      onCode(first.rawValue);
      return;
    }
    if (!stopped) timer = setTimeout(() => void tick(), 250);
  };
  void tick();
  return stop;
}
