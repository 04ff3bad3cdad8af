import { TritonError } from "../../stub/sdk/errors.js";

/** The TritonError a call throws (fails the test when it throws nothing or something else). */
export function thrown(fn: () => unknown): TritonError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TritonError) return e;
    throw new Error(`expected a TritonError, got ${String(e)}`);
  }
  throw new Error("expected the call to throw");
}
