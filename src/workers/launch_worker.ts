/**
 * Starting one worker thread (worker_main.ts) and waiting until it serves,
 * and posting messages to a worker.
 *
 * @module
 */

import type { SocketDescriptor } from "../frontend/socket_descriptor.ts";
import type { FromWorker, ToWorker, WorkerStart } from "./protocol.ts";

/** How long a worker may take to start. */
const START_TIMEOUT_MS = 30_000;

/** A worker that has started and serves. */
export interface Launched {
  readonly worker: Worker;
  /** The supervisor's reload count when the worker was launched. */
  readonly generation: number;
  readonly port: number;
  readonly descriptors: readonly SocketDescriptor[];
}

/**
 * Starts one worker and waits until it serves.
 *
 * @param id The worker's number.
 * @param start What it starts with.
 * @param generation The supervisor's reload count now.
 * @returns The worker, once it serves.
 * @throws {Error} When it fails or does not start within 30 s.
 */
export function launchWorker(
  id: number,
  start: Omit<WorkerStart, "id">,
  generation: number,
): Promise<Launched> {
  const worker = new Worker(new URL("./worker_main.ts", import.meta.url), { type: "module" });
  return new Promise<Launched>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      worker.terminate();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new Error(`Worker ${id} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.kind === "started") {
        clearTimeout(timer);
        resolve({ worker, generation, port: message.port, descriptors: message.descriptors });
      } else if (message.kind === "failed") {
        fail(new Error(message.message));
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      fail(new Error(`Worker ${id} failed to start: ${event.message}`));
    };
    post(worker, { ...start, id });
  });
}

/**
 * Posts a message to a worker.
 *
 * @param worker The worker.
 * @param message The message.
 */
export function post(worker: Worker, message: ToWorker): void {
  worker.postMessage(message);
}
