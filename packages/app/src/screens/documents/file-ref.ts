// A document's file reference read from its record, checked field by field (a record's fields are plain
// JSON); and how a file's size reads.
import type { FileRef } from '@hale/client';

export const fileRefOf = (value: unknown): FileRef | null => {
  if (typeof value !== 'object' || value === null) return null;
  const f = new Map<string, unknown>(Object.entries(value));
  const blobId = f.get('blobId');
  const fileName = f.get('fileName');
  const mediaType = f.get('mediaType');
  const size = f.get('size');
  const sha256 = f.get('sha256');
  return typeof blobId === 'string' &&
    typeof fileName === 'string' &&
    typeof mediaType === 'string' &&
    typeof size === 'number' &&
    typeof sha256 === 'string'
    ? { blobId, fileName, mediaType, size, sha256 }
    : null;
};

export const formatBytes = (bytes: number): string =>
  bytes >= 1_000_000
    ? `${(bytes / 1_000_000).toFixed(1)} MB`
    : bytes >= 1000
      ? `${Math.round(bytes / 1000)} kB`
      : `${bytes} B`;

export const previewable = (mediaType: string): 'image' | 'pdf' | null =>
  mediaType.startsWith('image/') ? 'image' : mediaType === 'application/pdf' ? 'pdf' : null;
