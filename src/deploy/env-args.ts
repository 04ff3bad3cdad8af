/**
 * TESSERA_* environment variables as flags, for container specs that set env rather than args.
 * Each variable stands for one flag; a flag given on the command line wins over its variable.
 * The variables become `--flag=value` arguments ahead of the command line, so commander checks
 * their values exactly as it checks the flags'.
 */

/** Variable → flag. TESSERA_MODEL_REPOSITORY may list several folders, separated by ':'. */
export const ENV_FLAGS: readonly (readonly [string, string])[] = [
  ["TESSERA_MODEL_REPOSITORY", "--model-repository"],
  ["TESSERA_HTTP_PORT", "--http-port"],
  ["TESSERA_HTTP_ADDRESS", "--http-address"],
  ["TESSERA_GRPC_PORT", "--grpc-port"],
  ["TESSERA_GRPC_ADDRESS", "--grpc-address"],
  ["TESSERA_METRICS_PORT", "--metrics-port"],
  ["TESSERA_METRICS_ADDRESS", "--metrics-address"],
  ["TESSERA_OPENAI_PORT", "--openai-port"],
  ["TESSERA_OPENAI_ADDRESS", "--openai-address"],
  ["TESSERA_ALLOW_HTTP", "--allow-http"],
  ["TESSERA_ALLOW_GRPC", "--allow-grpc"],
  ["TESSERA_ALLOW_METRICS", "--allow-metrics"],
  ["TESSERA_MODEL_CONTROL_MODE", "--model-control-mode"],
  ["TESSERA_EXIT_TIMEOUT_SECS", "--exit-timeout-secs"],
  ["TESSERA_DRAIN_DELAY_SECS", "--drain-delay-secs"],
  ["TESSERA_LOG_VERBOSE", "--log-verbose"],
  ["TESSERA_LOG_FORMAT", "--log-format"],
];

/** Whether argv already gives `flag` (as `--flag value` or `--flag=value`). */
function given(argv: readonly string[], flag: string): boolean {
  return argv.some((a) => a === flag || a.startsWith(`${flag}=`));
}

/** argv with the set TESSERA_* variables' flags in front, except those argv gives itself. */
export function withEnvArgs(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const front: string[] = [];
  for (const [name, flag] of ENV_FLAGS) {
    const value = env[name];
    if (value === undefined || value === "" || given(argv, flag)) continue;
    const values = name === "TESSERA_MODEL_REPOSITORY" ? value.split(":").filter((v) => v !== "") : [value];
    for (const v of values) front.push(`${flag}=${v}`);
  }
  return [...front, ...argv];
}

/** For --help: which variable stands for which flag. */
export function envHelp(): string {
  const rows = ENV_FLAGS.map(([name, flag]) => `  ${name.padEnd(28)} ${flag}`);
  return `\nEnvironment variables (a flag on the command line wins over its variable):\n${rows.join("\n")}\n`;
}
