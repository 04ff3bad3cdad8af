import type { LogLevel, StubLogLevels } from "../../src/ipc/protocol.js";

type Sink = (level: LogLevel, message: string) => void;

// Until the stub installs its sink (tests that import the SDK directly), lines go to stderr.
let sink: Sink = (level, message) => process.stderr.write(`${level} ${message}\n`);

/** @internal The stub routes log lines to the server, which tags and writes them whole. */
export function setLogSink(s: Sink): void {
  sink = s;
}

const LEVELS: readonly LogLevel[] = ["INFO", "WARNING", "ERROR", "VERBOSE"];

// The server's levels (--log-*, the logging extension): a line they turn off never leaves the stub.
let levels: StubLogLevels = { info: true, warning: true, error: true, verbose: 1 };

/** @internal The stub sets the server's levels at start and whenever they change. */
export function setLogLevels(l: StubLogLevels): void {
  levels = l;
}

function emit(level: LogLevel, message: string): void {
  const on = level === "INFO" ? levels.info : level === "WARNING" ? levels.warning : level === "ERROR" ? levels.error : levels.verbose > 0;
  if (on) sink(level, String(message));
}

/**
 * pb_utils.Logger: lines reach the server log tagged with model, version and instance. Its level
 * constants are pb_utils' Logger.LogLevel values (Logger.INFO, WARNING, ERROR, VERBOSE), for
 * Logger.log(message, level); VERBOSE lines show only with --log-verbose, as Triton's.
 */
export const Logger = {
  INFO: "INFO" as const,
  WARNING: "WARNING" as const,
  ERROR: "ERROR" as const,
  VERBOSE: "VERBOSE" as const,
  logInfo(message: string): void {
    emit("INFO", message);
  },
  logWarn(message: string): void {
    emit("WARNING", message);
  },
  logError(message: string): void {
    emit("ERROR", message);
  },
  logVerbose(message: string): void {
    emit("VERBOSE", message);
  },
  log(message: string, level: LogLevel = "INFO"): void {
    // pybind11 refuses a level that is not a LogLevel (a TypeError in Python): so does this.
    if (!LEVELS.includes(level)) {
      throw new TypeError(`Logger.log(): incompatible level ${JSON.stringify(level)}: use Logger.INFO, Logger.WARNING, Logger.ERROR or Logger.VERBOSE`);
    }
    emit(level, message);
  },
};
