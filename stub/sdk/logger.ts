import type { LogLevel } from "../../src/ipc/protocol.js";

type Sink = (level: LogLevel, message: string) => void;

// Until the stub installs its sink (tests that import the SDK directly), lines go to stderr.
let sink: Sink = (level, message) => process.stderr.write(`${level} ${message}\n`);

/** @internal The stub routes log lines to the server, which tags and writes them whole. */
export function setLogSink(s: Sink): void {
  sink = s;
}

/** pb_utils.Logger: lines reach the server log tagged with model, version and instance. */
export const Logger = {
  logInfo(message: string): void {
    sink("INFO", String(message));
  },
  logWarn(message: string): void {
    sink("WARNING", String(message));
  },
  logError(message: string): void {
    sink("ERROR", String(message));
  },
  logVerbose(message: string): void {
    sink("VERBOSE", String(message));
  },
  log(message: string, level: LogLevel = "INFO"): void {
    sink(level, String(message));
  },
};
