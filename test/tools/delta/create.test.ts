// Delta creator and CLI on the real Cortex-M pairs: deterministic patches (the committed ones, which detools'
// appliers accept), detools' patches applied byte-identically, the CLI's make/apply/info, fixture data in sync.
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bytesEqual, equal, ok } from "../../lib/assert.js";
import { firmwareDetoolsPatch, firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import { makeDeltaPackage, makeSequentialPatch } from "../../../tools/delta/create.js";
import { applyDeltaPackage, applySequentialPatch } from "../../../tools/delta/apply.js";
import { suffixArray } from "../../../tools/delta/bsdiff.js";
import { main } from "../../../tools/delta/cli.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/delta");
const read = (name: string) => new Uint8Array(readFileSync(path.join(fixtures, name)));

describe("tools/delta: creator and CLI", function () {
  this.timeout(60_000);

  it("keeps the portable fixture data equal to the files", () => {
    bytesEqual(firmwareV1, read("firmware-v1.bin"));
    bytesEqual(firmwareV2, read("firmware-v2.bin"));
    bytesEqual(firmwareDetoolsPatch, read("firmware.detools.patch"));
  });

  for (const pair of ["firmware", "firmware-libc"]) {
    it(`${pair}: makes exactly the committed patch (checked with detools' appliers) and rebuilds the target`, () => {
      const from = read(`${pair}-v1.bin`);
      const to = read(`${pair}-v2.bin`);
      const patch = makeSequentialPatch(from, to);
      bytesEqual(patch, read(`${pair}.sota.patch`));
      const result = applySequentialPatch(from, patch, 333);
      ok(result.ok, "applies");
      bytesEqual(result.output, to);
    });

    it(`${pair}: applies detools' own patch byte-identically, raw and inside a package`, () => {
      const from = read(`${pair}-v1.bin`);
      const to = read(`${pair}-v2.bin`);
      const detools = read(`${pair}.detools.patch`);
      const raw = applySequentialPatch(from, detools, 1);
      ok(raw.ok, raw.ok ? "" : raw.failure.message);
      bytesEqual(raw.output, to);
      const pkg = applyDeltaPackage(from, makeDeltaPackage(from, to, detools), 1024);
      ok(pkg.ok, "package");
      bytesEqual(pkg.output, to);
    });
  }

  it("builds a suffix array equal to a plain sort of the suffixes", () => {
    const data = new Uint8Array(300);
    for (let i = 0; i < data.length; i++) data[i] = i % 37 < 20 ? 0 : (i * 13) & 3;
    const sa = suffixArray(data);
    const naive = Array.from({ length: data.length + 1 }, (_, i) => i).sort((a, b) => {
      const x = Buffer.from(data.subarray(a));
      const y = Buffer.from(data.subarray(b));
      return Buffer.compare(x, y);
    });
    equal(Array.from(sa).join(","), naive.join(","));
  });

  it("makes identical and empty targets", () => {
    for (const [from, to] of [
      [firmwareV1, firmwareV1],
      [firmwareV1, new Uint8Array(0)],
      [new Uint8Array(0), firmwareV2],
    ] as const) {
      const patch = makeSequentialPatch(from, to);
      const result = applySequentialPatch(from, patch, 5);
      ok(result.ok, `${from.length} -> ${to.length}`);
      bytesEqual(result.output, to);
    }
    ok(makeSequentialPatch(firmwareV1, firmwareV1).length < 32, "an unchanged image costs a few bytes");
  });

  it("CLI: make, info and apply a package and a raw patch; refuses the wrong base with exit code 2", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sota-delta-"));
    try {
      const lines: string[] = [];
      const print = (line: string) => void lines.push(line);
      const v1 = path.join(fixtures, "firmware-v1.bin");
      const v2 = path.join(fixtures, "firmware-v2.bin");
      const pkg = path.join(dir, "delta.bin");
      equal(main(["make", "--from", v1, "--to", v2, "-o", pkg], print), 0);
      equal(main(["info", pkg], print), 0);
      ok(
        lines.some((l) => l.startsWith("target: 616 bytes, SHA-256 ")),
        lines.join("\n"),
      );
      const out = path.join(dir, "out.bin");
      equal(main(["apply", "--from", v1, "--patch", pkg, "-o", out], print), 0);
      bytesEqual(new Uint8Array(readFileSync(out)), firmwareV2);
      equal(main(["apply", "--from", v2, "--patch", pkg, "-o", out], print), 2);
      ok(lines[lines.length - 1]!.startsWith("refused (wrong-base)"), lines[lines.length - 1]!);
      const raw = path.join(dir, "raw.patch");
      equal(main(["make", "--raw", "--from", v1, "--to", v2, "-o", raw], print), 0);
      bytesEqual(new Uint8Array(readFileSync(raw)), read("firmware.sota.patch"));
      equal(
        main(
          ["apply", "--from", v1, "--patch", path.join(fixtures, "firmware.detools.patch"), "-o", out],
          print,
        ),
        0,
      );
      bytesEqual(new Uint8Array(readFileSync(out)), firmwareV2);
      writeFileSync(path.join(dir, "junk"), "junk");
      equal(main(["info", path.join(dir, "junk")], print), 2);
      equal(main(["frobnicate"], print), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
