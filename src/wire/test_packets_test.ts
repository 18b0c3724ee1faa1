/**
 * Test helpers shared by the wire tests: typed access to dns-packet (the
 * independent decoder and encoder the codec is checked against), an encoder
 * that compresses names (dns-packet never does), a seeded PRNG and a random
 * message generator. It holds no tests (`test_packets_self_test.ts` checks
 * it); the name only lets it live among the test files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import dnsPacket from "npm:dns-packet@5.6.1";
import type { MessageLayout } from "./message.ts";

/** An EDNS option as dns-packet decodes it (and as {@linkcode encodeCompressed} takes it). */
export interface PacketOption {
  code: number;
  data: Uint8Array;
}

/** A record as dns-packet decodes it; OPT records use the EDNS fields. */
export interface PacketRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  // deno-lint-ignore no-explicit-any
  data?: any;
  udpPayloadSize?: number;
  extendedRcode?: number;
  ednsVersion?: number;
  flags?: number;
  flag_do?: boolean;
  options?: PacketOption[];
}

/** A question as dns-packet decodes it. */
export interface PacketQuestion {
  name: string;
  type: string;
  class?: string;
}

/** A message as dns-packet takes and decodes it. */
export interface Packet {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  questions?: PacketQuestion[];
  answers?: PacketRecord[];
  authorities?: PacketRecord[];
  additionals?: PacketRecord[];
}

/** A decoded message, with dns-packet's header fields. */
export interface DecodedPacket extends Required<Packet> {
  opcode: string;
  rcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  flag_z: boolean;
  flag_ad: boolean;
  flag_cd: boolean;
}

/** dns-packet's flag constants. */
export const FLAGS = {
  AA: dnsPacket.AUTHORITATIVE_ANSWER as number,
  TC: dnsPacket.TRUNCATED_RESPONSE as number,
  RD: dnsPacket.RECURSION_DESIRED as number,
  RA: dnsPacket.RECURSION_AVAILABLE as number,
  AD: dnsPacket.AUTHENTIC_DATA as number,
  CD: dnsPacket.CHECKING_DISABLED as number,
  DO: dnsPacket.DNSSEC_OK as number,
} as const;

/** Encodes with dns-packet (no name compression). */
export function encode(packet: Packet): Uint8Array {
  return new Uint8Array(dnsPacket.encode(packet));
}

/** Decodes with dns-packet. */
export function decode(bytes: Uint8Array): DecodedPacket {
  return dnsPacket.decode(Buffer.from(bytes));
}

/** Bytes of an ASCII string. */
export function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A 12-octet header. */
export function header(
  id: number,
  flags: number,
  qd: number,
  an: number,
  ns: number,
  ar: number,
): number[] {
  return [id, flags, qd, an, ns, ar].flatMap((value) => [value >> 8 & 0xff, value & 0xff]);
}

/** The wire form of a name, without compression. */
export function wireName(name: string): number[] {
  const labels = name.replace(/^\.|\.$/g, "").split(".").filter((label) => label !== "");
  return [...labels.flatMap((label) => [label.length, ...ascii(label)]), 0];
}

