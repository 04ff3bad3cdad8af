/** gRPC int64 dims arrive as Long (protobufjs with long.js): read exactly, as over HTTP. */
import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { decodeInferRequest, type InferRequestMessage } from "../../../src/grpc/infer-codec.js";
import { serviceDefinition } from "../../../src/grpc/proto.js";
import type { ServerError } from "../../../src/errors/index.js";

const service = serviceDefinition("inference.GRPCInferenceService");
const decoded = (shape: (string | number)[]) => {
  const wire = service.ModelInfer!.requestSerialize({
    model_name: "m", inputs: [{ name: "INPUT0", datatype: "FP32", shape }], raw_input_contents: [Buffer.alloc(4)],
  });
  return service.ModelInfer!.requestDeserialize(wire) as InferRequestMessage;
};
const message = (shape: (string | number)[]) => {
  try {
    decodeInferRequest(decoded(shape));
  } catch (err) {
    return [(err as ServerError).code, (err as ServerError).message];
  }
  return null;
};

describe("gRPC shapes", () => {
  it("refuses an overflowing element count with Triton's text, every digit kept", () => {
    expect(message(["16", "1152921504606846978"])).toEqual(["INVALID_ARG",
      "invalid shape for input 'INPUT0': shape [16,1152921504606846978] causes total element count to exceed maximum size of 9223372036854775807"]);
  });

  it("keeps a dim of 2^60+1 exact in its texts and refuses negative dims", () => {
    const negative = message(["-1152921504606846977"]);
    expect(negative?.[0]).toBe("INVALID_ARG");
    expect(negative?.[1]).toContain("[-1152921504606846977]");
    expect(message([1])).toBe(null);
    expect(decodeInferRequest(decoded(["1152921504606846976", "0"])).inputs[0]!.shape).toEqual([2 ** 60, 0]);
  });
});
