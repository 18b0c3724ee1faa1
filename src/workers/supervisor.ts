/**
 * `--workers N`: the main thread supervises N workers (worker_main.ts),
 * each a whole proxy on its own thread, all listening on one port with
 * `SO_REUSEPORT`, so that the kernel spreads the clients over them, and all
 * sharing one answer cache (shared_cache.ts).
 *
 * The supervisor serves /metrics (the workers' pages added up, see
 * metrics_totals.ts), /healthz and /readyz; passes reloads, the lame duck
 * and the shutdown on to every worker; and restarts a worker that dies,
 * after closing its UDP sockets (a dead worker's raw descriptors would
 * otherwise go on taking their share of the clients) and emptying any cache
 * shard it held locked.
 *
 * What each worker has of its own, and why: upstream connections and their
 * health (a TLS connection lives on one thread), coalescing of identical
 * queries in flight (it waits on those connections), the client sockets,
 * and the limits, which are divided (see {@linkcode workerShare}).
 *
 * Worker options are made in worker_options.ts, threads started in
 * launch_worker.ts, each worker's slot and restart delays kept in
 * worker_slot.ts, and the /metrics totals in metrics_totals.ts.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import type { ReloadableOptions } from "../config/reload.ts";
import { getLogger } from "../log.ts";
import { closeDescriptor } from "../frontend/socket_descriptor.ts";
import { SHARED_BYTES_PER_ENTRY, SharedCache } from "../cache/shared_cache.ts";
import { Counter, Gauge, Registry } from "../observability/metrics_registry.ts";
import { type HttpEndpoint, startHttpServer } from "../observability/http_server.ts";
import { type Launched, launchWorker, post } from "./launch_worker.ts";
import { MetricsTotals } from "./metrics_totals.ts";
import type { FromWorker, WorkerStart } from "./protocol.ts";
import { type SupervisorOptions, workerOptions, workerShare } from "./worker_options.ts";
import { emptySlot, restartDelayMs, retryDelayMs, type Slot } from "./worker_slot.ts";

const log = getLogger("workers");

/** Bytes the cache may hold when nothing smaller is asked (as for one worker). */
const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/** Running workers under one supervisor. */
export class Supervisor {
  /** The operations endpoint, when `--http` was given. */
  readonly http: HttpEndpoint | null;
  #start: Omit<WorkerStart, "id">;
  #started = false;
  readonly #cache: SharedCache | null;
  readonly #slots: Slot[] = [];
  readonly #registry = new Registry();
  readonly #restarts = this.#registry.register(
    new Counter("dotproxy_worker_restarts_total", "Workers restarted after they died.", []),
  ).with();
  readonly #totals = new MetricsTotals();
  /** Reloads so far, and the last one: a worker launched before it gets it on adoption. */
  #generation = 0;
  #lastReload: ReloadableOptions | null = null;
  #lameDuck = false;
  #stopping: Promise<void> | null = null;

  /**
   * Starts the workers: the first binds the port (it may pick one when 0
   * was asked), then the others bind it too.
   *
   * @param options Configuration and number of workers.
   * @returns The supervisor, once every worker serves.
   * @throws {Error} When a worker cannot start (for example, the port is taken).
   */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const { config, workers } = options;
    const buffer = config.cacheSize === 0 ? null : SharedCache.allocate({
      maxEntries: config.cacheSize,
      maxBytes: Math.min(DEFAULT_CACHE_MAX_BYTES, config.cacheSize * SHARED_BYTES_PER_ENTRY),
      staleTtl: config.staleTtl,
    });
    const start: Omit<WorkerStart, "id"> = {
      kind: "start",
      options: workerOptions(options),
      cache: buffer,
      logLevel: config.logLevel,
      logFormat: config.logFormat,
      logQueries: config.logQueries,
    };
    // The endpoint first (not ready until the first worker serves), as with one worker.
    const supervisor = new Supervisor(start, buffer, config, workers);
    try {
      await supervisor.#launchAll(workers);
    } catch (error) {
      await supervisor.http?.shutdown();
      throw error;
    }
    return supervisor;
  }

  private constructor(
    start: Omit<WorkerStart, "id">,
    buffer: SharedArrayBuffer | null,
    config: Config,
    workers: number,
  ) {
    this.#start = start;
    this.#cache = buffer === null ? null : new SharedCache(buffer, 0x7fffffff);
    this.#registerGauges(config, workers);
    this.http = config.http
      ? startHttpServer({
        ...config.http,
        metrics: () => this.metrics(),
        notReadyReason: () => this.#notReadyReason(),
        healthDetail: () =>
          this.#slots.map((slot) =>
            `worker ${slot.id} ${slot.running ? "running" : "restarting"}\n`
          ).join(""),
      })
      : null;
  }

  /** The port every worker listens on. */
  get port(): number {
    return this.#start.options.port;
  }

  /**
   * The first worker binds the port (it may pick one when 0 was asked) and
   * serves every client; the others start in the background and join the
   * port as they come (a worker that cannot start is retried, as after a death).
   */
  async #launchAll(workers: number): Promise<void> {
    const first = await launchWorker(0, this.#start, this.#generation);
    this.#start = { ...this.#start, options: { ...this.#start.options, port: first.port } };
    this.#started = true;
    for (let id = 0; id < workers; id++) this.#slots.push(emptySlot(id));
    this.#adopt(this.#slots[0]!, first);
    for (const slot of this.#slots.slice(1)) void this.#restart(slot);
  }

  /** A launched worker takes its slot. */
  #adopt(slot: Slot, launched: Launched): void {
    Object.assign(slot, {
      worker: launched.worker,
      descriptors: launched.descriptors,
      lastPage: "",
      running: true,
      startedAt: performance.now(),
    });
    this.#watch(slot);
    // Launched with the options of before a reload that came while it started.
    if (launched.generation < this.#generation && this.#lastReload !== null) {
      post(launched.worker, { kind: "reload", options: this.#lastReload });
    }
    if (this.#lameDuck) post(launched.worker, { kind: "lameduck" });
    if (this.running === this.#slots.length) {
      log.info("Serving with {count} workers on port {port}, one shared cache", {
        count: this.#slots.length,
        port: this.port,
      });
    }
  }

  /** Workers started (running or being restarted). */
  get workers(): number {
    return this.#slots.length;
  }

  /** Workers serving now. */
  get running(): number {
    return this.#slots.filter((slot) => slot.running).length;
  }

  /**
   * The whole proxy's metrics: the workers' pages added up, and the
   * supervisor's own. A worker that does not answer in time counts with its
   * last page; one that died, with the counters of its last page.
   *
   * @returns A page in the Prometheus text format.
   */
  async metrics(): Promise<string> {
    return await this.#totals.collect(this.#slots) + this.#registry.render();
  }

  /**
   * Applies new upstreams and routes in every worker.
   *
   * @param options The reloadable settings.
   */
  reload(options: ReloadableOptions): void {
    // Workers started or restarted later start with these too.
    this.#start = { ...this.#start, options: { ...this.#start.options, ...options } };
    this.#generation++;
    this.#lastReload = options;
    for (const slot of this.#slots) {
      if (slot.running) post(slot.worker!, { kind: "reload", options });
    }
  }

  /** Turns /readyz to 503 in the supervisor and in every worker. */
  enterLameDuck(): void {
    this.#lameDuck = true;
    for (const slot of this.#slots) if (slot.running) post(slot.worker!, { kind: "lameduck" });
  }

  /**
   * Ends a worker with an uncaught exception, as a bug would (tests).
   *
   * @param id The worker's number.
   */
  crash(id: number): void {
    const slot = this.#slots[id];
    if (slot?.running) post(slot.worker!, { kind: "crash" });
  }

  /**
   * Every worker stops taking queries and finishes those in flight (at most
   * `graceMs`), then the workers and the endpoint stop.
   *
   * @param graceMs Longest wait for queries in flight.
   */
  shutdown(graceMs = this.#start.options.timeoutMs + 1000): Promise<void> {
    return this.#stopping ??= (async () => {
      await Promise.all(this.#slots.map((slot) => this.#stop(slot, graceMs)));
      await this.http?.shutdown();
      log.info("Stopped");
    })();
  }

  async #stop(slot: Slot, graceMs: number): Promise<void> {
    if (slot.running) {
      const stopped = new Promise<void>((resolve) => slot.stopped = resolve);
      post(slot.worker!, { kind: "shutdown", graceMs });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([stopped, new Promise((r) => timer = setTimeout(r, graceMs + 3000))]);
      clearTimeout(timer);
    }
    slot.running = false;
    slot.worker?.terminate();
    // A worker that did not stop in time may have closed some of its sockets while draining,
    // and their numbers may name other files now: closeDescriptor checks each socket's cookie.
    slot.descriptors.forEach(closeDescriptor);
    slot.descriptors = [];
  }

  #watch(slot: Slot): void {
    const worker = slot.worker!;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (slot.worker !== worker) return;
      if (message.kind === "metrics") {
        this.#totals.received(slot, message.request, message.text);
      } else if (message.kind === "stopped") {
        // It closed its own sockets: their numbers may soon name other files.
        slot.descriptors = [];
        slot.stopped?.();
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      if (slot.worker === worker) this.#died(slot, event.message);
    };
  }

  #died(slot: Slot, reason: string): void {
    slot.running = false;
    // Its successor counts from 0: what it had counted stays in the totals.
    this.#totals.retire(slot);
    slot.worker?.terminate();
    slot.descriptors.forEach(closeDescriptor);
    slot.descriptors = [];
    const emptied = this.#cache?.recover(slot.id + 1) ?? 0;
    if (this.#stopping !== null) {
      slot.stopped?.();
      return;
    }
    this.#restarts.inc();
    slot.restartDelayMs = restartDelayMs(slot);
    log.error("Worker {id} died ({reason}); restarting it in {ms} ms", {
      id: slot.id,
      reason,
      ms: slot.restartDelayMs,
      ...(emptied > 0 && { emptiedShards: emptied }),
    });
    setTimeout(() => this.#restart(slot), slot.restartDelayMs);
  }

  async #restart(slot: Slot): Promise<void> {
    if (this.#stopping !== null) return;
    const again = slot.worker !== null;
    try {
      const launched = await launchWorker(slot.id, this.#start, this.#generation);
      if (this.#stopping !== null) {
        launched.worker.terminate();
        launched.descriptors.forEach(closeDescriptor);
        return;
      }
      this.#adopt(slot, launched);
      if (again) log.info("Worker {id} is serving again", { id: slot.id });
    } catch (error) {
      log.error("Cannot start worker {id}: {error}", { id: slot.id, error });
      slot.restartDelayMs = retryDelayMs(slot);
      setTimeout(() => this.#restart(slot), slot.restartDelayMs);
    }
  }

  #notReadyReason(): string | null {
    if (this.#stopping !== null) return "shutting down";
    if (!this.#started) return "starting workers";
    if (this.#lameDuck) return "lame duck: shutting down soon";
    return null;
  }

  #registerGauges(config: Config, count: number): void {
    const perWorker = workerShare(config, count).upstreamConnections;
    this.#registry.register(
      new Gauge("dotproxy_workers", "Workers serving queries now.", [], () => [[[], this.running]]),
    );
    this.#registry.register(
      new Gauge(
        "dotproxy_upstream_tls_connections_max",
        "Most TLS connections the whole proxy opens to an upstream (workers x per-worker cap).",
        ["to"],
        () => config.upstreams.map((spec) => [[spec.label], count * perWorker] as const),
      ),
    );
  }
}
