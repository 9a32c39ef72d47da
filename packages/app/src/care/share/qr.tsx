/**
 * QR codes: drawn (qrcode, to a PNG data URL: no canvas kept in the DOM) and read — from the camera
 * (getUserMedia, frames decoded by the browser's BarcodeDetector where it has one, by jsQR otherwise) or
 * from a photo a person picks. The camera stops when the reader closes, when a code is read, or on unmount.
 *
 * Failure modes, each said in words: no camera or permission refused (`camera` error: use a photo or paste
 * the text), a photo with no QR code in it (`photo` error).
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Alert, Button, FileButton, Group, Image, Stack, Text } from '@mantine/core';
import { IconCamera, IconPhoto } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import QRCode from 'qrcode';
import jsQR from 'jsqr';

export function QrImage(props: {
  readonly text: string;
  readonly label: string;
  readonly size?: number;
}): ReactNode {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void QRCode.toDataURL(props.text, {
      margin: 1,
      width: props.size ?? 220,
      errorCorrectionLevel: 'M',
    }).then((url) => {
      if (live) setSrc(url);
    });
    return () => {
      live = false;
    };
  }, [props.text, props.size]);
  if (src === null) return null;
  return (
    <Image
      src={src}
      alt={props.label}
      w={props.size ?? 220}
      h={props.size ?? 220}
      data-testid="qr-image"
      data-qr-text={props.text}
      style={{ imageRendering: 'pixelated', background: '#fff', borderRadius: 8 }}
    />
  );
}

interface Detector {
  detect(source: CanvasImageSource): Promise<readonly { rawValue: string }[]>;
}

const nativeDetector = (): Detector | null => {
  const Ctor = (globalThis as { BarcodeDetector?: new (o: { formats: string[] }) => Detector })
    .BarcodeDetector;
  try {
    return Ctor === undefined ? null : new Ctor({ formats: ['qr_code'] });
  } catch {
    return null;
  }
};

/** The text of a QR code in an image or video frame, or null. */
export const readQr = async (
  source: CanvasImageSource,
  width: number,
  height: number,
): Promise<string | null> => {
  const native = nativeDetector();
  if (native !== null) {
    try {
      const [hit] = await native.detect(source);
      if (hit !== undefined) return hit.rawValue;
    } catch {
      // Fall through to jsQR.
    }
  }
  if (width === 0 || height === 0) return null;
  const scale = Math.min(1, 1024 / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (ctx === null) return null;
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return jsQR(data.data, data.width, data.height)?.data ?? null;
};

export function QrReader(props: {
  readonly onText: (text: string) => void;
  readonly testId?: string;
}): ReactNode {
  const { t } = useTranslation();
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { onText } = props;

  const stop = (s: MediaStream | null): void => s?.getTracks().forEach((track) => track.stop());
  useEffect(() => () => stop(stream), [stream]);

  useEffect(() => {
    if (stream === null || video.current === null) return;
    const v = video.current;
    v.srcObject = stream;
    void v.play().catch(() => undefined);
    let live = true;
    const tick = async (): Promise<void> => {
      if (!live) return;
      if (v.readyState >= 2) {
        const text = await readQr(v, v.videoWidth, v.videoHeight).catch(() => null);
        if (text !== null && live) {
          live = false;
          stop(stream);
          setStream(null);
          onText(text);
          return;
        }
      }
      window.setTimeout(() => void tick(), 250);
    };
    void tick();
    return () => {
      live = false;
    };
  }, [stream, onText]);

  const openCamera = async (): Promise<void> => {
    setError(null);
    try {
      if (navigator.mediaDevices?.getUserMedia === undefined) throw new Error('no camera');
      setStream(await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }));
    } catch {
      setError(t('care.qr.noCamera'));
    }
  };

  const readPhoto = async (file: File | null): Promise<void> => {
    if (file === null) return;
    setError(null);
    try {
      const bitmap = await createImageBitmap(file);
      const text = await readQr(bitmap, bitmap.width, bitmap.height);
      bitmap.close();
      if (text === null) setError(t('care.qr.noCode'));
      else onText(text);
    } catch {
      setError(t('care.qr.noCode'));
    }
  };

  return (
    <Stack gap="xs" data-testid={props.testId}>
      <Group gap="xs">
        {stream === null ? (
          <Button variant="light" leftSection={<IconCamera size={18} />} onClick={() => void openCamera()}>
            {t('care.qr.camera')}
          </Button>
        ) : (
          <Button
            variant="default"
            onClick={() => {
              stop(stream);
              setStream(null);
            }}
          >
            {t('care.qr.stopCamera')}
          </Button>
        )}
        <FileButton onChange={(f) => void readPhoto(f)} accept="image/*">
          {(p) => (
            <Button variant="light" leftSection={<IconPhoto size={18} />} {...p}>
              {t('care.qr.photo')}
            </Button>
          )}
        </FileButton>
      </Group>
      {stream !== null && (
        <Stack gap={4}>
          <video
            ref={video}
            muted
            playsInline
            aria-label={t('care.qr.viewfinder')}
            style={{ width: '100%', maxWidth: 360, borderRadius: 8, background: '#000' }}
          />
          <Text size="sm" c="dimmed">
            {t('care.qr.aim')}
          </Text>
        </Stack>
      )}
      {error !== null && (
        <Alert color="orange" role="alert">
          {error}
        </Alert>
      )}
    </Stack>
  );
}
