/** Runs `fn` with stderr silenced: commander prints the errors it throws. */
export function quietly<T>(fn: () => T): T {
  const write = process.stderr.write;
  process.stderr.write = () => true;
  try {
    return fn();
  } finally {
    process.stderr.write = write;
  }
}
