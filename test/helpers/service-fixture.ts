/**
 * What a test file that starts services as it goes shares: services with the file's settings (a
 * test overrides some), webhook receivers, and a one-second tone on a loopback file server for its
 * tasks to read. Everything started is closed after the file's last test.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../src/config.js';
import { startFileServer, type FileServer } from './file-server.js';
import { makeTone } from './media.js';
import { startReceiver, type Receiver } from './receiver.js';
import { startService, tempDir, type TestService } from './service.js';

export interface ServiceFixture {
  /** A service started with the file's settings and `overrides` on top. */
  service(overrides?: Partial<Config>): Promise<TestService>;
  receiver(): Promise<Receiver>;
  /** Where the one-second WAV tone is served (once the file's tests run). */
  toneUrl(): string;
}

/** Call once at the top of a test file: it registers the hooks that start the tone and close it all. */
export function serviceFixture(settings: Partial<Config> = {}): ServiceFixture {
  let files: FileServer;
  let tone: string;
  const services: TestService[] = [];
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    const dir = tempDir('hookwave-media-');
    tone = path.basename(await makeTone(dir, { seconds: 1, format: 'wav' }));
    files = await startFileServer(dir);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await Promise.all(receivers.map((r) => r.close()));
    await files?.close();
  });

  return {
    async service(overrides = {}) {
      const s = await startService({ ...settings, ...overrides });
      services.push(s);
      return s;
    },
    async receiver() {
      const r = await startReceiver();
      receivers.push(r);
      return r;
    },
    toneUrl: () => files.url(tone),
  };
}
