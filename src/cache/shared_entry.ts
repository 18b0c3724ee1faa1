/**
 * The answer a {@linkcode SharedCache} lookup returns: a copy of a shared
 * record, read out under the shard's lock (its bytes are then the worker's
 * own), and the DNSSEC state codes a record stores.
 *
 * @module
 */

import { allocateBytes } from "../wire/byte_slab.ts";
import type { AnswerSecurity } from "../wire/responses.ts";
import type { CachedAnswer } from "./answer_cache.ts";
import {
  R_DATA,
  R_ERRORS_LENGTH,
  R_EXT_RCODE,
  R_FAILED,
  R_KEY_LENGTH,
  R_MESSAGE_LENGTH,
  R_OFFSETS_COUNT,
  R_QUESTION_END,
  R_SECURE_FOR,
  R_SERIAL,
  R_STORED,
  R_TTL,
  type ShardTable,
  UNKNOWN_OFFSETS,
} from "./shard_table.ts";

const NO_ERRORS: readonly Uint8Array[] = Object.freeze([]);

/**
 * The DNSSEC states a record can hold, by their code in the upper half of
 * the record's extended-rcode word (an extended rcode needs 12 bits); code 0
 * is "not validated" (validation off).
 */
const SECURITY_STATES: readonly (AnswerSecurity | undefined)[] = [
  undefined,
  "secure",
  "insecure",
  "bogus",
  "indeterminate",
  "unchecked",
];

/**
 * The code a record stores for a DNSSEC state.
 *
 * @param security The state.
 * @returns Its code (0 for not validated).
 */
export function securityCode(security: AnswerSecurity | undefined): number {
  return security === undefined ? 0 : SECURITY_STATES.indexOf(security);
}

/** Where a copied-out record lives, to write back what the resolver learns about it. */
export interface RecordLocation {
  readonly base: number;
  readonly record: number;
  readonly serial: number;
}

/** What writes a copy's changes back to its shared record. */
export interface RecordWriter {
  /** Writes a failed refresh's time into the record, if it is still the one copied out. */
  noteRefreshFailure(location: RecordLocation, at: number): void;
  /** Keeps the TTL offsets found on a hit in the record, if it is still the one copied out. */
  noteOffsets(location: RecordLocation, offsets: readonly number[]): void;
}

/**
 * A copy of a shared entry. A failed refresh and the TTL offsets found on a
 * hit are written back to the shared record, so every worker sees them.
 */
export class SharedEntry implements CachedAnswer {
  readonly message: Uint8Array;
  readonly questionEnd: number;
  readonly extendedRcode: number;
  /** The DNSSEC state it was stored with: a cached answer never upgrades itself. */
  readonly security: AnswerSecurity | undefined;
  readonly secureFor: number | undefined;
  readonly errors: readonly Uint8Array[];
  readonly storedAt: number;
  readonly ttl: number;
  hits: number;
  readonly #writer: RecordWriter;
  readonly #location: RecordLocation;
  #refreshFailedAt: number;
  #offsets: readonly number[] | null;

  /**
   * Copies a record out of the cache's memory (under the shard's lock).
   *
   * @param writer Where changes go back to.
   * @param table The cache's memory.
   * @param origin `performance.timeOrigin`, which the record's times are relative to.
   * @param base The shard's byte offset.
   * @param record The record's byte offset.
   * @param hits Its hits before this lookup.
   */
  constructor(
    writer: RecordWriter,
    table: ShardTable,
    origin: number,
    base: number,
    record: number,
    hits: number,
  ) {
    const { i32, u16, u8, f64 } = table;
    const keyLength = u16[(record + R_KEY_LENGTH) >> 1]!;
    const messageLength = u16[(record + R_MESSAGE_LENGTH) >> 1]!;
    const errorsLength = u16[(record + R_ERRORS_LENGTH) >> 1]!;
    const start = record + R_DATA + keyLength;
    const message = allocateBytes(messageLength);
    message.set(u8.subarray(start, start + messageLength));
    let errors = NO_ERRORS;
    if (errorsLength > 0) {
      const list: Uint8Array[] = [];
      for (let at = start + messageLength; at < start + messageLength + errorsLength;) {
        const length = u8[at]! | (u8[at + 1]! << 8);
        list.push(u8.slice(at + 2, at + 2 + length));
        at += 2 + length;
      }
      errors = list;
    }
    const secureFor = i32[(record + R_SECURE_FOR) >> 2]!;
    let offsets: number[] | null = null;
    const count = u16[(record + R_OFFSETS_COUNT) >> 1]!;
    if (count !== UNKNOWN_OFFSETS) {
      const first = table.offsetsStart(record) >> 1;
      offsets = new Array(count);
      for (let i = 0; i < count; i++) offsets[i] = u16[first + i]!;
    }
    this.#writer = writer;
    this.#location = { base, record, serial: i32[(record + R_SERIAL) >> 2]! };
    this.message = message;
    this.questionEnd = u16[(record + R_QUESTION_END) >> 1]!;
    this.extendedRcode = i32[(record + R_EXT_RCODE) >> 2]! & 0xffff;
    this.security = SECURITY_STATES[i32[(record + R_EXT_RCODE) >> 2]! >>> 16];
    this.secureFor = secureFor < 0 ? undefined : secureFor;
    this.errors = errors;
    this.storedAt = f64[(record + R_STORED) >> 3]! - origin;
    this.ttl = i32[(record + R_TTL) >> 2]!;
    this.hits = hits;
    this.#refreshFailedAt = f64[(record + R_FAILED) >> 3]! - origin;
    this.#offsets = offsets;
  }

  get refreshFailedAt(): number {
    return this.#refreshFailedAt;
  }

  set refreshFailedAt(at: number) {
    this.#refreshFailedAt = at;
    this.#writer.noteRefreshFailure(this.#location, at);
  }

  get offsets(): readonly number[] | null {
    return this.#offsets;
  }

  set offsets(offsets: readonly number[] | null) {
    this.#offsets = offsets;
    if (offsets !== null) this.#writer.noteOffsets(this.#location, offsets);
  }
}
