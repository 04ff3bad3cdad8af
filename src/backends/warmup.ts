/**
 * Model warmup (config `model_warmup`), as Triton's TritonModelInstance::GenerateWarmupData and
 * WarmUp: each sample becomes `batch_size` requests of one batch each, executed together as one
 * call straight on the instance (no scheduler), `count` times (at least once), before the
 * instance takes traffic — at load and again when a replacement instance starts. A sample with
 * batch_size 0 is skipped. Any response error fails the sample, and the load:
 * "failed to run warmup sample '<name>': <errors>". Decoupled models are warmed too: every
 * response is drained until each request's final flag.
 *
 * The data is made once per loaded version (files read once; their names were confined to
 * <model>/warmup/ by repository/model-files.ts before this runs): zeros, random bytes (zeros for
 * BYTES, as Triton: an element count of empty strings), or a file's bytes (BYTES files in Triton's
 * layout, a 4-byte little-endian length before each element; other types need at least the
 * input's byte size, of which the first bytes are used).
 */
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  warmupBadDatatype, warmupFileNotBytes, warmupFileTooShort, warmupFileUnreadable, warmupNoDataType, warmupSampleFailed,
  warmupVariableDims,
} from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";
import type { CoreRequest, CoreTensor, RequestResult } from "../core/types.js";
import { datatypeFromConfig, datatypeSize, decodeBytesElements, elementCount } from "../ipc/datatypes.js";
import type { ModelInstance } from "./backend.js";

export const WARMUP_FOLDER = "warmup";

export interface WarmupSample {
  name: string;
  /** Runs of the sample: Triton's count, at least 1. */
  count: number;
  /** One request's inputs; the sample's call sends batch_size requests with these. */
  inputs: CoreTensor[];
  batchSize: number;
}

/** The samples of a config, their data made (throws INVALID_ARG with Triton's texts). */
export function warmupSamples(config: Pick<ModelConfig, "model_warmup" | "max_batch_size" | "input">, modelDir: string): WarmupSample[] {
  const samples: WarmupSample[] = [];
  for (const w of config.model_warmup) {
    if (w.batch_size === 0) continue; // Triton: "Skipping batch 0 warmup sample"
    const inputs: CoreTensor[] = [];
    for (const [name, spec] of Object.entries(w.inputs)) {
      const datatype = datatypeFromConfig(spec.data_type);
      if (!datatype) throw warmupBadDatatype(name, spec.data_type);
      const dims = spec.dims.map(Number);
      if (dims.some((d) => d < 0)) throw warmupVariableDims(name);
      const count = elementCount(dims);
      const bytes = datatype === "BYTES" ? 4 * count : count * datatypeSize(datatype);
      let data: Uint8Array;
      if (spec.input_data_file !== undefined) {
        data = readData(join(modelDir, WARMUP_FOLDER, spec.input_data_file), spec.input_data_file, name);
        if (datatype === "BYTES") {
          if (!decodeBytesElements(data, count)) throw warmupFileNotBytes(spec.input_data_file, name, count);
        } else if (data.byteLength < bytes) {
          throw warmupFileTooShort(bytes, spec.input_data_file, data.byteLength);
        } else {
          data = data.subarray(0, bytes);
        }
      } else if (spec.random_data && datatype !== "BYTES") {
        data = randomFillSync(new Uint8Array(bytes));
      } else if (spec.zero_data || spec.random_data) {
        data = new Uint8Array(bytes);
      } else {
        throw warmupNoDataType(name);
      }
      // A batching model's inputs get the batch dimension (1 per request), as in Triton.
      const shape = config.max_batch_size !== 0 ? [1, ...dims] : dims;
      inputs.push({ name, datatype, shape, data });
    }
    samples.push({ name: w.name, count: Math.max(1, w.count), inputs, batchSize: w.batch_size });
  }
  return samples;
}

function readData(path: string, file: string, input: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw warmupFileUnreadable(file, input, err);
  }
}

/**
 * Runs every sample on `instance`, in order, each `count` times; throws warmupSampleFailed at the
 * first sample with an error. `decoupled`: the responses come through sinks, drained to the final.
 */
export async function warmUp(instance: ModelInstance, samples: readonly WarmupSample[], model: string, decoupled: boolean): Promise<void> {
  for (const sample of samples) {
    for (let i = 0; i < sample.count; i++) {
      const errors = await runOnce(instance, sample, model, decoupled);
      if (errors.length > 0) throw warmupSampleFailed(sample.name, errors);
    }
  }
}

async function runOnce(instance: ModelInstance, sample: WarmupSample, model: string, decoupled: boolean): Promise<string[]> {
  const errors: string[] = [];
  const note = (result: RequestResult | null) => {
    if (!result) return;
    if (result.error) errors.push(result.error.message);
    else result.release(); // warmup never looks at outputs, as Triton's
  };
  const finals: Promise<void>[] = [];
  const requests: CoreRequest[] = [];
  for (let r = 0; r < sample.batchSize; r++) {
    const request: CoreRequest = { model, id: "", inputs: sample.inputs, parameters: {} };
    if (decoupled) {
      finals.push(new Promise<void>((done) => {
        request.sink = (result, final) => {
          note(result);
          if (final) done();
        };
      }));
    }
    requests.push(request);
  }
  let results: RequestResult[];
  try {
    results = await instance.execute(requests);
  } catch (err) {
    return [(err as Error).message];
  }
  for (const result of results) note(result);
  await Promise.all(finals);
  return errors;
}
