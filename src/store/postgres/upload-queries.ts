/** Uploaded input files: the postgres statements of UploadOps (ops/uploads.ts). */
import type { UploadRow } from '../../domain/types.js';
import type { UploadOps } from '../ops/uploads.js';
import { PostgresQueries } from './sql.js';

export class PostgresUploadQueries extends PostgresQueries implements UploadOps {
  async insertUpload(u: UploadRow): Promise<void> {
    await this.insert('uploads', [u]);
  }

  getUpload(tenantId: string, id: string): Promise<UploadRow | null> {
    return this.one('SELECT * FROM uploads WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  getUploadById(id: string): Promise<UploadRow | null> {
    return this.one('SELECT * FROM uploads WHERE id = $1', [id]);
  }

  listExpiredUploads(now: number, limit: number): Promise<UploadRow[]> {
    return this.all('SELECT * FROM uploads WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2', [now, limit]);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.exec('DELETE FROM uploads WHERE id = $1', [id]);
  }
}
