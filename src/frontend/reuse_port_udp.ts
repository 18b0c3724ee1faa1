/**
 * A UDP socket with `SO_REUSEPORT`, made through libc (Deno FFI), for the
 * workers of `--workers N`: each worker binds its own socket on the same
 * address and port, and the kernel spreads the clients over them by a hash
 * of their address and port.
 *
 * Why not `Deno.listenDatagram`: its `reuseAddress` sets `SO_REUSEADDR` only
 * on Linux (strace of Deno 2.9.6), which lets several sockets bind one port
 * but hands every datagram to the last one bound; there is no `reusePort`
 * for UDP. Nor `node:dgram`: its `reusePort` is ignored (bind fails with
 * EADDRINUSE).
 *
 * Datagrams come in batches: one `recvmmsg(2)` call (on Deno's blocking
 * thread pool, `nonblocking: true`) brings up to {@linkcode BATCH} of them,
 * and answers go out with `sendto(2)` at once (`MSG_DONTWAIT`: a full send
 * buffer drops the answer, as a full network would). In a quick echo test
 * on this 2-core host (dnsperf -c 10 -q 200, 5 s) this served 88-98k
 * datagrams per second against 55k for `Deno.listenDatagram` with eight
 * receive loops, at less CPU.
 *
 * Linux only (the socket option values and struct layouts are Linux's, for
 * 64-bit targets); needs `--allow-ffi`.
 *
 * @module
 */

/** Datagrams taken per `recvmmsg` call at most. */
const BATCH = 32;
/** Room per datagram; a longer query is dropped (no client sends queries this long). */
const SLOT = 4096;
/** Size of a `struct sockaddr_in6`, the larger of the two address structures. */
const NAME_SIZE = 28;
/** Size of a `struct mmsghdr` on 64-bit Linux (a 56-byte msghdr, msg_len, padding). */
const MMSGHDR_SIZE = 64;
/** Size of a `struct iovec`. */
const IOVEC_SIZE = 16;

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_REUSEPORT = 15;
const SO_COOKIE = 57;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const MSG_WAITFORONE = 0x10000;
const SHUT_RD = 0;
const EINTR = 4;
const EAGAIN = 11;
/** Failed receives in a row that {@linkcode ReusePortUdpSocket} retries before it throws. */
const TRANSIENT_RETRIES = 8;

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
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let library: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;

function open(): Libc {
  return (library ??= Deno.dlopen("libc.so.6", SYMBOLS)).symbols;
}

/**
 * Unloads libc from this thread once no socket of it is open (tests: the
 * resource sanitizer wants every library unloaded; a proxy keeps it).
 *
 * @returns Whether it was unloaded.
 */
export function releaseLibc(): boolean {
  if (library === null || openSockets.size > 0) return false;
  library.close();
  library = null;
  return true;
}

/** The last libc error on this thread. */
function lastErrno(c: Libc): number {
  return new Deno.UnsafePointerView(c.__errno_location()!).getInt32();
}

/** The last libc error, as text. */
function lastError(c: Libc, errno = lastErrno(c)): string {
  const text = c.strerror(errno);
  return text === null ? `errno ${errno}` : new Deno.UnsafePointerView(text).getCString();
}

