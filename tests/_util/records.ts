/**
 * Small accessors over messages decoded by dns-packet (see dns_client.ts).
 *
 * @module
 */

import type { Answer, DecodedPacket, OptRecord } from "./dns_client.ts";

/** The OPT record of a message, if it has one. */
export function optOf(packet: DecodedPacket): OptRecord | undefined {
  return packet.additionals.find((record): record is OptRecord => record.type === "OPT");
}

/** The data of a record, as dns-packet decoded it. */
export function dataOf(record: Answer): unknown {
  return "data" in record ? record.data : undefined;
}

/** The INFO-CODE of the first Extended DNS Error (RFC 8914) of a message, if any. */
export function extendedErrorOf(packet: DecodedPacket): number | undefined {
  const option = optOf(packet)?.options.find((option) => option.code === 15);
  const data = option?.data;
  return data && data.length >= 2 ? (data[0]! << 8) | data[1]! : undefined;
}

/** The TTL of a record (undefined for OPT, which has none). */
export function ttlOf(record: Answer | undefined): number | undefined {
  return record && "ttl" in record ? record.ttl : undefined;
}
