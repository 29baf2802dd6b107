/** A source of uniform integers, injected into the engine so draws are testable and deterministic in tests. */
export interface Random {
  /** A uniform integer in [min, max], both inclusive. Exact for any range of at most 2^53 values. */
  int(min: number, max: number): number;
}

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

/**
 * Maps uniform 53-bit integers onto [min, max] without modulo bias: draws in the incomplete last block
 * of size-multiples below 2^53 are rejected and redrawn (at most half of draws, usually almost none).
 */
function uniformInt(min: number, max: number, next53: () => number): number {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
    throw new Error("Random.int needs safe integers with min <= max");
  }
  if (max - min > Number.MAX_SAFE_INTEGER) throw new Error("Random.int range is wider than 2^53 values");
  const size = max - min + 1;
  if (size === 1) return min;
  // Both operands are integers at most 2^53, so % and - are exact in floating point.
  const limit = TWO_POW_53 - (TWO_POW_53 % size);
  for (;;) {
    const r = next53();
    if (r < limit) return min + (r % size);
  }
}

/** Two 32-bit outputs combined into a uniform integer in [0, 2^53). */
function combine53(high: number, low: number): number {
  return (high >>> 11) * TWO_POW_32 + low;
}

/** splitmix32: spreads a seed over the generator's state so nearby seeds give unrelated streams. */
function splitmix32(seed: number): () => number {
  let x = seed | 0;
  return () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
}

/** A deterministic generator (sfc32) for tests and simulations. Not for real deals: use secureRandom. */
export function seededRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new Error("seededRandom needs a finite seed");
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_POW_32) >>> 0;
  const mix = splitmix32(low ^ Math.imul(high, 0x85ebca6b));
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const next32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32();
  const next53 = () => combine53(next32(), next32());
  return { int: (min, max) => uniformInt(min, max, next53) };
}

// Typed structurally so common needs neither DOM nor Node typings; Web Crypto exists in Node 20 and browsers.
interface WebCryptoLike {
  getRandomValues(array: Uint32Array): Uint32Array;
}

const SECURE_BATCH = 256;

/** Cryptographically secure draws from Web Crypto, as RULES.md requires for deal amounts. */
export function secureRandom(): Random {
  const webCrypto = (globalThis as { crypto?: WebCryptoLike }).crypto;
  if (!webCrypto || typeof webCrypto.getRandomValues !== "function") {
    throw new Error("Web Crypto getRandomValues is not available");
  }
  // Batched because getRandomValues per draw dominates the cost of a draw.
  const buffer = new Uint32Array(SECURE_BATCH);
  let index = SECURE_BATCH;
  const next32 = (): number => {
    if (index === SECURE_BATCH) {
      webCrypto.getRandomValues(buffer);
      index = 0;
    }
    return buffer[index++]!;
  };
  const next53 = () => combine53(next32(), next32());
  return { int: (min, max) => uniformInt(min, max, next53) };
}
