/**
 * Download URLs that carry their own authorisation: /v1/files/<output id>/<file name>?expires=…&signature=…
 * The signature is an HMAC of the output id and expiry with an installation secret, so a URL cannot
 * be stretched in time or pointed at another tenant's file.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { HookwaveError } from '../errors.js';

export interface SignedUrl {
  url: string;
  expiresAt: Date;
}

export class UrlSigner {
  constructor(
    private readonly key: string,
    /** Where clients reach the API; set once the API knows the port it listens on. */
    public baseUrl: string,
    private readonly ttlSeconds: number,
  ) {}

  private mac(outputId: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${outputId}\n${expires}`).digest('base64url');
  }

  sign(outputId: string, fileName: string, now = Date.now()): SignedUrl {
    const expires = Math.floor(now / 1000) + this.ttlSeconds;
    const url = `${this.baseUrl}/v1/files/${outputId}/${encodeURIComponent(fileName)}?expires=${expires}&signature=${this.mac(outputId, expires)}`;
    return { url, expiresAt: new Date(expires * 1000) };
  }

  /** Throws SIGNATURE_INVALID for a tampered URL and URL_EXPIRED for an old one. */
  verify(outputId: string, expires: string | undefined, signature: string | undefined, now = Date.now()): void {
    const exp = Number(expires);
    if (!expires || !signature || !Number.isInteger(exp)) {
      throw new HookwaveError('SIGNATURE_INVALID', 'download URL is missing its expires or signature parameter');
    }
    const expected = Buffer.from(this.mac(outputId, exp));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new HookwaveError('SIGNATURE_INVALID', 'download URL signature does not match; request a fresh URL from GET /v1/tasks/:id');
    }
    if (exp * 1000 < now) {
      throw new HookwaveError('URL_EXPIRED', 'download URL has expired; GET /v1/tasks/:id returns fresh URLs');
    }
  }
}
