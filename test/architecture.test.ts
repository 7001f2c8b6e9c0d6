/**
 * The house's rule, held by a test: rooms sit on floors, and a file imports only from its own room
 * or from rooms on lower floors. So no two rooms depend on each other, domain/ stays pure, and a
 * newcomer can read the code bottom-up. docs/ARCHITECTURE.md draws the same floors.
 *
 * The client users' applications install (packages/client, @hookwave/client) stands apart: it
 * imports nothing of the server and depends on nothing but standardwebhooks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const CLIENT = path.resolve(import.meta.dirname, '../packages/client');

/** Floor of each room (a folder, or a shared leaf file at the top of src/). */
const FLOORS: Record<string, number> = {
  // shared leaves
  'errors.ts': 0,
  'ids.ts': 0,
  'version.ts': 0,
  'logger.ts': 0,
  // `hookwave/client`: @hookwave/client (packages/client) re-exported for older imports
  'client.ts': 0,
  'config.ts': 1,
  'fault-scope.ts': 1,
  // pure rules and shapes; edges of the process
  domain: 2,
  schema: 2,
  net: 2,
  media: 2,
  // durable state, files, audio work
  store: 3,
  blobs: 3,
  engines: 3,
  inputs: 3,
  // use cases over the store
  services: 4,
  'metrics.ts': 4,
  // the three roles of a process
  api: 5,
  worker: 5,
  webhooks: 5,
  // assembly, and the command line
  'runtime.ts': 6,
  cli: 7,
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

function roomOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

/** Every module specifier a file imports, relative or not. */
function specifiersOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

const IMPORT = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => path.resolve(path.dirname(file), (m[1] ?? m[2])!.replace(/\.js$/, '.ts')));
}

describe('the layout', () => {
  const files = sourceFiles(SRC);

  it('gives every room a floor', () => {
    const rooms = new Set(files.map(roomOf));
    expect([...rooms].filter((r) => !(r in FLOORS))).toEqual([]);
  });

  it('imports only from the same room or a lower floor', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = roomOf(file);
      for (const target of importsOf(file)) {
        const to = roomOf(target);
        if (to === from) continue;
        if (!(FLOORS[to]! < FLOORS[from]!)) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });
});

describe('the client package', () => {
  const files = sourceFiles(path.join(CLIENT, 'src'));

  it('imports only its own files, node: built-ins and standardwebhooks', () => {
    const foreign: string[] = [];
    for (const file of files) {
      for (const spec of specifiersOf(file)) {
        const own = spec.startsWith('.') && !path.relative(path.join(CLIENT, 'src'), path.resolve(path.dirname(file), spec)).startsWith('..');
        if (!own && !spec.startsWith('node:') && spec !== 'standardwebhooks') foreign.push(`${path.relative(CLIENT, file)} → ${spec}`);
      }
    }
    expect(files.length).toBeGreaterThan(0);
    expect(foreign).toEqual([]);
  });

  it('depends on standardwebhooks alone, so applications install nothing of the server', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(CLIENT, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string>; peerDependencies?: unknown };
    expect(pkg.name).toBe('@hookwave/client');
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['standardwebhooks']);
    expect(pkg.peerDependencies).toBeUndefined();
  });
});
