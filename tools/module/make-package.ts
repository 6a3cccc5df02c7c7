// Writes a deterministic pseudo-random example package (default 19,656 bytes, the size of the reference's example).
// Usage: npx tsx tools/module/make-package.ts <out.bin> [size] [seed]

import fs from "node:fs";

export function examplePackage(size: number, seed = 7): Uint8Array {
  const data = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}

const entry = process.argv[1] ?? "";
if (entry.endsWith("make-package.ts")) {
  const [out, size = "19656", seed = "7"] = process.argv.slice(2);
  if (!out || !/^\d+$/.test(size) || !/^\d+$/.test(seed)) {
    process.stderr.write("usage: npx tsx tools/module/make-package.ts <out.bin> [size] [seed]\n");
    process.exit(1);
  }
  fs.writeFileSync(out, examplePackage(Number(size), Number(seed)));
  process.stdout.write(`${out}: ${size} bytes\n`);
}