/** Encodes like dns-packet but compresses names, also inside CNAME/NS/MX/SOA RDATA. */
export function encodeCompressed(packet: Packet): Uint8Array {
  const out: number[] = [];
  const seen = new Map<string, number>();
  const u16 = (value: number) => out.push(value >> 8 & 0xff, value & 0xff);
  const u32 = (value: number) => out.push(...[24, 16, 8, 0].map((s) => value >>> s & 0xff));
  const name = (text: string) => {
    const labels = text.replace(/^\.|\.$/g, "").split(".").filter((label) => label !== "");
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join("."); // case-sensitive: decoding restores the case
      const target = seen.get(suffix);
      if (target !== undefined) return u16(0xc000 | target);
      if (out.length < 0x4000) seen.set(suffix, out.length);
      out.push(labels[i]!.length, ...ascii(labels[i]!));
    }
    out.push(0);
  };
  const record = (r: PacketRecord) => {
    name(r.name);
    if (r.type === "OPT") {
      u16(41);
      u16(r.udpPayloadSize ?? 4096);
      out.push(r.extendedRcode ?? 0, r.ednsVersion ?? 0);
      u16(r.flags ?? 0);
    } else {
      u16(TYPES[r.type]!);
      u16(r.class === "CH" ? 3 : 1);
      u32(r.ttl ?? 0);
    }
    const rdlength = out.length;
    u16(0);
    if (r.type === "OPT") {
      for (const option of r.options ?? []) {
        u16(option.code);
        u16(option.data.length);
        out.push(...option.data);
      }
    } else if (r.type === "CNAME" || r.type === "NS") name(r.data);
    else if (r.type === "MX") {
      u16(r.data.preference);
      name(r.data.exchange);
    } else if (r.type === "SOA") {
      name(r.data.mname);
      name(r.data.rname);
      [r.data.serial, r.data.refresh, r.data.retry, r.data.expire, r.data.minimum].forEach(u32);
    } else {
      // A, AAAA, TXT: no names inside, dns-packet's RDATA encoding will do.
      const rdata = dnsPacket.record(r.type).encode(r.data);
      out.push(...rdata.subarray(2));
    }
    const length = out.length - rdlength - 2;
    out[rdlength] = length >> 8;
    out[rdlength + 1] = length & 0xff;
  };
  const sections = [packet.answers ?? [], packet.authorities ?? [], packet.additionals ?? []];
  const flags = (packet.flags ?? 0) | (packet.type === "response" ? 0x8000 : 0);
  const questions = packet.questions ?? [];
  out.push(...header(packet.id ?? 0, flags, questions.length, ...sectionCounts(sections)));
  for (const q of questions) {
    name(q.name);
    u16(TYPES[q.type]!);
    u16(q.class === "CH" ? 3 : 1);
  }
  sections.flat().forEach(record);
  return new Uint8Array(out);
}

function sectionCounts(sections: PacketRecord[][]): [number, number, number] {
  return [sections[0]!.length, sections[1]!.length, sections[2]!.length];
}

/** Type numbers of the record types the helpers generate. */
export const TYPES: Record<string, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
};

/** A small deterministic PRNG (mulberry32). */
export class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

const LABEL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/** A random name in mixed case, at most 255 octets in wire form; sometimes the root. */
export function randomName(prng: Prng, suffixes: readonly string[] = []): string {
  if (prng.int(0, 20) === 0) return ".";
  const labels: string[] = [];
  let wireLength = 1;
  const count = prng.int(1, 6);
  for (let i = 0; i < count; i++) {
    const length = prng.int(0, 9) === 0 ? prng.int(20, 63) : prng.int(1, 12);
    if (wireLength + length + 1 > 200) break;
    labels.push(Array.from({ length }, () => prng.pick([...LABEL_CHARS])).join(""));
    wireLength += length + 1;
  }
  // Reusing a suffix of an earlier name gives the compressing encoder work.
  if (suffixes.length > 0 && prng.int(0, 1) === 0) {
    const suffix = prng.pick(suffixes);
    if (suffix !== "." && wireLength + suffix.length + 1 <= 255) labels.push(suffix);
  }
  return labels.length === 0 ? "." : labels.join(".");
}

const RANDOM_TYPES = ["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA"] as const;

/** A random record of one of the types the helpers know, not OPT. */
export function randomRecord(prng: Prng, names: string[]): PacketRecord {
  const type = prng.pick(RANDOM_TYPES);
  const name = randomName(prng, names);
  names.push(name);
  const ttl = prng.pick([0, 1, 300, 0x7fffffff, 0x80000000, 0xffffffff, prng.int(0, 0xffffffff)]);
  const otherName = () => {
    const other = randomName(prng, names);
    names.push(other);
    return other;
  };
  // deno-lint-ignore no-explicit-any
  let data: any;
  if (type === "A") data = Array.from({ length: 4 }, () => prng.int(0, 255)).join(".");
  else if (type === "AAAA") data = `2001:db8::${prng.int(0, 0xffff).toString(16)}`;
  else if (type === "CNAME" || type === "NS") data = otherName();
  else if (type === "MX") data = { preference: prng.int(0, 65535), exchange: otherName() };
  else if (type === "TXT") {
    data = Array.from({ length: prng.int(1, 3) }, () => "x".repeat(prng.int(0, 255)));
  } else {
    const [serial, refresh, retry, expire, minimum] = Array.from(
      { length: 5 },
      () => prng.int(0, 0xffffffff),
    );
    data = { mname: otherName(), rname: otherName(), serial, refresh, retry, expire, minimum };
  }
  return { name, type, class: "IN", ttl, data };
}

