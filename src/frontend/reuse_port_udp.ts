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
 * The single loop (`--workers 1`) uses it too, without `SO_REUSEPORT`, when
 * `--allow-ffi` is granted: batches cost less than Deno's one-datagram
 * receives (see udp_frontend.ts).
 *
 * Linux only (the socket option values and struct layouts are Linux's, for
 * 64-bit targets); needs `--allow-ffi`.
 *
 * The libc bindings are in libc_socket.ts, the receive buffers in
 * receive_batch.ts, the descriptor bookkeeping the
 * supervisor uses in socket_descriptor.ts, the address structures in
 * socket_address.ts.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  BATCH,
  EAGAIN,
  EINTR,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  lastErrno,
  lastError,
  type LibcSocket,
  libcSocket,
  MSG_DONTWAIT,
  MSG_WAITFORONE,
  NAME_SIZE,
  POLLFD_SIZE,
  POLLIN,
  SHUT_RD,
  SLOT,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOL_SOCKET,
} from "./libc_socket.ts";
import { decodeAddress, encodeAddress, type SocketAddr } from "./socket_address.ts";
import { AnswerBatch, type FlushResult } from "./answer_batch.ts";
import { ReceiveBatch } from "./receive_batch.ts";
import { socketCookie, trackDescriptor, untrackDescriptor } from "./socket_descriptor.ts";

/** Failed receives in a row that {@linkcode ReusePortUdpSocket} retries before it throws. */
const TRANSIENT_RETRIES = 8;

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

