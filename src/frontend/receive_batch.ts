/**
 * The buffers one `recvmmsg(2)` call fills (`ReusePortUdpSocket`,
 * reuse_port_udp.ts): {@linkcode BATCH} slots of {@linkcode SLOT} octets for
 * the datagrams, an address slot per datagram for its sender, and the
 * `struct mmsghdr` and `struct iovec` arrays that point the kernel at them.
 * The pointers are written once; a receive only resets the address
 * lengths. The receive counterpart of answer_batch.ts.
 *
 * Linux only, 64-bit layouts (see libc_socket.ts).
 *
 * @module
 */

import { BATCH, IOVEC_SIZE, MMSGHDR_SIZE, MSG_TRUNC, NAME_SIZE, SLOT } from "./libc_socket.ts";
import { decodeAddress } from "./socket_address.ts";

/** Offsets in a `struct mmsghdr`: `msg_namelen`, `msg_flags`, `msg_len`. */
const NAME_LENGTH = 8;
const FLAGS = 48;
const LENGTH = 56;

/** The datagrams and senders of one `recvmmsg` call, in place. */
export class ReceiveBatch {
  /** The `struct mmsghdr` array to hand to `recvmmsg`. */
  readonly headers = new Uint8Array(BATCH * MMSGHDR_SIZE);
  /** The senders' address slots (`BATCH` × `NAME_SIZE`), which answer_batch.ts points at. */
  readonly names = new Uint8Array(BATCH * NAME_SIZE);
  readonly #data = new Uint8Array(BATCH * SLOT);
  /** Referenced here so that it lives while the kernel reads it. */
  readonly #iov = new Uint8Array(BATCH * IOVEC_SIZE);
  readonly #view = new DataView(this.headers.buffer);

  /** Points each header at its iovec and address slot, once. */
  constructor() {
    const pointer = (bytes: Uint8Array) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
    const data = pointer(this.#data);
    const names = pointer(this.names);
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

  /** Before a receive: every address slot is as long as the largest address (the kernel shortens them). */
  reset(): void {
    for (let i = 0; i < BATCH; i++) {
      this.#view.setUint32(i * MMSGHDR_SIZE + NAME_LENGTH, NAME_SIZE, true);
    }
  }

  /**
   * The datagrams a `recvmmsg` brought: on a socket shut down for reading
   * it brings one empty message with no sender (the end of the stream, not
   * a datagram: every UDP datagram has a sender).
   *
   * @param result What `recvmmsg` returned.
   * @returns The datagrams received; 0 or -1 when none (-1: the call failed).
   */
  datagramsIn(result: number): number {
    return result > 0 && this.#view.getUint32(NAME_LENGTH, true) === 0 ? 0 : result;
  }

  /**
   * A datagram, in place (valid until the next receive).
   *
   * @param index Its index in the batch.
   * @returns Its octets; empty when it was longer than a slot (dropped as malformed).
   */
  datagram(index: number): Uint8Array {
    const header = index * MMSGHDR_SIZE;
    const start = index * SLOT;
    const truncated = this.#view.getInt32(header + FLAGS, true) & MSG_TRUNC;
    return this.#data.subarray(
      start,
      truncated ? start : start + this.#view.getUint32(header + LENGTH, true),
    );
  }

  /**
   * The length of a datagram's sender address structure.
   *
   * @param index The datagram's index in the batch.
   * @returns Octets of `sockaddr_in` or `sockaddr_in6`.
   */
  senderLength(index: number): number {
    return this.#view.getUint32(index * MMSGHDR_SIZE + NAME_LENGTH, true);
  }

  /**
   * A datagram's sender address structure, in place (valid until the next receive).
   *
   * @param index The datagram's index in the batch.
   * @returns The `sockaddr_in` or `sockaddr_in6` octets.
   */
  senderName(index: number): Uint8Array {
    const start = index * NAME_SIZE;
    return this.names.subarray(start, start + this.senderLength(index));
  }

  /**
   * Copies a datagram out, with its sender decoded.
   *
   * @param index Its index in the batch.
   * @param into Where to copy it (a longer datagram is cut to its length).
   * @returns The datagram (a view of `into`) and its sender.
   */
  take(index: number, into: Uint8Array): [Uint8Array, Deno.NetAddr] {
    const datagram = this.datagram(index);
    const size = Math.min(datagram.length, into.length);
    into.set(datagram.subarray(0, size));
    return [into.subarray(0, size), decodeAddress(this.senderName(index).slice())];
  }
}
