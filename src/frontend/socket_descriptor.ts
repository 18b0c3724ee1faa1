/**
 * The descriptors of the `ReusePortUdpSocket`s (reuse_port_udp.ts) open on this thread, as the
 * supervisor needs them: their numbers with their `SO_COOKIE`, closing one
 * only while its number still names that socket, and unloading libc once
 * none is open.
 *
 * @module
 */

import {
  type LibcSocket,
  libcSocket,
  SHUT_RD,
  SO_COOKIE,
  SOL_SOCKET,
  unloadLibc,
} from "./libc_socket.ts";

/**
 * A socket's descriptor number and its `SO_COOKIE`, which no other socket
 * gets while the system runs: the number alone may name another file once
 * the socket is closed.
 */
export interface SocketDescriptor {
  readonly fd: number;
  readonly cookie: bigint;
}

/** The sockets this thread has open, by descriptor number. */
const openSockets = new Map<number, SocketDescriptor>();

/**
 * Counts a socket as open on this thread (its constructor).
 *
 * @param descriptor The socket's number and cookie.
 */
export function trackDescriptor(descriptor: SocketDescriptor): void {
  openSockets.set(descriptor.fd, descriptor);
}

/**
 * Counts a socket as closed on this thread (its close).
 *
 * @param fd The socket's number.
 */
export function untrackDescriptor(fd: number): void {
  openSockets.delete(fd);
}

/**
 * The descriptors of the `ReusePortUdpSocket` (reuse_port_udp.ts)s this thread has
 * open, for its supervisor to close should the thread die.
 *
 * @returns The descriptors.
 */
export function openDescriptors(): SocketDescriptor[] {
  return [...openSockets.values()];
}

/**
 * Unloads libc from this thread once no socket of it is open (tests: the
 * resource sanitizer wants every library unloaded; a proxy keeps it).
 *
 * @returns Whether it was unloaded.
 */
export function releaseLibc(): boolean {
  return openSockets.size === 0 && unloadLibc();
}

/**
 * The socket cookie of a descriptor, or null when it names no socket.
 *
 * @param c The loaded functions.
 * @param fd The descriptor.
 * @returns The cookie.
 */
export function socketCookie(c: LibcSocket, fd: number): bigint | null {
  const value = new BigUint64Array(1);
  const length = new Uint32Array([8]);
  const ok = c.getsockopt(
    fd,
    SOL_SOCKET,
    SO_COOKIE,
    new Uint8Array(value.buffer),
    new Uint8Array(length.buffer),
  ) === 0;
  return ok ? value[0]! : null;
}

/**
 * Closes a socket by its descriptor if the number still names that socket
 * (same cookie): the supervisor closes those of a worker that died or did
 * not stop in time (a terminated worker leaves raw descriptors open, and the
 * kernel would go on handing that socket its share of the clients), and a
 * worker may have closed some already, their numbers since taken by other
 * files.
 *
 * @param descriptor The socket's number and cookie.
 * @returns Whether it was closed (false when the number names something else now).
 */
export function closeDescriptor(descriptor: SocketDescriptor): boolean {
  const c = libcSocket();
  if (socketCookie(c, descriptor.fd) !== descriptor.cookie) return false;
  // A receive blocked in the kernel on another thread returns (close alone would not wake it).
  c.shutdown(descriptor.fd, SHUT_RD);
  c.close(descriptor.fd);
  return true;
}
