// Draws the installed web app's icons as PNG files into packages/app/src/sw/icons (run:
// `npx tsx packages/release/bin/make-icons.ts`):
// a white cross on Hale's teal, as a rounded square for `any` icons and full-bleed for the `maskable`
// one (the cross inside the 80% safe zone). No image library: PNG is a zlib stream with a few chunks.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

export const TEAL = [0x0b, 0x72, 0x85] as const;

const chunk = (type: string, data: Buffer): Buffer => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
};

/** An RGBA PNG of `size`² pixels; `coverage(x, y)` (0..1, in units of the size) for [background, cross]. */
export function png(size: number, shape: (x: number, y: number) => readonly [number, number]): Buffer {
  const rows: Buffer[] = [];
  const S = 4; // 4×4 samples a pixel
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let px = 0; px < size; px++) {
      let bg = 0;
      let fg = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const [b, f] = shape((px + (sx + 0.5) / S) / size, (py + (sy + 0.5) / S) / size);
          bg += b;
          fg += f;
        }
      }
      bg /= S * S;
      fg /= S * S;
      const alpha = Math.max(bg, fg);
      const mix = alpha === 0 ? 0 : fg / alpha;
      const o = 1 + px * 4;
      for (let c = 0; c < 3; c++) row[o + c] = Math.round(TEAL[c]! * (1 - mix) + 255 * mix);
      row[o + 3] = Math.round(alpha * 255);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const inRoundedSquare = (x: number, y: number, r: number): boolean => {
  const cx = Math.min(Math.max(x, r), 1 - r);
  const cy = Math.min(Math.max(y, r), 1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
};

const inCross = (x: number, y: number, scale: number): boolean => {
  const arm = 0.11 * scale;
  const reach = 0.31 * scale;
  const dx = Math.abs(x - 0.5);
  const dy = Math.abs(y - 0.5);
  return (dx <= arm && dy <= reach) || (dy <= arm && dx <= reach);
};

const anyIcon = (x: number, y: number): readonly [number, number] => {
  const inside = inRoundedSquare(x, y, 0.2);
  return [inside ? 1 : 0, inside && inCross(x, y, 1) ? 1 : 0];
};
const maskable = (x: number, y: number): readonly [number, number] => [1, inCross(x, y, 0.8) ? 1 : 0];

export const ICONS = [
  { file: 'icon-192.png', size: 192, shape: anyIcon },
  { file: 'icon-512.png', size: 512, shape: anyIcon },
  { file: 'icon-maskable-512.png', size: 512, shape: maskable },
  { file: 'apple-touch-icon.png', size: 180, shape: maskable },
  { file: 'favicon-32.png', size: 32, shape: anyIcon },
] as const;

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const out = path.resolve(import.meta.dirname, '../../app/src/sw/icons');
  for (const icon of ICONS) writeFileSync(path.join(out, icon.file), png(icon.size, icon.shape));
}
