export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

export function summarize(samplesUs) {
  const s = Float64Array.from(samplesUs).sort();
  return { p50: +percentile(s, 0.5).toFixed(2), p99: +percentile(s, 0.99).toFixed(2), n: s.length };
}

export const nowUs = () => Number(process.hrtime.bigint()) / 1000;
