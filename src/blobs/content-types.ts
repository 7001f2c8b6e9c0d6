/**
 * Media types by output format. Shared by the download route and the bucket store, so a file served
 * by hookwave and the same file fetched straight from a bucket carry the same Content-Type.
 */
const CONTENT_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  opus: 'audio/ogg; codecs=opus',
  m4a: 'audio/mp4',
};

export function contentTypeOf(format: string): string {
  return CONTENT_TYPES[format] ?? 'application/octet-stream';
}

/** From a blob key's extension (`…/out_x.mp3`); upload keys have none and stay octet-stream. */
export function contentTypeOfKey(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? contentTypeOf(base.slice(dot + 1).toLowerCase()) : 'application/octet-stream';
}
