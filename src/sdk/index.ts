/** `hookwave/client`: the typed API client and webhook verification. */
export { Hookwave, type HookwaveOptions, type RequestOptions, type StreamOptions, type TargetProgress, type UploadOptions, type UploadSource, type WaitOptions } from './client.js';
export { HookwaveApiError, HookwaveConnectionError, HookwaveTimeoutError, WebhookVerificationError } from './errors.js';
export { expressWebhookMiddleware, fastifyWebhookVerifier, verifyWebhook, type RawBody, type VerifiedFastifyRequest, type VerifiedRequest, type WebhookHeaders } from './webhooks.js';
export * from './types.js';
