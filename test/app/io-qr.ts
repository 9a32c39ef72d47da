/**
 * Reads a QR code shown in the app as a phone's camera would: the <img>'s picture (decoded to pixels in the
 * page), decoded by jsqr in Node. Answers the text the QR carries.
 */
import { expect, type Locator } from '@playwright/test';
import jsQR from 'jsqr';

export async function readQr(img: Locator): Promise<string> {
  await expect(img).toBeVisible();
  const src = await img.getAttribute('src');
  if (src === null) throw new Error('the QR has no picture');
  // A string: this program has no DOM lib (the test runs in Node). The page decodes the PNG to pixels.
  const pixels = await img.page().evaluate<{ width: number; height: number; data: number[] }>(`(async () => {
    const el = new Image();
    el.src = ${JSON.stringify(src)};
    await el.decode();
    const c = document.createElement('canvas');
    c.width = el.naturalWidth;
    c.height = el.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(el, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height);
    return { width: d.width, height: d.height, data: Array.from(d.data) };
  })()`);
  const code = jsQR(Uint8ClampedArray.from(pixels.data), pixels.width, pixels.height);
  if (code === null) throw new Error('no QR code could be read');
  return code.data;
}
