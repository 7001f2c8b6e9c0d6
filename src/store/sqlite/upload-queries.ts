/** Uploaded input files: the sqlite statements of UploadOps (ops/uploads.ts). */
import type { UploadRow } from '../../domain/types.js';
import type { UploadOps } from '../ops/uploads.js';
import type { Sync } from '../ops/ops.js';
import { SqliteQueries } from './sql.js';

export class SqliteUploadQueries extends SqliteQueries implements Sync<UploadOps> {
  insertUpload(u: UploadRow): void {
    this.s(
      `INSERT INTO uploads (id, tenant_id, file_name, path, size, format, duration, created_at, expires_at)
       VALUES (@id, @tenant_id, @file_name, @path, @size, @format, @duration, @created_at, @expires_at)`,
    ).run(u);
  }

  getUpload(tenantId: string, id: string): UploadRow | null {
    return (this.s('SELECT * FROM uploads WHERE id = ? AND tenant_id = ?').get(id, tenantId) as UploadRow | undefined) ?? null;
  }

  getUploadById(id: string): UploadRow | null {
    return (this.s('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined) ?? null;
  }

  listExpiredUploads(now: number, limit: number): UploadRow[] {
    return this.s('SELECT * FROM uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?').all(now, limit) as UploadRow[];
  }

  deleteUpload(id: string): void {
    this.s('DELETE FROM uploads WHERE id = ?').run(id);
  }
}
