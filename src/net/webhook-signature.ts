/**
 * Standard Webhooks signing (standardwebhooks.com): HMAC-SHA256 over "id.timestamp.body" with the
 * base64 secret after its "whsec_" prefix; header value "v1,<base64>". Several secrets (during a
 * rotation) give several space-separated signatures.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

const keyCache = new Map<string, Buffer>();

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  let key = keyCache.get(secret);
  if (!key) {
    key = secretKey(secret);
    if (keyCache.size > 10_000) keyCache.clear();
    keyCache.set(secret, key);
  }
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
}

export function signatureHeaders(secrets: string[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampSeconds, body)).join(' '),
  };
}
