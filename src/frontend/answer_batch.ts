/**
 * The answers of one batch of received datagrams, sent with one
 * `sendmmsg(2)` call instead of a `sendto(2)` each (`ReusePortUdpSocket`,
 * reuse_port_udp.ts).
 *
 * An answer the proxy has at once (a cache hit, a refusal) is copied into
 * a fixed slot here, addressed to its sender by pointing the message at the
 * sender's address as `recvmmsg` wrote it (still in place: the batch is
 * sent before the next receive), and the whole batch leaves in one call.
 * Answers that come later (from an upstream) are sent on their own.
 *
 * Linux only, 64-bit layouts (see libc_socket.ts).
 *
 * @module
 */

import {
  BATCH,
  IOVEC_SIZE,
  lastErrno,
  type LibcSocket,
  MMSGHDR_SIZE,
  MSG_DONTWAIT,
  NAME_SIZE,
  SLOT,
} from "./libc_socket.ts";

/** What a flush did. */
export interface FlushResult {
  /** Answers the kernel took. */
  readonly sent: number;
  /** Answers dropped (a full send buffer, an unreachable address), and the errno of the last. */
  readonly failed: number;
  readonly errno: number;
}

/** Answers queued for one `sendmmsg` call. */
export class AnswerBatch {
  readonly #data = new Uint8Array(BATCH * SLOT);
  readonly #iov = new Uint8Array(BATCH * IOVEC_SIZE);
  readonly #headers = new Uint8Array(BATCH * MMSGHDR_SIZE);
  readonly #view = new DataView(this.#headers.buffer);
  readonly #iovView = new DataView(this.#iov.buffer);
  /** The address of each receive slot's sender, as a pointer for `msg_name`. */
  readonly #names: bigint[] = [];
  #count = 0;

  /**
   * @param names The receive batch's address slots (`BATCH` × `NAME_SIZE`
   *   octets), which must live as long as this batch.
   */
  constructor(names: Uint8Array) {
    const pointer = (bytes: Uint8Array) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
    const base = pointer(names);
    const data = pointer(this.#data);
    const iov = pointer(this.#iov);
    for (let i = 0; i < BATCH; i++) {
      this.#names.push(base + BigInt(i * NAME_SIZE));
      this.#iovView.setBigUint64(i * IOVEC_SIZE, data + BigInt(i * SLOT), true);
      const header = i * MMSGHDR_SIZE;
      this.#view.setBigUint64(header + 16, iov + BigInt(i * IOVEC_SIZE), true);
      this.#view.setBigUint64(header + 24, 1n, true);
    }
  }

  /** Answers queued. */
  get count(): number {
    return this.#count;
  }

  /**
   * Queues an answer to the sender of a received datagram.
   *
   * @param slot The datagram's index in its receive batch.
   * @param nameLength The length of its sender's address (as `recvmmsg` set it).
   * @param answer The answer.
   * @returns False when it does not fit (longer than a slot): send it on its own.
   */
  add(slot: number, nameLength: number, answer: Uint8Array): boolean {
    if (answer.length > SLOT || this.#count === BATCH) return false;
    const i = this.#count++;
    this.#data.set(answer, i * SLOT);
    // Lengths as two 32-bit halves: no BigInt per answer.
    this.#iovView.setUint32(i * IOVEC_SIZE + 8, answer.length, true);
    this.#iovView.setUint32(i * IOVEC_SIZE + 12, 0, true);
    const header = i * MMSGHDR_SIZE;
    this.#view.setBigUint64(header, this.#names[slot]!, true);
    this.#view.setUint32(header + 8, nameLength, true);
    return true;
  }

  /** Drops every queued answer. */
  clear(): void {
    this.#count = 0;
  }

  /**
   * Sends every queued answer now (never blocks) and empties the batch. A
   * message the kernel refuses is dropped, as a full network would drop it,
   * and the rest are still sent.
   *
   * @param c The libc functions.
   * @param fd The socket.
   * @returns What was sent and dropped.
   */
  flush(c: LibcSocket, fd: number): FlushResult {
    let done = 0;
    let failed = 0;
    let errno = 0;
    const count = this.#count;
    this.#count = 0;
    while (done < count) {
      const headers = done === 0 ? this.#headers : this.#headers.subarray(done * MMSGHDR_SIZE);
      const sent = c.sendmmsg(fd, headers, count - done, MSG_DONTWAIT);
      if (sent > 0) {
        done += sent;
      } else {
        // The first message left failed: skip it, go on with the next.
        errno = lastErrno(c);
        failed++;
        done++;
      }
    }
    return { sent: count - failed, failed, errno };
  }
}
