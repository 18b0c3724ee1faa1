/**
 * A DNS-over-TLS server for the client-certificate and key-pinning tests, built on `node:tls`
 * because `Deno.listenTls` cannot ask for a client certificate. With `requireClientCert` it
 * demands one signed by the test CA (`requestCert` + `rejectUnauthorized`) and refuses the
 * handshake otherwise. It counts every byte of application data received, so that a test can
 * assert that a client sent nothing at all.
 *
 * @module
 */

import * as tls from "node:tls";
import { decode } from "./dns_packet.ts";
import { defaultAnswer, type ReceivedQuery } from "./fake_dot_answers.ts";
import { testdataPath } from "./tools.ts";
import { concat } from "./stream_harness.ts";
import { frame } from "../../src/framing/length_prefix_decoder.ts";

/** Options of {@linkcode startMtlsDotServer}. */
export interface MtlsDotServerOptions {
  /** Demand a client certificate signed by the test CA. */
  readonly requireClientCert: boolean;
}

/** A running server; dispose it to stop it. */
export interface MtlsDotServer extends AsyncDisposable {
  readonly port: number;
  /** Names of the queries answered, in order. */
  readonly queries: string[];
  /** Application bytes received over all connections (after decryption). */
  readonly bytesReceived: number;
  /** Handshakes completed with the client certificate verified (or none asked). */
  readonly connectionsAccepted: number;
  /** Handshakes the server refused, with the reason. */
  readonly refusals: string[];
}

const read = (name: string) => Deno.readTextFileSync(testdataPath("tls", name));

/**
 * Starts the server on 127.0.0.1 with an ephemeral port, presenting the committed
 * `dot.test` certificate.
 *
 * @param options Whether a client certificate is demanded.
 * @returns The server, listening.
 */
export async function startMtlsDotServer(options: MtlsDotServerOptions): Promise<MtlsDotServer> {
  const sockets = new Set<tls.TLSSocket>();
  const state = { bytes: 0, accepted: 0, queries: [] as string[], refusals: [] as string[] };
  const server = tls.createServer({
    cert: read("server.pem"),
    key: read("server.key"),
    ca: read("ca.pem"),
    requestCert: options.requireClientCert,
    rejectUnauthorized: options.requireClientCert,
    ALPNProtocols: ["dot"],
  }, (socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered: Uint8Array = new Uint8Array(0);
    socket.on("data", (chunk: Uint8Array) => {
      state.bytes += chunk.length;
      buffered = concat(buffered, chunk);
      while (buffered.length >= 2) {
        const length = (buffered[0]! << 8) | buffered[1]!;
        if (buffered.length < 2 + length) break;
        const raw = buffered.slice(2, 2 + length);
        buffered = buffered.slice(2 + length);
        const reply = answerQuery(raw, state.accepted);
        if (reply === undefined) return socket.destroy();
        state.queries.push(reply.name);
        socket.write(frame(reply.bytes));
      }
    });
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    state.refusals.push(error.message);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get queries() {
      return state.queries;
    },
    get bytesReceived() {
      return state.bytes;
    },
    get connectionsAccepted() {
      return state.accepted;
    },
    get refusals() {
      return state.refusals;
    },
    async [Symbol.asyncDispose]() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function answerQuery(
  raw: Uint8Array,
  connection: number,
): { name: string; bytes: Uint8Array } | undefined {
  let packet;
  try {
    packet = decode(raw);
  } catch {
    return undefined;
  }
  const question = packet.questions?.[0];
  const query: ReceivedQuery = {
    id: packet.id ?? 0,
    name: question?.name ?? "",
    type: question?.type ?? "",
    raw,
    connection,
    packet,
    signal: new AbortController().signal,
  };
  const bytes = defaultAnswer(query);
  if (!(bytes instanceof Uint8Array)) return undefined; // delayed answers are not offered here
  return { name: query.name, bytes };
}
