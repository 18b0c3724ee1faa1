/**
 * The whole proxy's /metrics totals under `--workers N`: asking every
 * running worker for its page, standing in a worker's last page for one
 * that comes too late, and keeping the counters and histograms of workers
 * that died, so that the totals never go down when a worker dies and its
 * successor counts from 0 (see merge_metrics.ts).
 *
 * @module
 */

import { mergeMetrics, monotonicPart } from "./merge_metrics.ts";
import { post } from "./launch_worker.ts";
import type { Slot } from "./worker_slot.ts";

/** How long /metrics waits for the workers' pages. */
const METRICS_TIMEOUT_MS = 2_000;

/** The workers' metrics pages, added up. */
export class MetricsTotals {
  readonly #pages = new Map<number, { pages: Map<Slot, string>; done: () => void }>();
  /** The counters and histograms of every worker that died, as of its last page. */
  #retired = "";
  #request = 0;

  /**
   * Asks the running workers for their pages and adds them up. A worker
   * that does not answer in time counts with its last page; one that died,
   * with the counters of its last page.
   *
   * @param slots Every worker's slot.
   * @returns The merged page, in the Prometheus text format.
   */
  async collect(slots: readonly Slot[]): Promise<string> {
    const request = ++this.#request;
    const running = slots.filter((slot) => slot.running);
    const pages = new Map<Slot, string>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, METRICS_TIMEOUT_MS);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.#pages.set(request, {
        pages,
        done: () => pages.size >= running.length && finish(),
      });
      for (const slot of running) post(slot.worker!, { kind: "metrics", request });
      if (running.length === 0) finish();
    });
    this.#pages.delete(request);
    const late = running.filter((slot) => !pages.has(slot) && slot.running);
    return mergeMetrics([...pages.values(), ...late.map((slot) => slot.lastPage), this.#retired]);
  }

  /**
   * A worker's page has come: it becomes its last page, and counts for the
   * request that asked for it if that still waits.
   *
   * @param slot The worker's slot.
   * @param request The request it answers.
   * @param text The page.
   */
  received(slot: Slot, request: number, text: string): void {
    slot.lastPage = text;
    const waiting = this.#pages.get(request);
    if (waiting === undefined) return;
    waiting.pages.set(slot, text);
    waiting.done();
  }

  /**
   * A worker died: what it had counted stays in the totals (its successor
   * counts from 0).
   *
   * @param slot The worker's slot.
   */
  retire(slot: Slot): void {
    this.#retired = mergeMetrics([this.#retired, monotonicPart(slot.lastPage)]);
    slot.lastPage = "";
  }
}
