// Test harness (harness-blobs): Blobs over HTTP: manifests, chunk uploads and downloads.
// Re-exported by harness.ts, which tests import.
import { base64urlEncode, sha256 } from '@hale/crypto';
import { type Endpoint, http } from './harness-server';

// ---- blobs over HTTP ----

export interface BlobManifestInput {
  blobId: string;
  stream: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
  digests: string[];
  /** The key epoch the chunks are sealed under; 0 (a stream without envelopes) when left out. */
  epoch?: number;
}

export const digestOf = (bytes: Uint8Array): string => base64urlEncode(sha256(bytes));

export const createBlob = (t: Endpoint, token: string | undefined, manifest: BlobManifestInput) =>
  http(t.url, 'POST', '/v1/blobs', { epoch: 0, ...manifest }, token);

export const putChunk = async (
  t: Endpoint,
  token: string | undefined,
  blobId: string,
  index: number,
  bytes: Uint8Array,
): Promise<{ status: number; body: unknown }> => {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${t.url}/v1/blobs/${blobId}/chunks/${index}`, {
    method: 'PUT',
    headers,
    body: bytes,
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
};

/** A chunk's bytes on 200, else the JSON error body. */
export const getChunk = async (
  t: Endpoint,
  token: string | undefined,
  blobId: string,
  index: number,
): Promise<{ status: number; bytes?: Uint8Array; body?: unknown; contentType: string | null }> => {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${t.url}/v1/blobs/${blobId}/chunks/${index}`, { headers });
  const contentType = res.headers.get('content-type');
  if (res.status === 200) return { status: 200, bytes: new Uint8Array(await res.arrayBuffer()), contentType };
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown, contentType };
  } catch {
    return { status: res.status, body: text, contentType };
  }
};
