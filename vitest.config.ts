import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files whose subject is not the store: pure rules, the HTTP layer's own limits, engines and media,
 * the browser dashboard and the CLI's processes. They run once, on SQLite; the PostgreSQL half of
 * `npm test` (HOOKWAVE_TEST_DATABASE=postgres) runs every file that reads or writes durable state
 * through the store, so both stores are held to the same behaviour without running the browser,
 * the CLI and the engines twice (CI time).
 */
const storeAgnostic = [
  'architecture',
  'circuit-breaker',
  'receiver-slots',
  'url-guard',
  'sdk-types',
  'client-types',
  'client-kinds',
  'errors',
  'generate-engine',
  'extract-engine',
  'stems-engine',
  'engine-threads',
  'external-engine',
  'untrusted-media',
  'output-limits',
  'input-servers',
  'input-cache',
  'slow-requests',
  'request-log',
  'dashboard',
  'cli',
  'cli-commands',
  'kinds',
  // holds both stores to one table of cases itself, whichever store the run is for
  'store-contract',
].map((name) => `test/${name}.test.ts`);

export default defineConfig({
  // @hookwave/client from its TypeScript source, as tsconfig.json's hookwave-source condition has it:
  // tests never run against a stale build. (An alias, not resolve.conditions: those would also
  // change how every other package resolves.)
  resolve: { alias: { '@hookwave/client': fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(process.env.HOOKWAVE_TEST_DATABASE === 'postgres' ? storeAgnostic : [])],
    // A PostgreSQL for the run when the machine has none (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts real servers and ffmpeg processes; two cores do not gain from more forks.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
