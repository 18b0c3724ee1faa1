/**
 * Random and mutated DNS messages for the fuzz test, from a seeded PRNG so
 * that a failure reproduces: bit flips, truncations, insertions, counts
 * beyond the data, compression-pointer loops and chains, oversized names and
 * labels, broken OPT records, odd header bits, and plain random octets.
 *
 * @module
 */

import { buildQuery } from "./dns_packet.ts";

/** mulberry32: a small, fast PRNG with a 32-bit state (good enough to pick mutations). */
export class Prng {
  #state: number;

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform integer in [0, 2^32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n). */
  below(n: number): number {
    return this.next() % n;
  }

  /** `length` random octets. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

const TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "PTR", "SRV", "CNAME", "ANY", "CAA"];

/** Well-formed queries to mutate: several names, types, with and without EDNS. */
export function baseQueries(prng: Prng, count = 64): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const labels = 1 + prng.below(4);
    const name = Array.from({ length: labels }, () => `l${prng.below(1000)}`).join(".") + ".fuzz";
    const edns = prng.below(3) === 0 ? false : { do: prng.below(2) === 0 };
    return buildQuery(name, prng.pick(TYPES), { id: i, edns });
  });
}

type Mutation = (prng: Prng, base: Uint8Array) => Uint8Array;

const MUTATIONS: readonly Mutation[] = [
  function valid(_prng, base) {
    return base.slice();
  },
  function flipBits(prng, base) {
    const out = base.slice();
    for (let n = 1 + prng.below(8); n > 0; n--) out[prng.below(out.length)]! ^= 1 << prng.below(8);
    return out;
  },
  function truncate(prng, base) {
    return base.slice(0, prng.below(base.length));
  },
  function insert(prng, base) {
    const at = prng.below(base.length + 1);
    return concat(base.subarray(0, at), prng.bytes(1 + prng.below(16)), base.subarray(at));
  },
  function countsBeyondData(prng, base) {
    const out = base.slice();
    const field = 4 + 2 * prng.below(4);
    out[field] = prng.below(2) === 0 ? 0xff : 0;
    out[field + 1] = prng.next() & 0xff;
    return out;
  },
  function pointerLoop(prng, base) {
    // The question's name is a pointer to itself, or two pointers that point at each other.
    const head = base.slice(0, 12);
    head[4] = 0;
    head[5] = 1;
    const loop = prng.below(2) === 0 ? [0xc0, 12] : [0xc0, 14, 0xc0, 12];
    return concat(head, new Uint8Array(loop), new Uint8Array([0, 1, 0, 1]));
  },
  function pointerChain(prng, base) {
    // Question "a." IN A; a first answer whose RDATA is a chain of pointers,
    // each to the one before (the first to the question's name); a second
    // answer whose owner is the last pointer of the chain.
    const head = base.slice(0, 12);
    head.set([0, 1, 0, 2, 0, 0, 0, 0], 4);
    const links = 1 + prng.below(300);
    const rdataStart = 12 + 7 + 12;
    const chain: number[] = [];
    for (let i = 0; i < links; i++) {
      const target = i === 0 ? 12 : rdataStart + 2 * (i - 1);
      chain.push(0xc0 | (target >> 8), target & 0xff);
    }
    const last = rdataStart + 2 * (links - 1);
    return concat(
      head,
      new Uint8Array([1, 0x61, 0, 0, 1, 0, 1]),
      new Uint8Array([0xc0, 12, 0, 10, 0, 1, 0, 0, 0, 60, chain.length >> 8, chain.length & 0xff]),
      new Uint8Array(chain),
      new Uint8Array([
        0xc0 | (last >> 8),
        last & 0xff,
        0,
        1,
        0,
        1,
        0,
        0,
        0,
        60,
        0,
        4,
        192,
        0,
        2,
        1,
      ]),
    );
  },
  function oversizedName(prng, base) {
    const head = base.slice(0, 12);
    head[4] = 0;
    head[5] = 1;
    const labels: number[] = [];
    const count = 4 + prng.below(10);
    for (let i = 0; i < count; i++) {
      const length = prng.below(5) === 0 ? 64 + prng.below(192) : 63; // 64+ is a bad label type
      labels.push(length, ...new Array(Math.min(length, 63)).fill(0x62));
    }
    labels.push(0);
    return concat(head, new Uint8Array(labels), new Uint8Array([0, 1, 0, 1]));
  },
  function brokenOpt(prng, base) {
    // A valid question, then 1-3 OPT records with lengths that may overrun.
    const head = base.slice(0, 12);
    const question = questionOf(base);
    const opts = 1 + prng.below(3);
    head[4] = 0;
    head[5] = 1;
    head[10] = 0;
    head[11] = opts;
    const parts = [head, question];
    for (let i = 0; i < opts; i++) {
      const rdata = prng.bytes(prng.below(20));
      const claimed = prng.below(3) === 0 ? rdata.length + prng.below(40) : rdata.length;
      const header = [0, 0, 41, prng.next() & 0xff, prng.next() & 0xff, 0, prng.below(3), 0x80, 0];
      parts.push(new Uint8Array([...header, claimed >> 8, claimed & 0xff]), rdata);
    }
    return concat(...parts);
  },
  function oddHeader(prng, base) {
    const out = base.slice();
    out[2] = prng.next() & 0xff; // QR, opcode, AA, TC, RD
    out[3] = prng.next() & 0xff; // RA, Z, AD, CD, RCODE
    return out;
  },
  function randomOctets(prng) {
    return prng.bytes(prng.below(600));
  },
];

/** One fuzz message: a mutation picked at random, applied to a base query picked at random. */
export function fuzzMessage(prng: Prng, bases: readonly Uint8Array[]): Uint8Array {
  return prng.pick(MUTATIONS)(prng, prng.pick(bases));
}

/** The question of a well-formed single-question query (name + type + class). */
function questionOf(query: Uint8Array): Uint8Array {
  let offset = 12;
  while (query[offset] !== 0) offset += query[offset]! + 1;
  return query.slice(12, offset + 5);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
