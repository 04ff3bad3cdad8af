/**
 * The ServerApi's questions about the server and its models (readiness, metadata, config, index,
 * statistics) and the repository extension's load / unload, with Triton's texts for refusals.
 * Everything here reads the model catalog; nothing here runs inference.
 */
import { VersionLoadError, explicitLoadNotAllowed, requestedModelUnavailable, requestedVersionUnavailable } from "../errors/index.js";
import { configToJson, tensorShapeForMetadata, type ModelConfig } from "../config/schema.js";
import { datatypeFromConfig } from "../ipc/datatypes.js";
import type { ModelStatistics, ModelStatisticsResponse } from "./statistics.js";
import type { LoadOptions, ModelIndexEntry, ModelMetadata, ServerMetadata } from "./types.js";

/** The model manager as the queries see it. */
export interface ModelCatalog {
  resolve(model: string, version?: string): { readonly version: number; readonly config: ModelConfig; readonly stats: ModelStatistics };
  index(readyOnly: boolean): ModelIndexEntry[];
  isModelReady(model: string, version?: string): boolean;
  allReady(): boolean;
  load(model: string, configOverride?: string, files?: LoadOptions["files"]): Promise<void>;
  unload(model: string): Promise<void>;
}

export interface QueryOptions {
  version: string;
  strictReadiness: boolean;
  modelControlMode: "none" | "explicit" | "poll";
}

const EXTENSIONS = ["classification", "model_repository", "model_configuration", "system_shared_memory", "binary_tensor_data", "parameters", "statistics", "logging", "trace"];

export class ServerQueries {
  readonly #models: ModelCatalog;
  readonly #o: QueryOptions;

  constructor(models: ModelCatalog, options: QueryOptions) {
    this.#models = models;
    this.#o = options;
  }

  /** `serving`: the server is live and not shutting down. */
  isReady(serving: boolean): boolean {
    if (!serving) return false;
    return !this.#o.strictReadiness || this.#models.allReady();
  }

  /**
   * Named "triton", as Triton's server answers (its --id default; qa/L0_lifecycle asserts it):
   * clients and tools check the name. The version is tessera's own.
   */
  serverMetadata(): ServerMetadata {
    return { name: "triton", version: this.#o.version, extensions: EXTENSIONS };
  }

  modelReady(model: string, version?: string): boolean {
    return this.#models.isModelReady(model, version);
  }

  modelMetadata(model: string, version?: string): ModelMetadata {
    const v = this.#models.resolve(model, version);
    const cfg = v.config;
    const tensors = (list: typeof cfg.input | typeof cfg.output) =>
      list.map((t) => ({ name: t.name, datatype: datatypeFromConfig(t.data_type)!, shape: tensorShapeForMetadata(cfg, t) }));
    const versions = version ? [String(v.version)] : this.#models.index(true).filter((e) => e.name === model && e.version).map((e) => e.version!);
    return { name: model, versions, platform: cfg.platform || cfg.backend, inputs: tensors(cfg.input), outputs: tensors(cfg.output) };
  }

  modelConfig(model: string, version?: string): Record<string, unknown> {
    return configToJson(this.#models.resolve(model, version).config);
  }

  repositoryIndex(options: { ready?: boolean }): ModelIndexEntry[] {
    return this.#models.index(options.ready === true);
  }

  async loadModel(model: string, options: LoadOptions): Promise<void> {
    this.#checkExplicit();
    try {
      await this.#models.load(model, options.config, options.files);
    } catch (err) {
      throw err instanceof VersionLoadError ? err.forRepositoryApi() : err;
    }
  }

  async unloadModel(model: string): Promise<void> {
    this.#checkExplicit();
    await this.#models.unload(model);
  }

  modelStatistics(model?: string, version?: string): ModelStatisticsResponse {
    // Triton lists ready versions only, and answers INVALID_ARG (its texts) for anything else.
    let ready = this.#models.index(true).filter((e) => e.version !== undefined && (model === undefined || e.name === model));
    if (model !== undefined) {
      if (ready.length === 0) throw requestedModelUnavailable(model);
      if (version !== undefined && version !== "" && version !== "-1") {
        ready = ready.filter((e) => Number(e.version) === Number(version));
        if (ready.length === 0) throw requestedVersionUnavailable(model);
      }
    }
    return {
      model_stats: ready.map((e) => this.#models.resolve(e.name, e.version).stats.toJson(e.name, e.version!)),
    };
  }

  isDecoupled(model: string, version?: string): boolean {
    return this.#models.resolve(model, version).config.model_transaction_policy.decoupled;
  }

  #checkExplicit(): void {
    if (this.#o.modelControlMode !== "explicit") {
      // Triton's text, which names polling even in "none" mode.
      throw explicitLoadNotAllowed();
    }
  }
}
