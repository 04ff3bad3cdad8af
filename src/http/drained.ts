import type * as http from "node:http";

/** Resolves once `res` can take more (its buffer drained) or is gone: backpressure for streams. */
export function drained(res: http.ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
