import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// Works from src/ (tsx) and dist/ alike: both sit one level below package.json.
export const VERSION: string = (require('../package.json') as { version: string }).version;
export const USER_AGENT = `hookwave/${VERSION}`;
