// Version ordering for the downgrade gate: numeric parts compare as numbers ("1.10" > "1.9").

/** Negative if a < b, 0 if equal, positive if a > b. Parts split on . _ - and compared numerically when both are digits. */
export function compareVersions(a: string, b: string): number {
  const left = a.split(/[._-]/);
  const right = b.split(/[._-]/);
  const count = Math.max(left.length, right.length);
  for (let i = 0; i < count; i++) {
    const x = left[i] ?? "0";
    const y = right[i] ?? "0";
    if (x === y) continue;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    if (numeric) {
      const diff = Number(x) - Number(y);
      if (diff !== 0) return diff;
    } else {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}
