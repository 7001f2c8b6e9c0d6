/**
 * POST /v1/uploads: the request body is the file itself (any audio or video content type, or
 * application/octet-stream), streamed to disk; the answer's upload_id is usable as a task input.
 */
import type { FastifyInstance } from 'fastify';
import { Stream, type Readable } from 'node:stream';
import { HookwaveError, isHookwaveError } from '../../errors.js';
import type { UploadService } from '../../services/uploads.js';
import { errorReplies, resourceReply } from '../schemas.js';

export function uploadRoutes(app: FastifyInstance, uploads: UploadService): void {
  // Encapsulated: only this route accepts raw bodies; everything else stays JSON-only.
  void app.register(async (scope) => {
    const passThrough = (_req: unknown, payload: Readable, done: (err: Error | null, body?: unknown) => void) => done(null, payload);
    scope.addContentTypeParser('application/octet-stream', passThrough);
    scope.addContentTypeParser(/^(audio|video)\//, passThrough);
    scope.post<{ Headers: { 'x-file-name'?: string } }>(
      '/v1/uploads',
      {
        // Paced by rate and pauses, not by a deadline (body-pace.ts).
        config: { upload: true },
        schema: {
          tags: ['uploads'],
          summary: 'Upload an input file; use the upload_id as input.upload_id of a task',
          description: 'Send the raw file as the body (Content-Type application/octet-stream, audio/* or video/*), optionally with X-File-Name. The content is checked with ffprobe; uploads expire after 24 hours by default.',
          headers: { type: 'object', properties: { 'x-file-name': { type: 'string', maxLength: 255 } } },
          response: { 201: resourceReply('Upload', 'The file was stored and is a media file ffprobe can read'), ...errorReplies },
        },
      },
      async (req, reply) => {
        if (!(req.body instanceof Stream)) {
          throw new HookwaveError('UNSUPPORTED_MEDIA_TYPE', 'send the file itself as the body, with Content-Type application/octet-stream, audio/* or video/*');
        }
        const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
        let u;
        try {
          u = await uploads.create(req.tenant.id, req.body as Readable, req.headers['x-file-name'] ?? null, length);
        } catch (err) {
          // The rest of a refused body is not read; the connection cannot be reused.
          void reply.header('connection', 'close');
          if (isHookwaveError(err)) req.log.info({ code: err.code, tenant_id: req.tenant.id }, `upload refused: ${err.message}`);
          throw err;
        }
        return reply.status(201).send({
          success: true,
          upload_id: u.id,
          file_name: u.file_name,
          size: u.size,
          format: u.format,
          duration: u.duration,
          expires_at: new Date(u.expires_at).toISOString(),
        });
      },
    );
  });
}
