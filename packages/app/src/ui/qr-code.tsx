// A QR code drawn from text (the `qrcode` library), as an image with a text alternative.
import { useEffect, useState, type ReactNode } from 'react';
import { Skeleton } from '@mantine/core';
import { toDataURL } from 'qrcode';

export function QrCode(props: {
  readonly text: string;
  readonly label: string;
  readonly size?: number;
}): ReactNode {
  const size = props.size ?? 220;
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void toDataURL(props.text, { errorCorrectionLevel: 'M', margin: 2, width: size }).then(
      (made) => live && setUrl(made),
      () => live && setUrl(null),
    );
    return () => {
      live = false;
    };
  }, [props.text, size]);
  if (url === null) return <Skeleton width={size} height={size} />;
  return (
    <img
      src={url}
      alt={props.label}
      width={size}
      height={size}
      data-testid="qr-code"
      style={{ background: '#fff', borderRadius: 8 }}
    />
  );
}