/** A random valid message: 0 or 1 question, random sections, maybe an OPT (always last). */
export function randomPacket(prng: Prng): Packet {
  const names: string[] = [];
  const questionName = randomName(prng);
  names.push(questionName);
  const records = (max: number) =>
    Array.from({ length: prng.int(0, max) }, () => randomRecord(prng, names));
  const additionals = records(3);
  if (prng.int(0, 1) === 0) {
    const options = prng.int(0, 1) === 0
      ? []
      : [{ code: prng.pick([10, 12, 15]), data: new Uint8Array(prng.int(0, 12)) }];
    additionals.push({
      name: ".",
      type: "OPT",
      udpPayloadSize: prng.pick([512, 1232, 4096, 65535]),
      extendedRcode: prng.int(0, 1),
      ednsVersion: 0,
      flags: prng.int(0, 1) === 0 ? FLAGS.DO : 0,
      options,
    });
  }
  return {
    id: prng.int(0, 65535),
    type: prng.int(0, 1) === 0 ? "query" : "response",
    flags: prng.int(0, 0x7fff) & ~0x7800, // opcode QUERY, random other bits
    questions: prng.int(0, 9) === 0 ? [] : [{ name: questionName, type: prng.pick(RANDOM_TYPES) }],
    answers: records(6),
    authorities: records(3),
    additionals,
  };
}

/** Encodes an OPT record's options for dns-packet's encoder (which wants Buffers). */
export function forDnsPacket(packet: Packet): Packet {
  const fix = (records: PacketRecord[] | undefined) =>
    records?.map((r) =>
      r.options
        ? { ...r, options: r.options.map((o) => ({ code: o.code, data: Buffer.from(o.data) })) }
        : r
    );
  return {
    ...packet,
    answers: fix(packet.answers) ?? [],
    authorities: fix(packet.authorities) ?? [],
    additionals: fix(packet.additionals) ?? [],
  };
}

/** A packet's records as `{name, type, ttl}` for comparisons (OPT records without TTL). */
export function summary(records: PacketRecord[]): unknown[] {
  return records.map((r) => ({ name: r.name, type: r.type, ttl: r.type === "OPT" ? -1 : r.ttl }));
}

/** The type number of a type name dns-packet decoded. */
export function typeNumber(type: string): number {
  const known = TYPES[type];
  if (known !== undefined) return known;
  const match = /^UNKNOWN_(\d+)$/.exec(type);
  assert.ok(match, `unexpected type ${type}`);
  return Number(match[1]);
}

/**
 * Checks a layout from `parseMessage` against dns-packet's decoding of the same
 * bytes: question count, type, class and end, the OPT fields, and that the
 * records end where the message does.
 */
export function assertLayoutMatches(bytes: Uint8Array, layout: MessageLayout): void {
  const decoded = decode(bytes);
  assert.equal(layout.questionCount, decoded.questions.length);
  if (layout.questionCount === 1) {
    const question = decoded.questions[0]!;
    assert.equal(layout.qtype, typeNumber(question.type));
    assert.equal(layout.qclass, question.class === "CH" ? 3 : 1);
    assert.equal(layout.questionEnd, 12 + wireName(question.name).length + 4);
  } else {
    assert.deepEqual([layout.qtype, layout.qclass, layout.questionEnd], [-1, -1, 12]);
  }
  const opts = decoded.additionals.filter((r) => r.type === "OPT");
  assert.ok(opts.length <= 1);
  const opt = opts[0];
  if (opt === undefined) {
    assert.equal(layout.edns, null);
  } else {
    assert.ok(layout.edns);
    assert.equal(layout.edns.udpSize, opt.udpPayloadSize);
    assert.equal(layout.edns.extendedRcode, opt.extendedRcode);
    assert.equal(layout.edns.version, opt.ednsVersion);
    assert.equal(layout.edns.dnssecOk, opt.flag_do);
    const index = decoded.additionals.indexOf(opt);
    assert.equal(layout.edns.recordsAfter, decoded.additionals.length - index - 1);
  }
}

/** A name of mixed-case letters whose wire form is `octets` long (1 or 3 and more). */
export function nameWithWireLength(octets: number): string {
  const labels: string[] = [];
  let left = octets - 1;
  while (left > 0) {
    let take = Math.min(64, left);
    if (left - take === 1) take--;
    labels.push(Array.from({ length: take - 1 }, (_, i) => "aBcD"[i % 4]).join(""));
    left -= take;
  }
  return labels.length === 0 ? "." : labels.join(".");
}
