/**
 * A camera that sees a QR code: Chromium's fake capture device reads its frames from a Y4M file
 * (`--use-file-for-fake-video-capture`), opened anew each time a page asks for the camera. `cameraBrowser`
 * launches a Chromium with that file; `showToCamera` writes into it the code a person holds up (black
 * modules on white, centred in a 640x480 frame), before the page opens its camera.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import QRCode from 'qrcode';

const W = 640;
const H = 480;

export interface Camera {
  readonly browser: Browser;
  /** The Y4M file the fake camera plays. */
  readonly file: string;
}

/** A Chromium whose camera plays `file` (a white frame until `showToCamera` writes a code into it). */
export async function cameraBrowser(): Promise<Camera> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'hale-camera-')), 'camera.y4m');
  writeFileSync(file, frames(null));
  const browser = await chromium.launch({
    executablePath: process.env['HALE_CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${file}`,
    ],
  });
  return { browser, file };
}

/** The camera sees a QR code of `text` from now on (the next time a page opens it). */
export function showToCamera(camera: Camera, text: string): void {
  writeFileSync(camera.file, frames(text));
}

/** A Y4M file (4:2:0) of a few identical frames: white, with the QR code of `text` in the middle. */
function frames(text: string | null): Buffer {
  const luma = Buffer.alloc(W * H, 235);
  if (text !== null) {
    const { size, data } = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
    const cell = Math.floor(Math.min(W, H) / (size + 8));
    const left = Math.floor((W - size * cell) / 2);
    const top = Math.floor((H - size * cell) / 2);
    for (let y = 0; y < size * cell; y++)
      for (let x = 0; x < size * cell; x++)
        if (data[Math.floor(y / cell) * size + Math.floor(x / cell)] === 1)
          luma[(top + y) * W + left + x] = 16;
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  const header = Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`);
  return Buffer.concat([header, frame, frame, frame]);
}
