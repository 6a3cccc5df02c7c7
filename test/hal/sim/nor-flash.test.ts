// Tests SimNorFlash: NOR rules, counters, timing on the virtual clock, and deterministic power cuts against a model.
import fc from "fast-check";
import { bytesEqual, deepEqual, equal, notEqual, ok, throws } from "../../lib/assert.js";
import { FlashError } from "../../../hal/flash.js";
import { PowerLoss, SimNorFlash } from "../../../hal/sim/nor-flash.js";
import type { TornMode } from "../../../hal/sim/nor-flash.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { assertProperty } from "../../lib/property.js";

const BLOCK = 256;
const BLOCKS = 4;
const SIZE = BLOCK * BLOCKS;

function small(extra: Partial<ConstructorParameters<typeof SimNorFlash>[0]> = {}): SimNorFlash {
  return new SimNorFlash({ size: SIZE, blockLength: BLOCK, writeAlign: 4, ...extra });
}

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

const flashError = (code: string) => (e: unknown) => e instanceof FlashError && e.code === code;

describe("SimNorFlash", () => {
  describe("NOR semantics", () => {
    it("starts erased, reports its geometry, and reads what was written", () => {
      const flash = small();
      deepEqual(flash.status(), { size: SIZE, blockLength: BLOCK, writeAlign: 4, eraseValue: 0xff });
      bytesEqual(flash.snapshot(), filled(SIZE, 0xff));
      flash.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 252);
      const into = new Uint8Array(12);
      flash.read(into, 250);
      bytesEqual(into, Uint8Array.of(0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff));
    });

    it("a write may clear bits again and again but never set one; a rejected write changes nothing", () => {
      const flash = small();
      flash.write(Uint8Array.of(0xf0, 0xff, 0xff, 0xff), 16);
      flash.write(Uint8Array.of(0x30, 0xfe, 0xff, 0x7f), 16);
      bytesEqual(flash.inspect(16, 4), Uint8Array.of(0x30, 0xfe, 0xff, 0x7f));
      // First 7 bytes would be fine; the 8th needs bit 7 set back.
      const before = flash.snapshot();
      throws(
        () => flash.write(Uint8Array.of(0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0xff), 12),
        flashError("unerased"),
      );
      bytesEqual(flash.snapshot(), before);
      // Same value again is allowed (no bit changes).
      flash.write(Uint8Array.of(0x30, 0xfe, 0xff, 0x7f), 16);
    });

    it("erase value 0x00: writes may only set bits", () => {
      const flash = small({ eraseValue: 0x00 });
      bytesEqual(flash.snapshot(), filled(SIZE, 0));
      flash.write(Uint8Array.of(0x0f, 0, 0, 0), 0);
      flash.write(Uint8Array.of(0x3f, 0, 0, 0x80), 0);
      throws(() => flash.write(Uint8Array.of(0x01, 0, 0, 0x80), 0), flashError("unerased"));
      flash.eraseBlock(0);
      bytesEqual(flash.inspect(0, 4), Uint8Array.of(0, 0, 0, 0));
    });

    it("misaligned offset or length is rejected with 'align' and nothing is written", () => {
      const flash = small();
      throws(() => flash.write(filled(4, 0), 2), flashError("align"));
      throws(() => flash.write(filled(6, 0), 4), flashError("align"));
      throws(() => flash.write(filled(1, 0), 0), flashError("align"));
      bytesEqual(flash.snapshot(), filled(SIZE, 0xff));
    });

    it("erase resets exactly the named blocks", () => {
      const flash = small();
      flash.write(filled(SIZE, 0x00), 0);
      flash.eraseBlock(1, 3);
      const expected = filled(SIZE, 0x00);
      expected.fill(0xff, BLOCK, 3 * BLOCK);
      bytesEqual(flash.snapshot(), expected);
      flash.eraseBlock(3);
      expected.fill(0xff, 3 * BLOCK);
      bytesEqual(flash.snapshot(), expected);
    });

    it("out of bounds erase, write and read are rejected with 'bounds'", () => {
      const flash = small();
      for (const [start, end] of [
        [-1, 0],
        [BLOCKS, BLOCKS + 1],
        [0, BLOCKS + 1],
        [2, 2],
        [3, 1],
        [0.5, 1],
      ] as const) {
        throws(() => flash.eraseBlock(start, end), flashError("bounds"), `erase ${start}..${end}`);
      }
      throws(() => flash.eraseBlock(BLOCKS), flashError("bounds"));
      throws(() => flash.write(filled(8, 0), SIZE - 4), flashError("bounds"));
      throws(() => flash.write(filled(4, 0), -4), flashError("bounds"));
      throws(() => flash.read(new Uint8Array(2), SIZE - 1), flashError("bounds"));
      throws(() => flash.read(new Uint8Array(1), -1), flashError("bounds"));
      flash.read(new Uint8Array(1), SIZE - 1);
      equal(flash.stats.operations, 0);
    });
  });

  describe("counters and timing", () => {
    it("counts erased blocks, writes and bytes per block; rejected requests and reads do not count", () => {
      const flash = small();
      flash.eraseBlock(0, 3);
      flash.eraseBlock(0);
      flash.write(filled(8, 0), BLOCK - 4); // 4 bytes in block 0, 4 in block 1
      flash.write(filled(16, 0), 2 * BLOCK);
      flash.write(new Uint8Array(0), 0);
      throws(() => flash.write(filled(4, 0xff), 2 * BLOCK), flashError("unerased"));
      throws(() => flash.write(filled(4, 0), 1), flashError("align"));
      flash.read(new Uint8Array(SIZE), 0);
      deepEqual(flash.stats, {
        erases: [2, 1, 1, 0],
        bytesWritten: [4, 4, 16, 0],
        eraseCount: 4,
        writeCount: 2,
        bytesWrittenTotal: 24,
        operations: 6,
      });
      flash.resetStats();
      deepEqual(flash.stats, {
        erases: [0, 0, 0, 0],
        bytesWritten: [0, 0, 0, 0],
        eraseCount: 0,
        writeCount: 0,
        bytesWrittenTotal: 0,
        operations: 0,
      });
    });

    it("erases and writes keep the CPU busy on the clock (timers fire late)", () => {
      const clock = new VirtualClock();
      const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 4, clock });
      flash.eraseBlock(0, 2);
      equal(clock.now(), 90);
      flash.write(filled(1024, 0), 0);
      equal(clock.now(), 90.5);
      flash.write(filled(300, 0), 4096);
      equal(clock.now(), 90.5 + 0.146); // 300/1024*0.5 = 0.146484 ms, rounded to 1 µs
      const clock2 = new VirtualClock();
      const custom = new SimNorFlash({
        size: 4096,
        blockLength: 4096,
        writeAlign: 1,
        clock: clock2,
        timing: { eraseMs: 10, writeMsPerKiB: 2 },
      });
      let firedAt = -1;
      clock2.setTimer(() => (firedAt = clock2.now()), 1);
      custom.eraseBlock(0);
      custom.write(filled(512, 0), 0);
      equal(firedAt, -1, "no timer fires while the flash keeps the CPU busy");
      clock2.advance(0);
      equal(firedAt, 11);
    });
  });

  describe("power cuts", () => {
    it("cut before operation N: operations 1..N-1 applied, N not; PowerLoss on every call until powerOn()", () => {
      const flash = small();
      flash.armPowerCut(3);
      flash.write(filled(4, 0x11), 0); // 1
      flash.eraseBlock(1); // 2
      equal(flash.cutHappened, false);
      throws(() => flash.write(filled(4, 0x22), 8), PowerLoss); // 3: cut
      equal(flash.cutHappened, true);
      equal(flash.poweredOff, true);
      throws(() => flash.read(new Uint8Array(4), 0), PowerLoss);
      throws(() => flash.write(filled(4, 0x22), 8), PowerLoss);
      throws(() => flash.eraseBlock(0), PowerLoss);
      throws(() => flash.status(), PowerLoss);
      equal(flash.stats.operations, 3);
      const expected = filled(SIZE, 0xff);
      expected.fill(0x11, 0, 4);
      bytesEqual(flash.snapshot(), expected);
      flash.powerOn();
      equal(flash.poweredOff, false);
      equal(flash.cutHappened, true);
      const into = new Uint8Array(12);
      flash.read(into, 0);
      bytesEqual(into, Uint8Array.of(0x11, 0x11, 0x11, 0x11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
      flash.write(filled(4, 0x22), 8); // no further cut: the arm was used up
    });

    it("a multi-block erase is one operation per block: a cut inside it leaves the earlier blocks erased", () => {
      const flash = small({ faults: { cutBeforeOperation: 3 } });
      flash.write(filled(SIZE, 0), 0); // 1
      throws(() => flash.eraseBlock(0, 4), PowerLoss); // blocks 0 (2) done, 1 (3) cut
      const expected = filled(SIZE, 0);
      expected.fill(0xff, 0, BLOCK);
      bytesEqual(flash.snapshot(), expected);
      deepEqual(flash.stats.erases, [1, 0, 0, 0]);
    });

    it("a rejected request is no operation and does not trigger the cut", () => {
      const flash = small();
      flash.armPowerCut(1);
      throws(() => flash.write(filled(4, 0), 3), flashError("align"));
      equal(flash.cutHappened, false);
      throws(() => flash.eraseBlock(0), PowerLoss);
    });

    it("torn write stores a prefix only, chosen by the seed (same seed, same prefix)", () => {
      const data = Uint8Array.from({ length: 64 }, (_, i) => i);
      const prefixes = new Set<number>();
      for (let seed = 1; seed <= 20; seed++) {
        const runs = [0, 1].map(() => {
          const flash = small();
          flash.write(filled(4, 0xaa), 64); // operation 1: makes the prefix start after stale bytes
          flash.armPowerCut(1, "write-prefix", seed);
          throws(() => flash.write(data, 0), PowerLoss);
          return flash.snapshot();
        });
        bytesEqual(runs[0]!, runs[1]!, `seed ${seed} replays`);
        const image = runs[0]!;
        let prefix = 0;
        while (prefix < 64 && image[prefix] === data[prefix]) prefix++;
        ok(prefix < 64, "a torn write never completes");
        bytesEqual(image.subarray(prefix, 64), filled(64 - prefix, 0xff), "after the prefix: untouched");
        bytesEqual(image.subarray(64, 68), filled(4, 0xaa));
        prefixes.add(prefix);
      }
      ok(prefixes.size >= 5, `seeds pick different prefixes: ${[...prefixes].join(",")}`);
    });

    it("torn write prefix lengths cover [0, len) and never the whole write", () => {
      const seen = [0, 0, 0, 0, 0];
      for (let seed = 0; seed < 200; seed++) {
        const flash = small();
        flash.armPowerCut(1, "write-prefix", seed);
        throws(() => flash.write(Uint8Array.of(1, 2, 3, 4), 0), PowerLoss);
        const image = flash.inspect(0, 4);
        let prefix = 0;
        while (prefix < 4 && image[prefix] === prefix + 1) prefix++;
        seen[prefix]!++;
      }
      equal(seen[4], 0, "never complete");
      ok(
        seen.slice(0, 4).every((n) => n > 20),
        `all prefix lengths occur: ${seen.join(",")}`,
      );
    });

    it("torn erase leaves seed-chosen garbage in that block only", () => {
      const garbage = (seed: number): Uint8Array => {
        const flash = small();
        flash.write(filled(SIZE, 0x00), 0);
        flash.armPowerCut(2, "erase-garbage", seed);
        flash.eraseBlock(0);
        throws(() => flash.eraseBlock(2), PowerLoss);
        const image = flash.snapshot();
        bytesEqual(image.subarray(0, BLOCK), filled(BLOCK, 0xff));
        bytesEqual(image.subarray(BLOCK, 2 * BLOCK), filled(BLOCK, 0x00));
        bytesEqual(image.subarray(3 * BLOCK), filled(BLOCK, 0x00));
        return image.slice(2 * BLOCK, 3 * BLOCK);
      };
      const a = garbage(7);
      bytesEqual(garbage(7), a);
      notEqual(garbage(8).join(), a.join());
      const values = new Set(a);
      ok(values.size > 100, "garbage is not a constant fill");
    });

    it("torn mode 'none' and 'write-prefix' do not tear an erase; 'erase-garbage' does not tear a write", () => {
      const modes: [TornMode, "erase" | "write", boolean][] = [
        ["none", "erase", false],
        ["write-prefix", "erase", false],
        ["erase-garbage", "write", false],
        ["any", "erase", true],
      ];
      for (const [mode, kind, torn] of modes) {
        const flash = small();
        flash.write(filled(BLOCK, 0), 0);
        flash.armPowerCut(1, mode, 3);
        throws(() => (kind === "erase" ? flash.eraseBlock(0) : flash.write(filled(4, 0), BLOCK)), PowerLoss);
        const changed =
          flash.inspect(0, 2 * BLOCK).join() !==
          new Uint8Array(BLOCK).join() + "," + filled(BLOCK, 0xff).join();
        equal(changed, torn, `${mode} on ${kind}`);
      }
    });

    it("clones are independent both ways (copy-on-write); from() copies content, not stats or faults", () => {
      const base = small();
      base.write(Uint8Array.of(1, 2, 3, 4), 0);
      base.write(Uint8Array.of(5, 6, 7, 8), BLOCK);
      base.armPowerCut(5);
      const clone = SimNorFlash.from(base);
      const second = SimNorFlash.from(base);
      deepEqual(clone.status(), base.status());
      bytesEqual(clone.snapshot(), base.snapshot());
      equal(clone.stats.operations, 0);
      clone.eraseBlock(0);
      clone.write(Uint8Array.of(0, 0, 0, 0), 2 * BLOCK);
      base.write(Uint8Array.of(0, 0, 0, 0), BLOCK);
      base.write(Uint8Array.of(9, 9, 9, 9), 3 * BLOCK);
      bytesEqual(base.inspect(0, 4), Uint8Array.of(1, 2, 3, 4));
      bytesEqual(base.inspect(2 * BLOCK, 4), filled(4, 0xff));
      bytesEqual(clone.inspect(BLOCK, 4), Uint8Array.of(5, 6, 7, 8));
      bytesEqual(clone.inspect(3 * BLOCK, 4), filled(4, 0xff));
      bytesEqual(clone.inspect(0, 4), filled(4, 0xff));
      bytesEqual(
        second.snapshot().subarray(0, BLOCK + 4),
        Uint8Array.of(1, 2, 3, 4, ...filled(BLOCK - 4, 0xff), 5, 6, 7, 8),
      );
      equal(
        second
          .snapshot()
          .subarray(2 * BLOCK)
          .every((b) => b === 0xff),
        true,
      );
      const fromInitial = small({ initial: Uint8Array.of(9, 8) });
      bytesEqual(fromInitial.inspect(0, 4), Uint8Array.of(9, 8, 0xff, 0xff));
    });

    it("clones are copy-on-write: 300 clones of a 4 MiB flash each write a block and leave the original intact", () => {
      const big = new SimNorFlash({ size: 4 << 20, blockLength: 4096, writeAlign: 4 });
      big.write(filled(4096, 0x11), 0);
      for (let i = 0; i < 300; i++) {
        const clone = SimNorFlash.from(big);
        clone.write(filled(4, 0), 4096 * (i % 1024));
        bytesEqual(clone.inspect(4096 * (i % 1024), 4), filled(4, 0));
      }
      bytesEqual(big.inspect(0, 4096), filled(4096, 0x11));
      bytesEqual(big.inspect(4096, 4), filled(4, 0xff));
    });

    type Op =
      { kind: "erase"; start: number; count: number } | { kind: "write"; offset: number; data: Uint8Array };

    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant("erase" as const),
        start: fc.integer({ min: 0, max: BLOCKS - 1 }),
        count: fc.integer({ min: 1, max: 2 }),
      }),
      fc.record({
        kind: fc.constant("write" as const),
        offset: fc.integer({ min: 0, max: SIZE / 4 - 8 }).map((n) => n * 4),
        data: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((d) => d.subarray(0, d.length & ~3)),
      }),
    );

    /** Unit operations of the model (each erased block or each write), made valid by AND-ing writes with the content. */
    function applyModel(model: Uint8Array, op: Op, units: (() => void)[]): void {
      if (op.kind === "erase") {
        const end = Math.min(op.start + op.count, BLOCKS);
        for (let block = op.start; block < end; block++)
          units.push(() => model.fill(0xff, block * BLOCK, (block + 1) * BLOCK));
      } else if (op.data.length > 0) {
        units.push(() => model.set(op.data, op.offset));
      }
    }

    it("property: a cut at operation N leaves exactly the first N-1 operations applied, N absent or torn (against a model)", () => {
      assertProperty(
        fc.property(
          fc.array(opArb, { minLength: 1, maxLength: 25 }),
          fc.integer({ min: 1, max: 60 }),
          fc.constantFrom<TornMode>("none", "any"),
          fc.integer({ min: 0, max: 1000 }),
          (ops, cutAt, torn, seed) => {
            const flash = small({ faults: { cutBeforeOperation: cutAt, torn, seed } });
            let tornRegion: { from: number; to: number; data?: Uint8Array } | undefined;
            const model = filled(SIZE, 0xff);
            let applied = 0;
            let lost = false;
            for (const op of ops) {
              const end = op.kind === "erase" ? Math.min(op.start + op.count, BLOCKS) : 0;
              // Keep writes valid: only clear bits already present.
              const data =
                op.kind === "write" ? op.data.map((b, i) => b & model[op.offset + i]!) : new Uint8Array(0);
              const units: (() => void)[] = [];
              applyModel(model, op.kind === "write" ? { ...op, data } : op, units);
              try {
                if (op.kind === "erase") flash.eraseBlock(op.start, end);
                else flash.write(data, op.offset);
                for (const unit of units) unit();
                applied += units.length;
              } catch (error) {
                ok(error instanceof PowerLoss, String(error));
                equal(lost, false);
                lost = true;
                // Units before the cut inside a multi-block erase were applied.
                const done = cutAt - 1 - applied;
                for (let i = 0; i < done; i++) units[i]!();
                applied += done;
                if (torn === "any") {
                  tornRegion =
                    op.kind === "erase"
                      ? { from: (op.start + done) * BLOCK, to: (op.start + done + 1) * BLOCK }
                      : { from: op.offset, to: op.offset + data.length, data };
                }
                break;
              }
            }
            const totalUnits = flash.stats.operations;
            if (lost) {
              equal(applied, cutAt - 1);
              equal(totalUnits, cutAt);
              equal(flash.stats.eraseCount + flash.stats.writeCount, cutAt - 1);
              throws(() => flash.read(new Uint8Array(1), 0), PowerLoss);
              flash.powerOn();
            } else {
              ok(applied < cutAt, "no cut means the sequence was shorter than N");
            }
            const content = new Uint8Array(SIZE);
            flash.read(content, 0);
            if (tornRegion) {
              // Outside the torn operation: exactly the model. Inside a torn write: a strict prefix of the new bytes.
              bytesEqual(content.subarray(0, tornRegion.from), model.subarray(0, tornRegion.from));
              bytesEqual(content.subarray(tornRegion.to), model.subarray(tornRegion.to));
              const data = tornRegion.data;
              if (data) {
                const region = content.subarray(tornRegion.from, tornRegion.to);
                const old = model.subarray(tornRegion.from, tornRegion.to);
                // Some p < length must give region = data[0, p) + old[p, length).
                let prefix = 0;
                while (prefix < data.length && region[prefix] === data[prefix]) prefix++;
                let suffixStart = data.length;
                while (suffixStart > 0 && region[suffixStart - 1] === old[suffixStart - 1]) suffixStart--;
                ok(suffixStart <= Math.min(prefix, data.length - 1), "a torn write stores a strict prefix");
              }
            } else {
              bytesEqual(content, model);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
