import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

let lastMs = 0;
const lastRandom = Buffer.alloc(10);
// Random bytes drawn 4 KB at a time: one call into the CSPRNG per ~400 ids instead of one each.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

/** Fresh random bits into `lastRandom`; each pool byte is used once. */
function refreshRandom(): void {
  if (poolAt + 10 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  pool.copy(lastRandom, 0, poolAt, (poolAt += 10));
}

/**
 * `prefix_` + 26 chars: 48-bit millisecond time then 80 random bits (ULID layout), so ids sort by
 * creation time — list pagination orders by id alone. Within one millisecond the random part is
 * incremented, keeping ids monotonic inside this process.
 */
export function newId(prefix: string): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    ms = lastMs;
    increment(lastRandom);
  } else {
    lastMs = ms;
    refreshRandom();
  }
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  // 80 random bits = 16 base32 characters, taken as two 40-bit halves (exact in a double).
  let rand = '';
  for (let half = 0; half < 2; half++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) bits = bits * 256 + lastRandom[half * 5 + i]!;
    let chunk = '';
    for (let i = 0; i < 8; i++) {
      chunk = ALPHABET[bits % 32] + chunk;
      bits = Math.floor(bits / 32);
    }
    rand += chunk;
  }
  return `${prefix}_${out}${rand}`;
}

function increment(buf: Buffer): void {
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 255) {
      buf[i]!++;
      return;
    }
    buf[i] = 0;
  }
}

/** The smallest id of `prefix` created at `ms`: a cursor meaning "from this time on". */
export function idAt(prefix: string, ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${out}${'0'.repeat(16)}`;
}

export function isId(prefix: string, value: string): boolean {
  return value.length === prefix.length + 27 && value.startsWith(`${prefix}_`) && /^[0-9a-hjkmnp-tv-z]+$/.test(value.slice(prefix.length + 1));
}
