/**
 * What the proxy does with one client query, whatever transport brought it:
 * refuse what is malformed as the RFCs say, forward the rest, and fit the
 * answer to the client.
 *
 * @module
 */

import {
  EDE_CODE,
  HEADER_LENGTH,
  MAX_MESSAGE_SIZE,
  OPCODE_QUERY,
  RCODE,
} from "./wire/constants.ts";
import { getOpcode, isResponse } from "./wire/header.ts";
import { type MessageLayout, parseMessage } from "./wire/message.ts";
import { buildClientResponse, buildErrorResponse, udpPayloadLimit } from "./wire/responses.ts";
import type { Resolver } from "./cache/resolver.ts";
import { getLogger } from "./log.ts";

const log = getLogger("query");

/** The transport a query came in on. */
export type Transport = "udp" | "tcp";

/** Where a query came from. */
export interface QueryContext {
  readonly transport: Transport;
  /** The client's address and port, for logs. */
  readonly client: Deno.NetAddr;
}

/** Settings of the handler. */
export interface QueryHandlerOptions {
  /** Cache, coalescing and forwarding. */
  readonly resolver: Resolver;
  /** Largest UDP answer (`--max-udp-size`). */
  readonly maxUdpSize: number;
}

/** Turns a client query into the answer to send back. */
export class QueryHandler {
  readonly #resolver: Resolver;
  readonly #maxUdpSize: number;

  /** @param options The resolver and the UDP size. */
  constructor(options: QueryHandlerOptions) {
    this.#resolver = options.resolver;
    this.#maxUdpSize = options.maxUdpSize;
  }

  /**
   * Answers one query.
   *
   * @param query The message as received.
   * @param context Transport and client.
   * @returns The answer, or null when the message must be dropped (too short
   * to have a header, or itself a response: answering those could loop).
   */
  async handle(query: Uint8Array, context: QueryContext): Promise<Uint8Array | null> {
    if (query.length < HEADER_LENGTH) return drop(context, `message of ${query.length} octets`);
    if (isResponse(query)) return drop(context, "QR bit set");
    let layout: MessageLayout | null = null;
    let problem: string | null = null;
    try {
      layout = parseMessage(query);
    } catch (error) {
      problem = (error as Error).message;
    }
    if (getOpcode(query) !== OPCODE_QUERY) {
      return this.#refuse(query, layout, RCODE.NOTIMP, context, `opcode ${getOpcode(query)}`);
    }
    if (layout === null) return this.#refuse(query, null, RCODE.FORMERR, context, problem!);
    if (layout.questionCount !== 1) {
      return this.#refuse(query, layout, RCODE.FORMERR, context, "no question");
    }
    if (layout.edns !== null && layout.edns.version !== 0) {
      const version = layout.edns.version;
      return this.#refuse(query, layout, RCODE.BADVERS, context, `EDNS version ${version}`);
    }
    const resolution = await this.#resolver.resolve(query, layout);
    if (resolution === null) {
      return buildErrorResponse(query, layout, RCODE.SERVFAIL, this.#maxUdpSize, {
        code: EDE_CODE.NO_REACHABLE_AUTHORITY,
        text: "no upstream answered in time",
      });
    }
    const limit = context.transport === "udp"
      ? udpPayloadLimit(layout, this.#maxUdpSize)
      : MAX_MESSAGE_SIZE;
    return buildClientResponse(resolution.answer, query, layout, {
      limit,
      maxUdpSize: this.#maxUdpSize,
      ...(resolution.ttls && { ttls: resolution.ttls }),
      ...(resolution.error && { error: resolution.error }),
    });
  }

  #refuse(
    query: Uint8Array,
    layout: MessageLayout | null,
    rcode: number,
    context: QueryContext,
    reason: string,
  ): Uint8Array {
    log.debug("Answering {rcode} to {client} over {transport}: {reason}", {
      rcode,
      client: `${context.client.hostname}:${context.client.port}`,
      transport: context.transport,
      reason,
    });
    return buildErrorResponse(query, layout, rcode, this.#maxUdpSize);
  }
}

function drop(context: QueryContext, reason: string): null {
  log.debug("Dropping message from {client} over {transport}: {reason}", {
    client: `${context.client.hostname}:${context.client.port}`,
    transport: context.transport,
    reason,
  });
  return null;
}
