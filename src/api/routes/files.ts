/**
 * Downloads through signed, expiring URLs. The signature is the authorisation (like a presigned
 * bucket URL), so the links in a webhook work without an API key, for one hour by default.
 */
import { create as contentDisposition } from 'content-disposition';
import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../../blobs/blob-store.js';
import { contentTypeOf } from '../../blobs/content-types.js';
import type { UrlSigner } from '../../blobs/signed-url.js';
import { fileNameOf } from '../../domain/task-view.js';
import { HookwaveError } from '../../errors.js';
import type { Store } from '../../store/store.js';

export function fileRoutes(app: FastifyInstance, deps: { store: Store; signer: UrlSigner; blobs: BlobStore }): void {
  app.get<{ Params: { outputId: string; fileName: string }; Querystring: { expires?: string; signature?: string } }>(
    '/v1/files/:outputId/:fileName',
    {
      schema: {
        tags: ['files'],
        summary: 'Download an output through its signed URL',
        params: { type: 'object', properties: { outputId: { type: 'string', maxLength: 64 }, fileName: { type: 'string', maxLength: 200 } } },
        querystring: { type: 'object', properties: { expires: { type: 'string' }, signature: { type: 'string' } } },
        response: { 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 410: { $ref: 'Error#' }, 416: { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      deps.signer.verify(req.params.outputId, req.params.fileName, req.query.expires, req.query.signature);
      // Uploads are served the same way, so a model server can fetch a task's uploaded input.
      const file = req.params.outputId.startsWith('upl_') ? await uploadFile(deps.store, req.params.outputId) : await deps.store.getOutput(req.params.outputId);
      const size = file ? await deps.blobs.size(file.path) : null;
      // Deleted on purpose (its task was deleted, or retention): gone, not missing. Checked on the
      // row, so a file the sweep has not reached yet is already refused. An output row that is
      // gone under a valid signature was made here and pruned with its task (row retention).
      const expiresAt = (file as { expires_at?: number | null } | null)?.expires_at;
      const pruned = !file && !req.params.outputId.startsWith('upl_');
      if (pruned || (file && expiresAt != null && expiresAt <= Date.now())) throw new HookwaveError('GONE', 'this file was deleted: its task was deleted, or it outlived the output retention period');
      if (!file || size === null) throw new HookwaveError('NOT_FOUND', 'this file no longer exists');
      const output = file;

      const range = parseRange(req.headers.range, size);
      void reply
        .header('content-type', contentTypeOf(output.format))
        // Built by the library: an uploaded file's name is the client's, quotes and all.
        .header('content-disposition', contentDisposition(fileNameOf(output)))
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'private, max-age=300');
      if (range === 'invalid') {
        void reply.header('content-range', `bytes */${size}`);
        throw new HookwaveError('VALIDATION_ERROR', `Range does not fit a file of ${size} bytes`, { field: 'Range' }, 416);
      }
      if (range) {
        void reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1);
        return reply.send(await deps.blobs.open(output.path, range));
      }
      void reply.header('content-length', size);
      return reply.send(await deps.blobs.open(output.path));
    },
  );
}

async function uploadFile(store: Store, id: string): Promise<{ path: string; name: string; format: string } | null> {
  const u = await store.getUploadById(id);
  return u ? { path: u.path, name: u.file_name?.replace(/\.[^.]+$/, '') ?? 'input', format: u.format?.split(',')[0] ?? 'bin' } : null;
}

/** One `bytes=a-b` range (what audio players send); multi-range requests get the whole file. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (!suffix) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}
