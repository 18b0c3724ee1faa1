/**
 * The libc side (Deno FFI) of `ReusePortUdpSocket` (reuse_port_udp.ts): the symbols it
 * calls, the socket option and flag values, the layouts of `struct mmsghdr`,
 * `struct iovec` and the address structures, loading and unloading
 * `libc.so.6`, and reading `errno`.
 *
 * Linux only: the values and layouts are Linux's, for 64-bit targets.
 *
 * @module
 */

/** Datagrams taken per `recvmmsg` call at most. */
export const BATCH = 32;
/** Room per datagram; a longer query is dropped (no client sends queries this long). */
export const SLOT = 4096;
/** Size of a `struct sockaddr_in6`, the larger of the two address structures. */
export const NAME_SIZE = 28;
/** Size of a `struct mmsghdr` on 64-bit Linux (a 56-byte msghdr, msg_len, padding). */
export const MMSGHDR_SIZE = 64;
/** Size of a `struct iovec`. */
export const IOVEC_SIZE = 16;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0x80000;
export const SOL_SOCKET = 1;
export const SO_REUSEPORT = 15;
export const SO_COOKIE = 57;
export const IPPROTO_IPV6 = 41;
export const IPV6_V6ONLY = 26;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITFORONE = 0x10000;
export const SHUT_RD = 0;
/** `poll(2)` event: data to read. */
export const POLLIN = 0x1;
/** Size of a `struct pollfd` (fd, events, revents). */
export const POLLFD_SIZE = 8;
export const EINTR = 4;
export const EAGAIN = 11;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: {
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
    nonblocking: true,
  },
  /** The same call on this thread (with MSG_DONTWAIT), where its errno can be read. */
  recvmmsgNow: {
    name: "recvmmsg",
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
  },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  /** Waits on this thread, for at most a `struct timespec` (short waits only). */
  ppoll: { parameters: ["buffer", "u64", "buffer", "pointer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The libc functions a socket calls. */
export type LibcSocket = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let library: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

/**
 * Loads libc on this thread, once.
 *
 * @returns Its socket functions.
 */
export function libcSocket(): LibcSocket {
  return (library ??= Deno.dlopen("libc.so.6", SYMBOLS)).symbols;
}

/**
 * Unloads libc from this thread, if it was loaded (see `releaseLibc` in
 * socket_descriptor.ts, which first checks that no socket is open).
 *
 * @returns Whether it was loaded.
 */
export function unloadLibc(): boolean {
  if (library === null) return false;
  library.close();
  library = null;
  return true;
}

/**
 * The last libc error on this thread.
 *
 * @param c The loaded functions.
 * @returns The `errno` value.
 */
export function lastErrno(c: LibcSocket): number {
  return new Deno.UnsafePointerView(c.__errno_location()!).getInt32();
}

/**
 * The last libc error, as text.
 *
 * @param c The loaded functions.
 * @param errno The error (the last one by default).
 * @returns Its `strerror` text.
 */
export function lastError(c: LibcSocket, errno: number = lastErrno(c)): string {
  const text = c.strerror(errno);
  return text === null ? `errno ${errno}` : new Deno.UnsafePointerView(text).getCString();
}