/** The part of `Deno.DatagramConn` the UDP frontend uses, which this socket also has. */
export interface UdpSocket {
  /** The bound address. */
  readonly addr: Deno.Addr;
  /** Receives one datagram (into `buffer` when given) and its sender. */
  receive(buffer?: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  /** Sends one datagram. */
  send(data: Uint8Array, addr: Deno.Addr): Promise<number>;
  /** Stops receiving and closes the socket. */
  close(): void;
}

/** A client address as this socket hands it out: its `sockaddr` is kept for the answer. */
interface SocketAddr extends Deno.NetAddr {
  readonly sockaddr?: Uint8Array;
}

/**
 * Whether UDP sockets with `SO_REUSEPORT` can be made here (`--allow-ffi`
 * granted, Linux).
 *
 * @returns True when {@linkcode ReusePortUdpSocket} can be used.
 */
export function canReusePortUdp(): boolean {
  return Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/**
 * A socket's descriptor number and its `SO_COOKIE`, which no other socket
 * gets while the system runs: the number alone may name another file once
 * the socket is closed.
 */
export interface SocketDescriptor {
  readonly fd: number;
  readonly cookie: bigint;
}

/** The socket cookie of a descriptor, or null when it names no socket. */
function socketCookie(c: Libc, fd: number): bigint | null {
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
  const c = open();
  if (socketCookie(c, descriptor.fd) !== descriptor.cookie) return false;
  // A receive blocked in the kernel on another thread returns (close alone would not wake it).
  c.shutdown(descriptor.fd, SHUT_RD);
  c.close(descriptor.fd);
  return true;
}

/** The sockets this thread has open, by descriptor number. */
const openSockets = new Map<number, SocketDescriptor>();

/**
 * The descriptors of the {@linkcode ReusePortUdpSocket}s this thread has
 * open, for its supervisor to close should the thread die.
 *
 * @returns The descriptors.
 */
export function openDescriptors(): SocketDescriptor[] {
  return [...openSockets.values()];
}

/** A UDP socket bound with `SO_REUSEPORT` (see the module documentation). */
export class ReusePortUdpSocket implements UdpSocket {
  /** The descriptor (see {@linkcode closeDescriptor}). */
  readonly fd: number;
  /** The socket's `SO_COOKIE` (see {@linkcode SocketDescriptor}). */
  readonly cookie: bigint;
  readonly addr: Deno.NetAddr;
  readonly #c: Libc;
  readonly #data = new Uint8Array(BATCH * SLOT);
  readonly #names = new Uint8Array(BATCH * NAME_SIZE);
  readonly #iov = new Uint8Array(BATCH * IOVEC_SIZE);
  readonly #headers = new Uint8Array(BATCH * MMSGHDR_SIZE);
  readonly #view = new DataView(this.#headers.buffer);
  /** Datagrams of the current batch, and the next one to hand out. */
  #count = 0;
  #next = 0;
  /** The `recvmmsg` call in progress. */
  #pending: Promise<number> | null = null;
  #closed = false;
  #fdClosed = false;
  /** Failed `recvmmsg` calls in a row that looked transient. */
  #failures = 0;

  /**
   * Binds a socket.
   *
   * @param hostname An IPv4 or IPv6 address.
   * @param port The port (0 picks one).
   * @throws {Error} When the socket cannot be made or bound.
   */
  constructor(hostname: string, port: number) {
    const c = this.#c = open();
    const address = encodeAddress(hostname, port);
    const family = address.length === 16 ? AF_INET : AF_INET6;
    const fd = c.socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`Cannot make a UDP socket: ${lastError(c)}`);
    const one = new Uint8Array(new Int32Array([1]).buffer);
    const zero = new Uint8Array(4);
    // Dual stack on `::`, as Deno's own listeners: IPv4 clients arrive as ::ffff:a.b.c.d.
    const ok = c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4) === 0 &&
      (family === AF_INET || c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, zero, 4) === 0) &&
      c.bind(fd, address, address.length) === 0;
    if (!ok) {
      const reason = lastError(c);
      c.close(fd);
      throw new Error(reason);
    }
    const bound = new Uint8Array(NAME_SIZE);
    const length = new Uint32Array([NAME_SIZE]);
    c.getsockname(fd, bound, new Uint8Array(length.buffer));
    this.fd = fd;
    this.cookie = socketCookie(c, fd) ?? 0n;
    openSockets.set(fd, { fd, cookie: this.cookie });
    this.addr = decodeAddress(bound);
    this.#prepareHeaders();
  }

  /**
   * Receives one datagram into `buffer`, from the current batch or a new one.
   *
   * @param buffer Where to copy the datagram (at least 4096 octets).
   * @returns The datagram (a view of `buffer`) and its sender.
   */
  async receive(buffer?: Uint8Array): Promise<[Uint8Array, Deno.NetAddr]> {
    const into = buffer ?? new Uint8Array(SLOT);
    for (;;) {
      if (this.#next < this.#count) return this.#take(this.#next++, into);
      if (this.#closed) throw new Deno.errors.BadResource("Socket has been closed");
      this.#pending ??= this.#receiveBatch();
      await this.#pending;
    }
  }

  /**
   * Sends a datagram now (never blocks; a full send buffer drops it).
   *
   * @param data The datagram.
   * @param addr Where to: an address from {@linkcode receive}, or any IP address and port.
   * @returns The octets sent.
   */
  send(data: Uint8Array, addr: Deno.Addr): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Socket has been closed"));
    const to = addr as SocketAddr;
    const name = to.sockaddr ?? encodeAddress(to.hostname, to.port);
    const sent = this.#c.sendto(
      this.fd,
      data,
      BigInt(data.length),
      MSG_DONTWAIT,
      name,
      name.length,
    );
    if (sent < 0) return Promise.reject(new Error(`Cannot send: ${lastError(this.#c)}`));
    return Promise.resolve(Number(sent));
  }

  /**
   * Stops receiving: a receive waiting in the kernel returns, and the
   * descriptor is closed once it has.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#c.shutdown(this.fd, SHUT_RD);
    if (this.#pending === null) this.#closeDescriptor();
    else this.#pending.finally(() => this.#closeDescriptor());
  }

  #closeDescriptor(): void {
    if (this.#fdClosed) return;
    this.#fdClosed = true;
    openSockets.delete(this.fd);
    this.#c.close(this.fd);
  }

  async #receiveBatch(): Promise<number> {
    this.#resetNames();
    try {
      // Until at least one arrives, then whatever else is queued.
      let count = this.#datagrams(
        await this.#c.recvmmsg(this.fd, this.#headers, BATCH, MSG_WAITFORONE, null),
      );
      // None (shut down) or -1, unless closed here: see why.
      if (count <= 0 && !this.#closed) count = this.#receiveAfterFailure();
      else if (count > 0) this.#failures = 0;
      this.#count = Math.max(count, 0);
      this.#next = 0;
      // The buffers are referenced here so that they live while the kernel writes to them.
      void this.#iov;
      return this.#count;
    } finally {
      this.#pending = null;
    }
  }

  /**
   * The datagrams a `recvmmsg` brought: on a socket shut down for reading
   * it brings one empty message with no sender (the end of the stream, not
   * a datagram: every UDP datagram has a sender).
   */
  #datagrams(count: number): number {
    return count > 0 && this.#view.getUint32(8, true) === 0 ? 0 : count;
  }

  /** Every address slot is as long as the largest address (the kernel shortens them). */
  #resetNames(): void {
    for (let i = 0; i < BATCH; i++) this.#view.setUint32(i * MMSGHDR_SIZE + 8, NAME_SIZE, true);
  }

  /**
   * After a `recvmmsg` that failed or brought nothing: its errno was set on
   * a thread of the blocking pool, out of reach, so the call is made again
   * here without waiting. Datagrams it brings are taken; nothing, EAGAIN or
   * EINTR (the failure was passing: an interrupted call, memory short for a
   * moment) let the caller wait again, up to {@linkcode TRANSIENT_RETRIES}
   * times in a row; any other error is thrown (rather than a loop of
   * failing calls).
   *
   * @returns The datagrams received (0 to wait again).
   * @throws {Error} On a lasting error (EBADF, ENOTSOCK, ...) or too many failures in a row.
   */
  #receiveAfterFailure(): number {
    this.#resetNames();
    const count = this.#datagrams(
      this.#c.recvmmsgNow(this.fd, this.#headers, BATCH, MSG_DONTWAIT, null),
    );
    if (count > 0) {
      this.#failures = 0;
      return count;
    }
    const errno = count < 0 ? lastErrno(this.#c) : 0;
    const passing = errno === 0 || errno === EAGAIN || errno === EINTR;
    if (passing && ++this.#failures <= TRANSIENT_RETRIES) return 0;
    this.#failures = 0;
    const reason = errno === 0 ? "nothing received" : lastError(this.#c, errno);
    if (!passing) throw new Error(`Cannot receive: ${reason}`);
    throw new Error(
      `Cannot receive: ${TRANSIENT_RETRIES + 1} failed receives in a row (the last: ${reason})`,
    );
  }

  #take(index: number, into: Uint8Array): [Uint8Array, Deno.NetAddr] {
    const header = index * MMSGHDR_SIZE;
    const length = this.#view.getUint32(header + 56, true);
    const flags = this.#view.getInt32(header + 48, true);
    const start = index * SLOT;
    // A datagram longer than its slot is handed out empty: the handler drops it as malformed.
    const size = flags & MSG_TRUNC ? 0 : Math.min(length, into.length);
    into.set(this.#data.subarray(start, start + size));
    const nameLength = this.#view.getUint32(header + 8, true);
    const name = this.#names.slice(index * NAME_SIZE, index * NAME_SIZE + nameLength);
    return [into.subarray(0, size), decodeAddress(name)];
  }

  /** Points each header at its iovec and address slot, once. */
  #prepareHeaders(): void {
    const pointer = (bytes: Uint8Array) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
    const data = pointer(this.#data);
    const names = pointer(this.#names);
    const iov = pointer(this.#iov);
    const iovView = new DataView(this.#iov.buffer);
    for (let i = 0; i < BATCH; i++) {
      iovView.setBigUint64(i * IOVEC_SIZE, data + BigInt(i * SLOT), true);
      iovView.setBigUint64(i * IOVEC_SIZE + 8, BigInt(SLOT), true);
      const header = i * MMSGHDR_SIZE;
      this.#view.setBigUint64(header, names + BigInt(i * NAME_SIZE), true);
      this.#view.setBigUint64(header + 16, iov + BigInt(i * IOVEC_SIZE), true);
      this.#view.setBigUint64(header + 24, 1n, true);
    }
  }
}

/**
 * A `sockaddr_in` or `sockaddr_in6` for an address and port.
 *
 * @param hostname An IPv4 or IPv6 address.
 * @param port The port.
 * @returns The structure's bytes.
 * @throws {TypeError} When `hostname` is not an IP address.
 */
export function encodeAddress(hostname: string, port: number): Uint8Array {
  const v4 = parseIpv4(hostname);
  if (v4 !== null) {
    const bytes = new Uint8Array(16);
    bytes[0] = AF_INET; // sa_family, little-endian
    bytes[2] = port >>> 8;
    bytes[3] = port & 0xff;
    bytes.set(v4, 4);
    return bytes;
  }
  const v6 = parseIpv6(hostname);
  if (v6 === null) throw new TypeError(`Cannot use address "${hostname}": not an IP address`);
  const bytes = new Uint8Array(NAME_SIZE);
  bytes[0] = AF_INET6;
  bytes[2] = port >>> 8;
  bytes[3] = port & 0xff;
  bytes.set(v6, 8);
  return bytes;
}

/**
 * The address and port in a `sockaddr_in` or `sockaddr_in6`, as Deno
 * writes them (IPv6 in the RFC 5952 short form).
 *
 * @param name The structure's bytes (kept in the result, for answers).
 * @returns The address.
 */
export function decodeAddress(name: Uint8Array): Deno.NetAddr {
  const port = (name[2]! << 8) | name[3]!;
  let hostname: string;
  if (name[0] === AF_INET) {
    hostname = `${name[4]}.${name[5]}.${name[6]}.${name[7]}`;
  } else {
    hostname = formatIpv6(name.subarray(8, 24));
  }
  const addr: SocketAddr = { transport: "udp", hostname, port, sockaddr: name };
  return addr;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]!) || Number(parts[i]) > 255) return null;
    bytes[i] = Number(parts[i]);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const pushAll = (list: string[]) => {
    for (const group of list) {
      if (group.includes(".")) {
        const v4 = parseIpv4(group);
        if (v4 === null) return false;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
        words.push(parseInt(group, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (!pushAll(head)) return null;
  const headLength = words.length;
  if (!pushAll(tail)) return null;
  const missing = 8 - words.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  words.splice(headLength, 0, ...new Array(missing).fill(0));
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >>> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/**
 * RFC 5952: lower case, no leading zeros, the longest run of two or more
 * zero groups as `::`; an IPv4-mapped address as `::ffff:a.b.c.d` (as Deno
 * gives it, so that logs and the access list see the same text).
 */
function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((word) => word.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