/** A UDP socket bound with `SO_REUSEPORT` (see the module documentation). */
export class ReusePortUdpSocket implements UdpSocket {
  /** The descriptor (see `closeDescriptor` in socket_descriptor.ts). */
  readonly fd: number;
  /** The socket's `SO_COOKIE` (see `SocketDescriptor` in socket_descriptor.ts). */
  readonly cookie: bigint;
  readonly addr: Deno.NetAddr;
  readonly #c: LibcSocket;
  /** The datagrams of the current batch (see receive_batch.ts). */
  readonly #batch = new ReceiveBatch();
  /** Answers to the current batch that go out together (see answer_batch.ts). */
  readonly #answers = new AnswerBatch(this.#batch.names);
  /** The `struct pollfd` and `struct timespec` of {@linkcode waitNow}, and the wait it holds. */
  readonly #pollFd = new Uint8Array(POLLFD_SIZE);
  readonly #timeout = new BigInt64Array(2);
  readonly #timeoutBytes = new Uint8Array(this.#timeout.buffer);
  #timeoutMicros = 0;
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
   * @param reusePort Set `SO_REUSEPORT` (false: a port of its own, as Deno's sockets).
   * @throws {Error} When the socket cannot be made or bound.
   */
  constructor(hostname: string, port: number, reusePort = true) {
    const c = this.#c = libcSocket();
    const address = encodeAddress(hostname, port);
    const family = address.length === 16 ? AF_INET : AF_INET6;
    const fd = c.socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`Cannot make a UDP socket: ${lastError(c)}`);
    const one = new Uint8Array(new Int32Array([1]).buffer);
    const zero = new Uint8Array(4);
    // Dual stack on `::`, as Deno's own listeners: IPv4 clients arrive as ::ffff:a.b.c.d.
    const ok = (!reusePort || c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4) === 0) &&
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
    trackDescriptor({ fd, cookie: this.cookie });
    this.addr = decodeAddress(bound);
    new DataView(this.#pollFd.buffer).setInt32(0, fd, true);
    new DataView(this.#pollFd.buffer).setInt16(4, POLLIN, true);
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
      if (this.#next < this.#count) return this.#batch.take(this.#next++, into);
      if (this.#closed) throw new Deno.errors.BadResource("Socket has been closed");
      this.#pending ??= this.#receiveBatch();
      await this.#pending;
    }
  }

  /**
   * Waits for a new batch of datagrams, read with {@linkcode datagram} and
   * {@linkcode senderName}; their answers may be queued with
   * {@linkcode queueAnswer} and must be sent with {@linkcode flushAnswers}
   * before the next receive. Not to be mixed with {@linkcode receive}.
   *
   * @returns The datagrams in the batch (0: none came, wait again).
   * @throws {Deno.errors.BadResource} When the socket is closed.
   */
  async receiveBatch(): Promise<number> {
    if (this.#closed) throw new Deno.errors.BadResource("Socket has been closed");
    this.#pending ??= this.#receiveBatch();
    const count = await this.#pending;
    this.#next = this.#count;
    return count;
  }

  /**
   * Takes a new batch of whatever datagrams are queued now, without
   * waiting (a busy socket needs no trip to the blocking thread pool).
   *
   * @returns The datagrams in the batch (0 when none is queued).
   */
  receiveNow(): number {
    if (this.#closed || this.#pending !== null) return 0;
    this.#count = this.#next = Math.max(this.#receiveQueued(), 0);
    return this.#count;
  }

  /**
   * Waits on this thread, blocking the event loop, until a datagram is
   * queued or `micros` have passed: for a short gap in a busy stream of
   * datagrams, a sleep in the kernel costs less than a trip to the blocking
   * thread pool (two threads woken per batch).
   *
   * @param micros The longest wait, a whole number of microseconds (keep it well under a millisecond).
   * @returns True when a datagram is queued (take it with {@linkcode receiveNow}).
   */
  waitNow(micros: number): boolean {
    if (this.#closed || this.#pending !== null) return false;
    if (micros !== this.#timeoutMicros) {
      this.#timeoutMicros = micros;
      this.#timeout[0] = BigInt(Math.floor(micros / 1_000_000));
      this.#timeout[1] = BigInt((micros % 1_000_000) * 1000);
    }
    return this.#c.ppoll(this.#pollFd, 1n, this.#timeoutBytes, null) > 0;
  }

  /**
   * A datagram of the current batch, in place (valid until the next receive).
   *
   * @param index Its index in the batch.
   * @returns Its octets; empty when it was longer than a slot (dropped as malformed).
   */
  datagram(index: number): Uint8Array {
    return this.#batch.datagram(index);
  }

  /**
   * The sender's address structure of a datagram of the current batch, in
   * place (valid until the next receive; see `decodeAddress` and
   * `ipFromSocketAddress` in socket_address.ts).
   *
   * @param index Its index in the batch.
   * @returns The `sockaddr_in` or `sockaddr_in6` octets.
   */
  senderName(index: number): Uint8Array {
    return this.#batch.senderName(index);
  }

  /**
   * Queues the answer to a datagram of the current batch.
   *
   * @param index The datagram's index in the batch.
   * @param answer The answer (copied).
   * @returns False when it cannot be queued: send it with {@linkcode send}.
   */
  queueAnswer(index: number, answer: Uint8Array): boolean {
    return this.#answers.add(index, this.#batch.senderLength(index), answer);
  }

  /**
   * Sends the queued answers in one call (never blocks; a full send buffer
   * drops them).
   *
   * @returns What was sent and dropped; null when nothing was queued.
   */
  flushAnswers(): FlushResult | null {
    if (this.#answers.count === 0) return null;
    if (this.#fdClosed) {
      const failed = this.#answers.count;
      this.#answers.clear();
      return { sent: 0, failed, errno: 0 };
    }
    return this.#answers.flush(this.#c, this.fd);
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
    untrackDescriptor(this.fd);
    this.#c.close(this.fd);
  }

  async #receiveBatch(): Promise<number> {
    this.#batch.reset();
    try {
      // Until at least one arrives, then whatever else is queued.
      let count = this.#batch.datagramsIn(
        await this.#c.recvmmsg(this.fd, this.#batch.headers, BATCH, MSG_WAITFORONE, null),
      );
      // None (shut down) or -1, unless closed here: see why.
      if (count <= 0 && !this.#closed) count = this.#receiveAfterFailure();
      else if (count > 0) this.#failures = 0;
      this.#count = Math.max(count, 0);
      this.#next = 0;
      return this.#count;
    } finally {
      this.#pending = null;
    }
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
    const count = this.#receiveQueued();
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

  /** Takes what datagrams are queued now, on this thread (errno readable): -1 on failure. */
  #receiveQueued(): number {
    this.#batch.reset();
    return this.#batch.datagramsIn(
      this.#c.recvmmsgNow(this.fd, this.#batch.headers, BATCH, MSG_DONTWAIT, null),
    );
  }
}
