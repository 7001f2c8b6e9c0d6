/** `@hookwave/client`: the typed API client and webhook verification, with no server dependencies. */
export { Hookwave, type HookwaveOptions, type RequestOptions, type RunOptions, type StreamOptions, type TargetProgress, type UploadOptions, type UploadSource, type WaitOptions } from './client.js';
export { HookwaveApiError, HookwaveConnectionError, HookwaveTaskFailedError, HookwaveTimeoutError, WebhookVerificationError } from './errors.js';
export { expressWebhookMiddleware, fastifyWebhookVerifier, verifyWebhook, type RawBody, type VerifiedFastifyRequest, type VerifiedRequest, type WebhookHeaders, type WebhookPlugin } from './webhooks.js';
export * from './kinds.js';
export * from './types.js';
