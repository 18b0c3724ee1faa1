/**
 * Binds the proxy's UDP and TCP listeners: the same port on every address,
 * with a one-line error naming the address that could not be bound.
 *
 * @module
 */

import { ReusePortUdpSocket, type UdpSocket } from "./reuse_port_udp.ts";

/** The bound sockets and the port they share. */
export interface Listeners {
  readonly udp: UdpSocket[];
  readonly tcp: Deno.TcpListener[];
  readonly port: number;
}

/**
 * Binds UDP and TCP on the same port on every address. With port 0 the
 * first TCP listener picks the port and the rest follow it; if that port is
 * taken for UDP, another is tried. With `reusePort`, other sockets may share
 * the port (the workers of `--workers N`).
 *
 * @param addresses The addresses to listen on.
 * @param port The port, or 0 for any free one.
 * @param sockets `reusePort`: bind with `SO_REUSEPORT`; `libcUdp`: UDP
 *   through libc (reuse_port_udp.ts) even without it.
 * @returns The listeners.
 * @throws {Error} When a listener cannot be bound (one line naming the address).
 */
export function bindListeners(
  addresses: readonly string[],
  port: number,
  sockets: { readonly reusePort: boolean; readonly libcUdp: boolean },
): Listeners {
  const { reusePort, libcUdp } = sockets;
  for (let attempt = 1;; attempt++) {
    const udp: UdpSocket[] = [];
    const tcp: Deno.TcpListener[] = [];
    let chosen = port;
    try {
      for (const hostname of addresses) {
        const tcpOptions = { hostname, port: chosen, ...(reusePort && { reusePort }) };
        tcp.push(listen(() => Deno.listen(tcpOptions), hostname, chosen, "TCP"));
        if (chosen === 0) chosen = tcp[0]!.addr.port;
        udp.push(listen(
          () =>
            reusePort || libcUdp
              ? new ReusePortUdpSocket(hostname, chosen, reusePort)
              : Deno.listenDatagram({ hostname, port: chosen, transport: "udp" }),
          hostname,
          chosen,
          "UDP",
        ));
      }
      return { udp, tcp, port: chosen };
    } catch (error) {
      for (const listener of [...udp, ...tcp]) listener.close();
      const cause = (error as Error).cause;
      const retry = port === 0 && attempt < 10 &&
        (cause instanceof Deno.errors.AddrInUse || /in use/i.test(String(cause)));
      if (!retry) throw error;
    }
  }
}

function listen<T>(bind: () => T, hostname: string, port: number, transport: string): T {
  try {
    return bind();
  } catch (error) {
    const where = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    throw new Error(`Cannot listen on ${where} (${transport}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}
