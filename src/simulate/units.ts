// units.ts: durations and shares rendered for people ("1 min", "3.9 min", "0.16%").

/** duration renders milliseconds for a label: "1 s", "5 min", "250 ms". */
export function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${Number(ms.toPrecision(4))} ms`;
}

/** span renders a length of time for reading, rounded: "250 ms", "42 s", "3.9 min", "5.5 h", "2 d". */
export function span(ms: number): string {
  const r = (x: number): string => String(Number(x.toPrecision(2 + (x >= 100 ? 1 : 0))));
  if (ms < 1000) return `${r(ms)} ms`;
  if (ms < 120_000) return `${r(ms / 1000)} s`;
  if (ms < 7_200_000) return `${r(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${r(ms / 3_600_000)} h`;
  return `${r(ms / 86_400_000)} d`;
}

/** percent renders a share (0.0016) as a percentage with three significant digits ("0.160%"), or "0%". */
export function percent(share: number): string {
  return share === 0 ? "0%" : `${(share * 100).toPrecision(3)}%`;
}
