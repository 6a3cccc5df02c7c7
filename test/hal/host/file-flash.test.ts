// Node-only tests of the file-backed flash: NOR rules, write-through persistence, and equivalence with SimNorFlash.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { FlashError } from "../../../hal/flash.js";
import { FileFlash } from "../../../hal/host/file-flash.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { assertProperty } from "../../lib/property.js";

const geometry = { size: 4 * 256, blockLength: 256, writeAlign: 4 };

function flashError(code: FlashError["code"]) {
  return (error: unknown) => error instanceof FlashError && error.code === code;
}

describe("hal/host FileFlash", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "file-flash-"));
    file = path.join(dir, "sub", "slot.bin");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("creates a missing file filled with the erase value, with the given geometry", () => {
    const flash = new FileFlash({ file, ...geometry });
    assert.deepEqual(flash.status(), { ...geometry, eraseValue: 0xff });
    assert.deepEqual(fs.readFileSync(file), Buffer.alloc(geometry.size, 0xff));
    flash.close();
    const zeroErased = new FileFlash({ file: path.join(dir, "zero.bin"), ...geometry, eraseValue: 0 });
    assert.deepEqual(fs.readFileSync(path.join(dir, "zero.bin")), Buffer.alloc(geometry.size, 0));
    zeroErased.close();
  });

  it("writes clear bits only; each write and erase reaches the file at once", () => {
    const flash = new FileFlash({ file, ...geometry });
    flash.write(Uint8Array.of(0xf0, 0x0f, 0x00, 0xaa), 8);
    assert.deepEqual(
      [...fs.readFileSync(file).subarray(4, 16)],
      [255, 255, 255, 255, 0xf0, 0x0f, 0x00, 0xaa, 255, 255, 255, 255],
    );
    // Clearing more bits of an already written byte is allowed on NOR.
    flash.write(Uint8Array.of(0x30, 0x01, 0x00, 0x0a), 8);
    assert.deepEqual([...fs.readFileSync(file).subarray(8, 12)], [0x30, 0x01, 0x00, 0x0a]);
    flash.eraseBlock(0);
    assert.deepEqual(fs.readFileSync(file).subarray(0, 256), Buffer.alloc(256, 0xff));
    const into = new Uint8Array(4);
    flash.read(into, 8);
    assert.deepEqual(into, Uint8Array.of(255, 255, 255, 255));
    flash.close();
  });

  it("rejects a write that would set bits, changing nothing", () => {
    const flash = new FileFlash({ file, ...geometry });
    flash.write(Uint8Array.of(0x00, 0x00, 0x00, 0x00), 0);
    const before = fs.readFileSync(file);
    assert.throws(() => flash.write(Uint8Array.of(0x00, 0x01, 0x00, 0x00), 0), flashError("unerased"));
    assert.throws(
      () => flash.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 256 - 256),
      flashError("unerased"),
    );
    assert.deepEqual(fs.readFileSync(file), before);
    flash.close();
  });

  it("rejects misaligned and out-of-bounds requests with the right codes", () => {
    const flash = new FileFlash({ file, ...geometry });
    assert.throws(() => flash.write(new Uint8Array(4), 2), flashError("align"));
    assert.throws(() => flash.write(new Uint8Array(3), 4), flashError("align"));
    assert.throws(() => flash.write(new Uint8Array(8), geometry.size - 4), flashError("bounds"));
    assert.throws(() => flash.write(new Uint8Array(4), -4), flashError("bounds"));
    assert.throws(() => flash.read(new Uint8Array(2), geometry.size - 1), flashError("bounds"));
    assert.throws(() => flash.eraseBlock(4), flashError("bounds"));
    assert.throws(() => flash.eraseBlock(2, 2), flashError("bounds"));
    assert.throws(() => flash.eraseBlock(-1), flashError("bounds"));
    assert.deepEqual(fs.readFileSync(file), Buffer.alloc(geometry.size, 0xff));
    flash.close();
  });

  it("keeps its content across close and reopen, and refuses a file of another size", () => {
    const first = new FileFlash({ file, ...geometry, fsync: false });
    first.eraseBlock(1, 3);
    first.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 300);
    first.close();
    assert.throws(() => first.read(new Uint8Array(1), 0), flashError("io"));
    const again = new FileFlash({ file, ...geometry });
    const into = new Uint8Array(8);
    again.read(into, 300);
    assert.deepEqual(into, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    again.close();
    assert.throws(() => new FileFlash({ file, ...geometry, size: 2 * 256 }), flashError("io"));
  });

  it("property: any operation sequence gives the same results and bytes as SimNorFlash, also after reopen", () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant("erase" as const),
        start: fc.integer({ min: -1, max: 4 }),
        count: fc.integer({ min: 0, max: 2 }),
      }),
      fc.record({
        kind: fc.constant("write" as const),
        offset: fc.integer({ min: -4, max: geometry.size + 4 }),
        bytes: fc.uint8Array({ minLength: 0, maxLength: 24 }),
        clearOnly: fc.boolean(),
      }),
    );
    let run = 0;
    assertProperty(
      fc.property(fc.array(operation, { maxLength: 25 }), (operations) => {
        const runFile = path.join(dir, `model-${run++}.bin`);
        const flash = new FileFlash({ file: runFile, ...geometry, fsync: false });
        const model = new SimNorFlash({ ...geometry });
        const outcome = (f: () => void): string => {
          try {
            f();
            return "ok";
          } catch (error) {
            return error instanceof FlashError ? error.code : `unexpected ${String(error)}`;
          }
        };
        const current = new Uint8Array(geometry.size);
        for (const op of operations) {
          if (op.kind === "erase") {
            assert.equal(
              outcome(() => flash.eraseBlock(op.start, op.start + op.count)),
              outcome(() => model.eraseBlock(op.start, op.start + op.count)),
            );
          } else {
            let bytes = op.bytes;
            if (op.clearOnly && op.offset >= 0 && op.offset + bytes.length <= geometry.size) {
              // Mostly-legal writes: only clear bits of what is there, so the sequence gets deep.
              model.read(current.subarray(0, bytes.length), op.offset);
              bytes = bytes.map((b, i) => b & current[i]!);
            }
            assert.equal(
              outcome(() => flash.write(bytes, op.offset)),
              outcome(() => model.write(bytes, op.offset)),
            );
          }
        }
        const expected = new Uint8Array(geometry.size);
        model.read(expected, 0);
        const actual = new Uint8Array(geometry.size);
        flash.read(actual, 0);
        assert.deepEqual(actual, expected);
        flash.close();
        assert.deepEqual(new Uint8Array(fs.readFileSync(runFile)), expected);
      }),
      { numRuns: 60 },
    );
  });
});
