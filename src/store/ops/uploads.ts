/** Uploaded input files, until they expire. */
import type { UploadRow } from '../../domain/types.js';
import type { OpNames } from './op-names.js';

export interface UploadOps {
  insertUpload(u: UploadRow): Promise<void>;
  getUpload(tenantId: string, id: string): Promise<UploadRow | null>;
  /** By id alone, for signed-URL downloads (the signature is the authorisation). */
  getUploadById(id: string): Promise<UploadRow | null>;
  listExpiredUploads(now: number, limit: number): Promise<UploadRow[]>;
  deleteUpload(id: string): Promise<void>;
}

export const UPLOAD_OPS: OpNames<UploadOps> = {
  insertUpload: true,
  getUpload: true,
  getUploadById: true,
  listExpiredUploads: true,
  deleteUpload: true,
};
