/**
 * The query the proxy sends upstream over TLS: the client's header bits and
 * question, and the proxy's own OPT record, padded (RFC 7830, RFC 8467).
 *
 * @module
 */

import { allocateBytes, copyRange } from "./byte_slab.ts";
import { EDNS_OPTION, HEADER_LENGTH } from "./constants.ts";
import { COUNT_OFFSET, FLAG2, FLAG3, writeU16 } from "./header.ts";
import type { MessageLayout } from "./message.ts";
import { OPT_HEADER_LENGTH, type OptFields, writeOptHeader } from "./edns.ts";

/** Queries are padded to a multiple of this many octets (RFC 8467 §4.1). */
export const PADDING_BLOCK = 128;

/** UDP payload size advertised upstream; over TLS it only bounds nothing, but must be sane. */
export const UPSTREAM_UDP_SIZE = 1232;

/** Octets before the message in a frame: the RFC 1035 §4.2.2 length prefix. */
export const FRAME_PREFIX_LENGTH = 2;

/** The OPT record of an upstream query, without and with the DO bit. */
const OPT_PLAIN: OptFields = { udpSize: UPSTREAM_UDP_SIZE, extendedRcode: 0, dnssecOk: false };
const OPT_DNSSEC_OK: OptFields = { udpSize: UPSTREAM_UDP_SIZE, extendedRcode: 0, dnssecOk: true };

/**
 * Builds the framed upstream query for a client query: the two-octet length
 * prefix, then the message. The ID is left 0; each connection writes its own
 * into the frame (see `setFrameId`) so that it never collides with another
 * query in flight there.
 *
 * Only RD, AD and CD are copied from the client (RFC 6840 §5.7-5.9); the
 * client's other records (its OPT with ECS or cookies among them) are not
 * forwarded, for privacy; the DO bit is.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMessage } from "./message.ts";
 * import { buildUpstreamFrame } from "./upstream_query.ts";
 *
 * const query = new Uint8Array([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
 * const frame = buildUpstreamFrame(query, parseMessage(query));
 * assert.equal(frame.length, 2 + 128);
 * assert.equal((frame[0]! << 8) | frame[1]!, 128);
 * ```
 *
 * @param query The client's query.
 * @param layout Its layout, with exactly one question.
 * @param dnssecOk Set DO whatever the client sent (the proxy validates, RFC 4035 §4.9.1).
 * @returns The frame: length prefix followed by the padded query.
 */
export function buildUpstreamFrame(
  query: Uint8Array,
  layout: MessageLayout,
  dnssecOk = false,
): Uint8Array {
  const unpadded = layout.questionEnd + OPT_HEADER_LENGTH + 4;
  const padding = (PADDING_BLOCK - (unpadded % PADDING_BLOCK)) % PADDING_BLOCK;
  const length = unpadded + padding;
  const frame = allocateBytes(FRAME_PREFIX_LENGTH + length);
  writeU16(frame, 0, length);
  // Written at message offsets plus the prefix, rather than through a view
  // of the message: one object fewer per query.
  const at = FRAME_PREFIX_LENGTH;
  frame[at + 2] = query[2]! & FLAG2.RD;
  frame[at + 3] = query[3]! & (FLAG3.AD | FLAG3.CD);
  writeU16(frame, at + COUNT_OFFSET.QD, 1);
  writeU16(frame, at + COUNT_OFFSET.AR, 1);
  copyRange(query, HEADER_LENGTH, layout.questionEnd, frame, at + HEADER_LENGTH);
  const fields = dnssecOk || layout.edns?.dnssecOk ? OPT_DNSSEC_OK : OPT_PLAIN;
  const options = writeOptHeader(frame, at + layout.questionEnd, fields, 4 + padding);
  writeU16(frame, options, EDNS_OPTION.PADDING);
  writeU16(frame, options + 2, padding); // padding octets stay 0x00 (RFC 7830 §3)
  return frame;
}

/**
 * Writes the message ID into a frame built by {@linkcode buildUpstreamFrame}.
 *
 * @param frame The frame.
 * @param id The ID.
 */
export function setFrameId(frame: Uint8Array, id: number): void {
  writeU16(frame, FRAME_PREFIX_LENGTH, id);
}
