// sota-delta: make, apply and inspect delta packages (and bare detools sequential patches) from the command line.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../../hal/digest.js";
import { DELTA_HEADER_SIZE, parseDeltaHeader } from "../../src/delta/package.js";
import { applyDeltaPackage, applySequentialPatch } from "./apply.js";
import { makeDeltaPackage, makeSequentialPatch } from "./create.js";

const USAGE = `usage:
  cli.ts make --from <source.bin> --to <target.bin> -o <out> [--raw]   delta package (or bare detools patch with --raw)
  cli.ts apply --from <source.bin> --patch <file> -o <target.bin>      package or bare detools sequential patch
  cli.ts info <file>                                                   header fields of a package or patch`;

function read(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)} %`;
}

/** Runs one command; returns the exit code (0 ok, 1 usage or I/O, 2 refused). */
export function main(argv: string[], print: (line: string) => void = console.log): number {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      patch: { type: "string" },
      output: { type: "string", short: "o" },
      raw: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (command === "make" && values.from && values.to && values.output) {
    const source = read(values.from);
    const target = read(values.to);
    const started = Date.now();
    const out = values.raw ? makeSequentialPatch(source, target) : makeDeltaPackage(source, target);
    writeFileSync(values.output, out);
    print(
      `${values.raw ? "patch" : "delta package"} ${values.output}: ${out.length} bytes = ${percent(out.length, target.length)} of the ${target.length}-byte target (${Date.now() - started} ms)`,
    );
    return 0;
  }
  if (command === "apply" && values.from && values.patch && values.output) {
    const source = read(values.from);
    const input = read(values.patch);
    const result = parseDeltaHeader(input).ok
      ? applyDeltaPackage(source, input)
      : applySequentialPatch(source, input);
    if (!result.ok) {
      print(`refused (${result.failure.code}): ${result.failure.message}`);
      return 2;
    }
    writeFileSync(values.output, result.output);
    print(`${values.output}: ${result.output.length} bytes, SHA-256 ${toHex(sha256(result.output))}`);
    return 0;
  }
  if (command === "info" && positionals.length === 1) {
    const input = read(positionals[0]!);
    const parsed = parseDeltaHeader(input);
    if (parsed.ok) {
      const h = parsed.header;
      print(
        `delta package, header version ${h.version}, patch format ${h.format} (detools sequential, heatshrink 8/7)`,
      );
      print(`source: ${h.sourceSize} bytes, SHA-256 ${toHex(h.sourceSha256)}`);
      print(`target: ${h.targetSize} bytes, SHA-256 ${toHex(h.targetSha256)}`);
      print(`patch:  ${h.patchSize} bytes (${percent(h.patchSize, h.targetSize)} of the target)`);
      if (input.length !== DELTA_HEADER_SIZE + h.patchSize) {
        print(
          `warning: the file has ${input.length} bytes, the header declares ${DELTA_HEADER_SIZE + h.patchSize}`,
        );
      }
      return 0;
    }
    if (input.length >= 2 && (input[0]! & 0x70) === 0) {
      let size = input[1]! & 0x3f;
      for (let i = 2, shift = 6, b = input[1]!; b & 0x80 && i < input.length; i++, shift += 7) {
        b = input[i]!;
        size += (b & 0x7f) * 2 ** shift;
      }
      print(
        `detools patch: type sequential, compression ${input[0]! & 0x0f}, target ${size} bytes, ${input.length} bytes`,
      );
      return 0;
    }
    print(`not a delta package (${parsed.message}) nor a detools sequential patch`);
    return 2;
  }
  print(USAGE);
  return 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main(process.argv.slice(2)));
