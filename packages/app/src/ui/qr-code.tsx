/**
 * A QR code of a text (a SMART Health Link's viewer URL, a pairing link), drawn by `qrcode` as a PNG data URL in an <img>:
 * it prints, it can be saved, and a screen reader hears `label`. Error correction M (a printed card that
 * gets scuffed still scans); a quiet zone of 4 modules as the standard asks.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { Skeleton } from '@mantine/core';
import QRCode from 'qrcode';

export const qrDataUrl = (text: string, width: number): Promise<string> =>
  QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 4, width });

export function QrCode(props: {
  readonly text: string;
  readonly label: string;
  readonly size?: number;
  readonly testId?: string | undefined;
}): ReactNode {
  const size = props.size ?? 220;
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    setSrc(null);
    qrDataUrl(props.text, size * 2).then(
      (url) => live && setSrc(url),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [props.text, size]);
  if (failed) return null;
  if (src === null) return <Skeleton width={size} height={size} />;
  return (
    <img
      src={src}
      alt={props.label}
      width={size}
      height={size}
      data-testid={props.testId ?? 'qr-code'}
      style={{ imageRendering: 'pixelated', background: '#fff', display: 'block', borderRadius: 8 }}
    />
  );
}

/** The QR as PNG bytes, to save (a wallet picture on a phone). */
export async function qrPngBytes(text: string, width = 720): Promise<Uint8Array> {
  const url = await qrDataUrl(text, width);
  const base64 = url.slice(url.indexOf(',') + 1);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
