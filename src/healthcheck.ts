/**
 * `dotproxy healthcheck`: asks a running proxy `id.server. CH TXT` over UDP on
 * every listen address and exits 0 if each sends a well-formed reply, 1 otherwise. The proxy
 * answers that question itself, so an upstream outage does not make an
 * orchestrator restart a healthy container; and a `FROM scratch` image
 * needs neither a shell nor curl for its HEALTHCHECK.
 *
 * @module
 */

import type { Config } from "./config/config.ts";
import { HEADER_LENGTH } from "./wire/constants.ts";
import { getId, isResponse } from "./wire/header.ts";
import { parseMessage } from "./wire/message.ts";
import { ID_SERVER_QUERY } from "./wire/local_answers.ts";

/**
 * Where to send the checks: every listen address, with the wildcard
 * addresses replaced by loopback of the same family.
 *
 * @param config The proxy's configuration (flags and `DOTPROXY_*` variables).
 * @returns One address and port per listen address, in configured order.
 */
export function healthcheckTargets(config: Pick<Config, "listen" | "port">): Deno.NetAddr[] {
  const listen = config.listen.length > 0 ? config.listen : ["127.0.0.1"];
  return listen.map((address) => {
    const hostname = address === "0.0.0.0" ? "127.0.0.1" : address === "::" ? "::1" : address;
    return { transport: "udp", hostname, port: config.port };
  });
}

/**
 * Checks every target at once.
 *
 * @param targets The proxy's addresses.
 * @param timeoutMs How long to wait for each.
 * @returns Null when every address answers, else what went wrong at each that did not.
 */
export async function checkHealthOfAll(
  targets: readonly Deno.NetAddr[],
  timeoutMs = 2000,
): Promise<string | null> {
  const problems = await Promise.all(targets.map((target) => checkHealth(target, timeoutMs)));
  const failed = problems.filter((problem) => problem !== null);
  return failed.length === 0 ? null : failed.join("; ");
}

/**
 * Sends one query and waits for a matching, well-formed reply.
 *
 * @param target The proxy's address.
 * @param timeoutMs How long to wait.
 * @returns Null when healthy, else what went wrong.
 */
export async function checkHealth(target: Deno.NetAddr, timeoutMs = 2000): Promise<string | null> {
  const query = ID_SERVER_QUERY.slice();
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  query[0] = id >>> 8;
  query[1] = id & 0xff;
  const wildcard = target.hostname.includes(":") ? "::" : "0.0.0.0";
  const socket = Deno.listenDatagram({ transport: "udp", hostname: wildcard, port: 0 });
  const timer = setTimeout(() => socket.close(), timeoutMs);
  try {
    await socket.send(query, target);
    for (;;) {
      const [reply] = await socket.receive();
      if (reply.length < HEADER_LENGTH || !isResponse(reply) || getId(reply) !== id) continue;
      parseMessage(reply);
      return null;
    }
  } catch (error) {
    return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted
      ? `no reply from ${target.hostname} port ${target.port} within ${timeoutMs} ms`
      : (error as Error).message;
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch {
      // Closed by the timeout.
    }
  }
}
