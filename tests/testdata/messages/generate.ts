/**
 * Writes the hostile DNS message fixtures of this directory (see README.md).
 *
 * ```sh
 * deno run --allow-write=tests/testdata/messages tests/testdata/messages/generate.ts
 * ```
 *
 * The output is deterministic; `src/wire/fixtures_test.ts` checks that the
 * committed files are what this script writes.
 *
 * @module
 */

const encoder = new TextEncoder();

function header(flags: number, qd: number, an: number, ns: number, ar: number): number[] {
  const id = 0x1d0e;
  return [id, flags, qd, an, ns, ar].flatMap((value) => [value >> 8, value & 0xff]);
}

function name(text: string): number[] {
  const labels = text.split(".").filter((label) => label !== "");
  return [...labels.flatMap((label) => [label.length, ...encoder.encode(label)]), 0];
}

function pointer(offset: number): number[] {
  return [0xc0 | (offset >> 8), offset & 0xff];
}

const RD = 0x0100;
const QR = 0x8000;
/** "example.com" IN A: the question at offset 12, 17 octets. */
const QUESTION = [...name("example.com"), 0, 1, 0, 1];
/** After the header and QUESTION. */
const AFTER_QUESTION = 12 + QUESTION.length;
/** An A record's type, class, TTL and RDATA, after its owner name. */
const A_RR_TAIL = [0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1];

function opt(version: number): number[] {
  // root owner, TYPE 41, UDP size 1232, extended RCODE 0, version, DO, no options
  return [0, 0, 41, 0x04, 0xd0, 0, version, 0x80, 0, 0, 0];
}

/**
 * A query whose second answer's owner name is reached through `hops`
 * chained pointers (the first of them is the owner name itself).
 */
export function pointerChain(hops: number): number[] {
  const chain: number[] = [];
  // The first answer is a NULL record (type 10) whose RDATA holds hops - 1
  // pointers, each to the one before; the first points at the question name.
  const rdataStart = AFTER_QUESTION + 2 + 10;
  let previous = 12;
  for (let i = 0; i < hops - 1; i++) {
    chain.push(...pointer(previous));
    previous = rdataStart + 2 * i;
  }
  return [
    ...header(RD, 1, 2, 0, 0),
    ...QUESTION,
    ...pointer(12),
    ...[0, 10, 0, 1, 0, 0, 0, 0, chain.length >> 8, chain.length & 0xff],
    ...chain,
    ...pointer(previous),
    ...A_RR_TAIL,
  ];
}

/** A name of `octets` octets in wire form (labels of 63 "a" and one shorter). */
function longName(octets: number): number[] {
  const labels: number[] = [];
  let left = octets - 1;
  while (left > 0) {
    const length = Math.min(63, left - 1);
    labels.push(length, ...new Array(length).fill(0x61));
    left -= length + 1;
  }
  return [...labels, 0];
}

/** The fixtures, by file name. */
export const FIXTURES: Record<string, Uint8Array> = Object.fromEntries(
  Object.entries({
    "valid_query.bin": [...header(RD, 1, 0, 0, 1), ...QUESTION, ...opt(0)],
    "empty.bin": [],
    "short_11.bin": header(RD, 1, 0, 0, 0).slice(0, 11),
    "header_only.bin": header(RD, 0, 0, 0, 0),
    "qr_set.bin": [...header(RD | QR, 1, 0, 0, 0), ...QUESTION],
    "opcode_update.bin": [...header(5 << 11, 1, 0, 0, 0), ...name("example.com"), 0, 6, 0, 1],
    "qdcount_2.bin": [...header(RD, 2, 0, 0, 0), ...QUESTION, ...QUESTION],
    "truncated_question.bin": [...header(RD, 1, 0, 0, 0), ...QUESTION.slice(0, -3)],
    "count_beyond_data.bin": [...header(RD, 1, 1, 0, 0), ...QUESTION],
    // Answer owner: label "a", then a pointer back to that label.
    "pointer_loop.bin": [
      ...header(RD, 1, 1, 0, 0),
      ...QUESTION,
      1,
      0x61,
      ...pointer(AFTER_QUESTION),
      ...A_RR_TAIL,
    ],
    // Answer owner: a pointer to a name further on (in the answer's own RDATA).
    "forward_pointer.bin": [
      ...header(RD, 1, 1, 0, 0),
      ...QUESTION,
      ...pointer(AFTER_QUESTION + 12),
      ...[0, 5, 0, 1, 0, 0, 0, 60, 0, 5],
      ...name("www"),
    ],
    "pointer_chain_200.bin": pointerChain(200),
    "name_256_octets.bin": [...header(RD, 1, 0, 0, 0), ...longName(256), 0, 1, 0, 1],
    "opt_twice.bin": [...header(RD, 1, 0, 0, 2), ...QUESTION, ...opt(0), ...opt(0)],
    "edns_version_1.bin": [...header(RD, 1, 0, 0, 1), ...QUESTION, ...opt(1)],
  }).map(([file, bytes]) => [file, new Uint8Array(bytes)]),
);

if (import.meta.main) {
  for (const [file, bytes] of Object.entries(FIXTURES)) {
    Deno.writeFileSync(new URL(file, import.meta.url), bytes);
  }
}
