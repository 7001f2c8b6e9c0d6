/**
 * Download URLs that carry their own authorisation: /v1/files/<output id>/<file name>?expires=…&signature=…
 * The signature is an HMAC of the output id and expiry with an installation secret, so a URL cannot
 * be stretched in time or pointed at another tenant's file.
 *
 * With a bucket presigner (HOOKWAVE_S3_PRESIGN), outputs get URLs straight to the bucket instead,
 * signed by the bucket's credentials with the same lifetime.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { HookwaveError } from '../errors.js';

export interface SignedUrl {
  url: string;
  expiresAt: Date;
}

/** Signs URLs that the storage itself serves (a bucket's presigned GET). */
export interface BlobPresigner {
  presign(blobKey: string, fileName: string, ttlSeconds: number, now: number): SignedUrl;
  /** Where the presigned URLs point (scheme://host[:port]): the dashboard's CSP must allow it. */
  readonly origin: string;
}

export class UrlSigner {
  constructor(
    private readonly key: string,
    /** Where clients reach the API; set once the API knows the port it listens on. */
    public baseUrl: string,
    private readonly ttlSeconds: number,
    private readonly presigner: BlobPresigner | null = null,
  ) {}

  /** Origins other than the API's own that download URLs may point at. */
  get externalOrigins(): string[] {
    return this.presigner ? [this.presigner.origin] : [];
  }

  /** Over everything in the URL that names what is served and until when: id, file name, expiry. */
  private mac(outputId: string, fileName: string, expires: string): string {
    return createHmac('sha256', this.key).update(`${outputId}\n${fileName}\n${expires}`).digest('base64url');
  }

  /**
   * `blobKey` is where the file is stored; only with it can a bucket presign (a caller without it,
   * or without a presigner configured, gets hookwave's /v1/files URL, which works in every mode).
   */
  sign(outputId: string, fileName: string, now = Date.now(), blobKey?: string): SignedUrl {
    if (this.presigner && blobKey !== undefined) return this.presigner.presign(blobKey, fileName, this.ttlSeconds, now);
    const expires = String(Math.floor(now / 1000) + this.ttlSeconds);
    const url = `${this.baseUrl}/v1/files/${outputId}/${encodeURIComponent(fileName)}?expires=${expires}&signature=${this.mac(outputId, fileName, expires)}`;
    return { url, expiresAt: new Date(Number(expires) * 1000) };
  }

  /**
   * Throws SIGNATURE_INVALID for a tampered URL and URL_EXPIRED for an old one. `expires` has one
   * spelling (decimal digits, no sign, no leading zero): Number() would read "+N", "N.0", "0x…" and
   * " N " alike, giving one signature many URLs.
   */
  verify(outputId: string, fileName: string, expires: string | undefined, signature: string | undefined, now = Date.now()): void {
    if (!expires || !signature) throw new HookwaveError('SIGNATURE_INVALID', 'download URL is missing its expires or signature parameter');
    if (!/^[1-9][0-9]{0,11}$/.test(expires)) throw new HookwaveError('SIGNATURE_INVALID', 'download URL has a malformed expires parameter; use the URL exactly as GET /v1/tasks/:id gave it');
    const exp = Number(expires);
    const expected = Buffer.from(this.mac(outputId, fileName, expires));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new HookwaveError('SIGNATURE_INVALID', 'download URL signature does not match; request a fresh URL from GET /v1/tasks/:id');
    }
    if (exp * 1000 < now) {
      throw new HookwaveError('URL_EXPIRED', 'download URL has expired; GET /v1/tasks/:id returns fresh URLs');
    }
  }
}
