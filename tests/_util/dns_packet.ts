/**
 * A typed wrapper around the `dns-packet` npm codec, for tests.
 *
 * Tests build and check messages with `dns-packet` rather than the project's own wire code on
 * purpose, so a codec bug cannot hide by agreeing with itself.
 *
 * The types are a hand-written subset of dns-packet's: `@types/dns-packet` pulls in `@types/node`,
 * whose globals (e.g. `setTimeout(): Timeout`, node's `assert` overloads) would leak into every
 * file `deno check` sees and break correct Deno code. Plain `import dnsPacket from "npm:dns-packet@5.6.1"`
 * is untyped (`any`) in this project.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import dnsPacketUntyped from "npm:dns-packet@5.6.1";
import { Buffer } from "node:buffer";

/** A question as dns-packet encodes/decodes it (names without the trailing dot). */
export interface Question {
  name: string;
  type: string;
  class?: string;
}

interface BaseRecord {
  name: string;
  ttl?: number;
  class?: string;
  flush?: boolean;
}

/** A record whose data is a name or an address. */
export interface StringRecord extends BaseRecord {
  type: "A" | "AAAA" | "CNAME" | "DNAME" | "NS" | "PTR";
  data: string;
}

/** TXT: dns-packet decodes `data` as an array of Buffers (one per character-string). */
export interface TxtRecord extends BaseRecord {
  type: "TXT";
  data: string | Uint8Array | (string | Uint8Array)[];
}

/** SOA record data. */
export interface SoaData {
  mname: string;
  rname: string;
  serial?: number;
  refresh?: number;
  retry?: number;
  expire?: number;
  minimum?: number;
}

/** SOA record. */
export interface SoaRecord extends BaseRecord {
  type: "SOA";
  data: SoaData;
}

/** MX record. */
export interface MxRecord extends BaseRecord {
  type: "MX";
  data: { preference?: number; exchange: string };
}

/** Types whose data this subset leaves untyped (dns-packet's own shapes, or a raw Buffer). */
export interface OtherRecord extends BaseRecord {
  type: "SRV" | "CAA" | "HINFO" | "RRSIG" | "NSEC" | "NSEC3" | "DNSKEY" | "DS" | "NULL" | "HTTPS";
  data: unknown;
}

/** One EDNS option: `code` (number or dns-packet name such as `"PADDING"`) and raw `data`. */
export interface EdnsOption {
  code: number | string;
  data?: Uint8Array;
  [field: string]: unknown;
}

/** The EDNS OPT pseudo-record (name must be `"."`). */
export interface OptRecord {
  type: "OPT";
  name: string;
  udpPayloadSize: number;
  extendedRcode: number;
  ednsVersion: number;
  flags: number;
  flag_do: boolean;
  options: EdnsOption[];
  /** Never set: present so that `record.data` type-checks on any {@linkcode Answer}. */
  data?: undefined;
}

/** Any resource record (answer, authority or additional section). */
export type Answer = StringRecord | TxtRecord | SoaRecord | MxRecord | OtherRecord | OptRecord;

/** A message to encode; `flags` holds opcode, AA/TC/RD/RA/AD/CD and rcode (QR comes from `type`). */
export interface Packet {
  type?: "query" | "response";
  id?: number;
  flags?: number;
  questions?: Question[];
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/** A decoded message: every section present, plus the header bits spelled out. */
export interface DecodedPacket extends Packet {
  id: number;
  flags: number;
  questions: Question[];
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
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

interface DnsPacketModule {
  encode(packet: Packet): Buffer;
  decode(buf: Buffer): DecodedPacket;
  AUTHORITATIVE_ANSWER: number;
  TRUNCATED_RESPONSE: number;
  RECURSION_DESIRED: number;
  RECURSION_AVAILABLE: number;
  AUTHENTIC_DATA: number;
  CHECKING_DISABLED: number;
  DNSSEC_OK: number;
}

const codec: DnsPacketModule = dnsPacketUntyped;

/** Header flag bits (`Packet.flags`), and the DO bit of `OptRecord.flags`. */
export const FLAGS = {
  AA: codec.AUTHORITATIVE_ANSWER,
  TC: codec.TRUNCATED_RESPONSE,
  RD: codec.RECURSION_DESIRED,
  RA: codec.RECURSION_AVAILABLE,
  AD: codec.AUTHENTIC_DATA,
  CD: codec.CHECKING_DISABLED,
  DO: codec.DNSSEC_OK,
} as const;

/** Encodes with dns-packet; returns a plain Uint8Array (not a Buffer, so deepEqual behaves). */
export function encode(packet: Packet): Uint8Array {
  return new Uint8Array(codec.encode(toBuffers(packet) as Packet));
}

/** Decodes one DNS message (no length prefix) with dns-packet; throws on malformed input. */
export function decode(bytes: Uint8Array): DecodedPacket {
  return codec.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** EDNS settings for {@linkcode buildQuery}. */
export interface EdnsSettings {
  /** Default 1232. */
  udpSize?: number;
  /** DNSSEC OK bit; default false. */
  do?: boolean;
  options?: EdnsOption[];
}

/**
 * Builds a query for `name`/`type` (e.g. `"A"`). Defaults: random ID, RD set, EDNS with udp size
 * 1232 and no options (`edns: false` sends none).
 */
export function buildQuery(
  name: string,
  type: string,
  options: { id?: number; edns?: EdnsSettings | false; rd?: boolean } = {},
): Uint8Array {
  const edns = options.edns ?? {};
  const additionals: Answer[] = edns === false ? [] : [{
    type: "OPT",
    name: ".",
    udpPayloadSize: edns.udpSize ?? 1232,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: edns.do ? FLAGS.DO : 0,
    flag_do: edns.do ?? false,
    options: edns.options ?? [],
  }];
  return encode({
    type: "query",
    id: options.id ?? Math.floor(Math.random() * 0x10000),
    flags: options.rd === false ? 0 : FLAGS.RD,
    questions: [{ name, type, class: "IN" }],
    additionals,
  });
}

// dns-packet calls Buffer methods (e.g. `copy`) on binary fields, so plain Uint8Arrays nested in
// a packet (EDNS option data, TXT strings) are wrapped as Buffers before encoding.
function toBuffers(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(toBuffers);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toBuffers(v)]));
  }
  return value;
}
