/**
 * `hookwave/client`, kept for applications that imported the client from the server's package:
 * the client lives in @hookwave/client now, which installs without the server's dependencies.
 */
export * from '@hookwave/client';
