/**
 * The metrics front end: Prometheus text at GET /metrics on its own port (Triton's 8002), nothing
 * else. The composition root hands it the model samples; it knows no models itself.
 */
import * as http from "node:http";
import { CpuSampler } from "./cpu.js";
import { customMetrics } from "./custom.js";
import { createMetricsRegistry, type ModelSample } from "./registry.js";

export interface MetricsServiceOptions {
  port: number;
  address: string;
  /** How often the polled (CPU) metrics are refreshed: --metrics-interval-ms. */
  intervalMs: number;
  /** --allow-cpu-metrics. */
  cpu: boolean;
  log?: (line: string) => void;
}

export class MetricsService {
  readonly #http: http.Server;
  readonly #cpu: CpuSampler | null;
  readonly #o: MetricsServiceOptions;

  constructor(models: () => ModelSample[], options: MetricsServiceOptions) {
    this.#o = options;
    this.#cpu = options.cpu ? new CpuSampler() : null;
    // Every family reads the same snapshot, taken once per scrape: the collect() callbacks all
    // run synchronously inside registry.metrics(), so concurrent scrapes cannot mix snapshots.
    let snapshot: ModelSample[] = [];
    const registry = createMetricsRegistry(() => snapshot, this.#cpu);
    // Handlers' custom metrics (pb_utils.MetricFamily), beside Triton's families.
    customMetrics.expose(registry, (line) => this.#o.log?.(`metrics: ${line}`));
    this.#http = http.createServer((req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path !== "/metrics") {
        res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { Allow: "GET", "Content-Type": "text/plain" }).end("Method Not Allowed");
        return;
      }
      Promise.resolve().then(() => {
        snapshot = models();
        return registry.metrics();
      }).then(
        (text) => res.writeHead(200, { "Content-Type": registry.contentType }).end(req.method === "HEAD" ? undefined : text),
        (err: Error) => {
          this.#o.log?.(`metrics: collecting failed: ${err.stack ?? err.message}`);
          res.writeHead(500, { "Content-Type": "text/plain" }).end("Internal Server Error");
        },
      );
    });
  }

  /** Listens; resolves with "address:port" as bound (port 0 picks a free one). */
  async start(): Promise<string> {
    const { port, address } = this.#o;
    await new Promise<void>((resolve, reject) => {
      this.#http.once("error", reject);
      this.#http.listen(port, address, () => {
        this.#http.off("error", reject);
        resolve();
      });
    });
    this.#cpu?.start(this.#o.intervalMs);
    const bound = this.#http.address();
    return typeof bound === "object" && bound ? `${bound.address}:${bound.port}` : String(bound);
  }

  /** Stops polling, refuses new scrapes and cuts open ones (a scrape is short and idempotent). */
  stop(): void {
    this.#cpu?.stop();
    this.#http.close();
    this.#http.closeAllConnections();
  }
}
