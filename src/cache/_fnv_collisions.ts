/**
 * Keys crafted to collide under an unseeded 32-bit FNV-1a, for the test and
 * the benchmark of {@linkcode KeyTable} against hash flooding.
 *
 * The low k bits of FNV-1a depend only on the low k bits of the state and
 * of each character (a multiplication modulo 2^32 never carries downwards),
 * so an attacker who knows the basis steers any prefix into one home slot
 * with two chosen octets: for each first octet, one in 2^(k-8) lands the
 * bits above the second octet's reach on the target; the second octet then
 * sets the bits below. Every key is a wire-form name like a cache key's,
 * one character per octet, all below 256.
 *
 * @module
 */

const FNV_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** The inverse of FNV_PRIME modulo 2^32. */
const FNV_PRIME_INVERSE = 0x359c449b;

/**
 * Unseeded 32-bit FNV-1a over a string's code units (the hash the cache used
 * before it was seeded).
 *
 * @param key The key.
 * @returns The hash, as a signed 32-bit integer.
 */
export function unseededFnv1a(key: string): number {
  let hash = FNV_BASIS;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), FNV_PRIME);
  return hash;
}

/**
 * Makes distinct keys whose unseeded FNV-1a hashes share their low `bits`
 * bits (8 to 16), so that all of them have one home slot in any table of
 * up to 2^bits slots that uses those bits.
 *
 * @param count Keys wanted.
 * @param bits Low bits they share.
 * @param random A source of numbers in [0, 1), for the prefixes.
 * @returns The keys.
 */
export function fnvCollidingKeys(count: number, bits = 16, random = Math.random): string[] {
  const mask = 2 ** bits - 1;
  const target = 0x1234 & mask;
  // Every key ends with the same suffix (the end of a name, QTYPE A, QCLASS
  // IN, no flags): undo it from the target to get the state it must leave.
  const suffix = "\x04test\x00\x00\x01\x00\x01\x00";
  let want = target;
  for (let i = suffix.length - 1; i >= 0; i--) {
    want = (Math.imul(want, FNV_PRIME_INVERSE) ^ suffix.charCodeAt(i)) & mask;
  }
  // (state ^ second) * prime must be `want`: state ^ second = want * prime^-1.
  const beforeLast = Math.imul(want, FNV_PRIME_INVERSE) & mask;
  const keys = new Set<string>();
  for (let attempt = 0; keys.size < count && attempt < count * 64; attempt++) {
    const label = Array.from({ length: 8 }, () => String.fromCharCode(97 + random() * 26)).join("");
    const prefix = `\x0a${label}`;
    const state = unseededFnv1a(prefix);
    for (let first = 0; first < 256; first++) {
      const afterFirst = Math.imul(state ^ first, FNV_PRIME) & mask;
      if ((afterFirst & ~0xff) !== (beforeLast & ~0xff)) continue;
      const second = (afterFirst ^ beforeLast) & 0xff;
      keys.add(prefix + String.fromCharCode(first, second) + suffix);
      break;
    }
  }
  return [...keys];
}
