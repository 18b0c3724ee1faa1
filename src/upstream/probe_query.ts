/**
 * The health probe query: `. IN NS` with RD=1, as CoreDNS sends; any
 * matching answer, whatever its RCODE, means the upstream is alive.
 *
 * @module
 */

import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { buildUpstreamFrame } from "../wire/upstream_query.ts";

const PROBE_QUERY = new Uint8Array([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);

/** Layout of the probe query. */
export const PROBE_QUERY_LAYOUT: MessageLayout = parseMessage(PROBE_QUERY);

/** The framed probe query; copy it before use (exchanges write their ID into it). */
export const PROBE_QUERY_FRAME: Uint8Array = buildUpstreamFrame(PROBE_QUERY, PROBE_QUERY_LAYOUT);
