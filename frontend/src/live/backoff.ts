/** Full-jitter exponential backoff: a uniform delay in [0, min(cap, base·2^attempt)). */
export function fullJitter(attempt: number, random: () => number, baseMs = 500, capMs = 10_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
