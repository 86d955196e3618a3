/**
 * Every non-empty prefix of `number`, longest first: the order a longest-prefix search probes them in (the
 * database lookup sends exactly these, so it can use one index probe per length).
 */
export function prefixesOf(number: string): string[] {
  const prefixes: string[] = [];
  for (let n = number.length; n >= 1; n--) prefixes.push(number.slice(0, n));
  return prefixes;
}

/** The distinct lengths of `prefixes`, longest first: what longestPrefix takes as `lengths`. */
export function prefixLengths(prefixes: Iterable<string>): number[] {
  const lengths = new Set<number>();
  for (const p of prefixes) lengths.add(p.length);
  return [...lengths].sort((a, b) => b - a);
}

/**
 * The value of the longest prefix of `number` that `lookup` knows, or null. `lengths` must be longest first
 * (see prefixLengths): only lengths some prefix has are probed, and the first hit is the longest, so a rate
 * deck of any size costs at most one lookup per distinct prefix length.
 */
export function longestPrefix<T>(
  number: string,
  lengths: readonly number[],
  lookup: (prefix: string) => T | undefined,
): T | null {
  for (const n of lengths) {
    if (n > number.length) continue;
    const hit = lookup(number.slice(0, n));
    if (hit !== undefined) return hit;
  }
  return null;
}

/**
 * The candidate with the longest prefix of `number`, or null: for lookups that fetch every candidate (each
 * prefix of the number found by an index probe) and leave the choice to this one rule.
 */
export function longestOf<T extends { prefix: string }>(number: string, candidates: readonly T[]): T | null {
  const byPrefix = new Map(candidates.map((c) => [c.prefix, c]));
  return longestPrefix(number, prefixLengths(byPrefix.keys()), (p) => byPrefix.get(p));
}
