// Our trailer writers and swap decision against the bytes and decisions of MCUboot's own bootutil (portable).
import { deepEqual, equal, ok } from "../../../lib/assert.js";
import type { FlashPartition } from "../../../../hal/flash.js";
import { PowerLoss, SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import {
  BootFlag,
  BootMagic,
  McubootTrailer,
  SwapType,
  bootMagic,
  decideSwap,
  trailerLayout,
  type FlashArea,
  type SwapState,
} from "../../../../src/boot/mcuboot/trailer.js";
import {
  FIXTURES,
  fixtureName,
  fromHex,
  toHexString,
  type FixtureScenario,
  type McubootFixture,
} from "./fixtures.js";

const BLOCK = 4096;

function makeFlash(f: McubootFixture, scenario: FixtureScenario): SimNorFlash {
  const flash = new SimNorFlash({ size: 2 * f.slotSize, blockLength: BLOCK, writeAlign: f.writeAlign });
  for (let slot = 0; slot < 2; slot++) {
    const bytes = fromHex(scenario.before[slot]!);
    flash.write(bytes, slot * f.slotSize + f.slotSize - f.dumpLength);
  }
  return flash;
}

function areas(f: McubootFixture, flash: FlashPartition): [FlashArea, FlashArea] {
  return [
    { flash, offset: 0, size: f.slotSize },
    { flash, offset: f.slotSize, size: f.slotSize },
  ];
}

function dump(f: McubootFixture, flash: SimNorFlash): [string, string] {
  const end = (slot: number): string =>
    toHexString(flash.inspect(slot * f.slotSize + f.slotSize - f.dumpLength, f.dumpLength));
  return [end(0), end(1)];
}

function plain(state: SwapState & { rc?: number }): SwapState {
  return {
    magic: state.magic,
    swapType: state.swapType,
    imageNum: state.imageNum,
    copyDone: state.copyDone,
    imageOk: state.imageOk,
  };
}

function run(f: McubootFixture, trailer: McubootTrailer, scenario: FixtureScenario, flash: FlashPartition) {
  const [primary, secondary] = areas(f, flash);
  return scenario.call === "pending"
    ? trailer.setPending(secondary, scenario.permanent === 1)
    : trailer.setConfirmed(primary);
}

describe("src/boot/mcuboot trailer: against MCUboot's bootutil", () => {
  it("covers the three swap modes and every maximum alignment, from one MCUboot commit", () => {
    equal(FIXTURES.length, 15);
    const commits = new Set(FIXTURES.map((f) => f.mcubootCommit));
    equal(commits.size, 1);
    ok(/^[0-9a-f]{40}$/.test(FIXTURES[0]!.mcubootCommit));
    const alignments = ["8/1", "8/4", "8/8", "16/16", "32/32"];
    deepEqual(
      FIXTURES.map((f) => `${f.mode}/${f.maxAlign}/${f.writeAlign}`),
      ["move", "offset", "scratch"].flatMap((mode) => alignments.map((a) => `${mode}/${a}`)),
    );
  });

  it("swap-using-scratch leaves exactly the bytes and decisions of swap-using-move in the slots", () => {
    for (const alignment of ["a8-w1", "a8-w4", "a8-w8", "a16-w16", "a32-w32"]) {
      const pick = (mode: string): McubootFixture =>
        FIXTURES.find((f) => `${f.mode}-a${f.maxAlign}-w${f.writeAlign}` === `${mode}-${alignment}`)!;
      deepEqual({ ...pick("scratch"), mode: "move" }, pick("move"), alignment);
    }
  });

  it("the magic differs above BOOT_MAX_ALIGN 8 (the alignment is part of it)", () => {
    equal(toHexString(bootMagic(8)), "77c295f360d2ef7f3552500f2cb67980");
    equal(toHexString(bootMagic(16)), "10002de15d29410b8d77679c110f1f8a");
    equal(toHexString(bootMagic(32)), "20002de15d29410b8d77679c110f1f8a");
  });

  for (const f of FIXTURES) {
    describe(fixtureName(f), () => {
      const config = {
        mode: f.mode,
        maxAlign: f.maxAlign,
        writeAlign: f.writeAlign,
        maxImgSectors: f.maxImgSectors,
      };

      it("lays the trailer out at bootutil's offsets", () => {
        const layout = trailerLayout(f.slotSize, config);
        const o = f.offsets;
        equal(layout.maxAlign, o["maxAlign"]);
        equal(layout.magicAlignSize, o["magicAlignSize"]);
        equal(layout.magic, o["magic"]);
        equal(layout.imageOk, o["imageOk"]);
        equal(layout.copyDone, o["copyDone"]);
        equal(layout.swapInfo, o["swapInfo"]);
        equal(layout.unprotectedTlvSizes, f.mode === "offset" ? o["unprotectedTlvSizes"] : -1);
        equal(layout.swapSize, o["swapSize"]);
        equal(layout.status, o["status"]);
        equal(layout.trailerSize, o["trailerSize"]);
        equal(toHexString(layout.magicBytes), o["magicBytes"]);
        equal(f.dumpLength, f.slotSize - layout.swapSize);
      });

      it("decides the swap type exactly as boot_swap_type_multi for all 729 trailer states", () => {
        const decisions = f.swapTable.decisions;
        equal(decisions.length, 729);
        const magic = [BootMagic.unset, BootMagic.good, BootMagic.bad];
        const flag = [BootFlag.unset, BootFlag.set, BootFlag.bad];
        const counts = [0, 0, 0, 0, 0];
        for (let index = 0; index < 729; index++) {
          let v = index;
          const scd = v % 3;
          v = (v - scd) / 3;
          const pcd = v % 3;
          v = (v - pcd) / 3;
          const sok = v % 3;
          v = (v - sok) / 3;
          const pok = v % 3;
          v = (v - pok) / 3;
          const sm = v % 3;
          const pm = (v - sm) / 3;
          const state = (m: number, okFlag: number, cd: number): SwapState => ({
            magic: magic[m]!,
            swapType: SwapType.none,
            imageNum: 0,
            imageOk: flag[okFlag]!,
            copyDone: flag[cd]!,
          });
          const ours = decideSwap(f.mode, state(pm, pok, pcd), state(sm, sok, scd));
          equal(
            String(ours),
            decisions[index],
            `state ${index} (pm ${pm} sm ${sm} pok ${pok} sok ${sok} pcd ${pcd} scd ${scd})`,
          );
          counts[ours]!++;
        }
        // The shape of the table, so a reader sees what the 729 digits say.
        deepEqual(counts, f.mode === "offset" ? [0, 546, 54, 81, 48] : [0, 546, 81, 81, 21]);
      });

      for (const scenario of f.scenarios) {
        it(`${scenario.name}: ${scenario.what}: same rc, same writes in the same order, same bytes, same decision`, () => {
          const trailer = new McubootTrailer(f.slotSize, config);
          const sim = makeFlash(f, scenario);
          const [primary, secondary] = areas(f, sim);
          deepEqual(
            plain(trailer.readState(primary)),
            plain(scenario.stateBefore[0]),
            "state before, slot 0",
          );
          deepEqual(
            plain(trailer.readState(secondary)),
            plain(scenario.stateBefore[1]),
            "state before, slot 1",
          );
          // swap_size, read back from MCUboot's own bytes (its offset is where `before` starts).
          for (let slot = 0; slot < 2; slot++) {
            const hex = scenario.before[slot]!.slice(0, 8);
            const expected = parseInt(
              hex.slice(6, 8) + hex.slice(4, 6) + hex.slice(2, 4) + hex.slice(0, 2),
              16,
            );
            equal(
              trailer.readSwapSize(slot === 0 ? primary : secondary),
              expected,
              `swap_size, slot ${slot}`,
            );
          }
          const writes: { slot: number; offset: number; bytes: string }[] = [];
          const recorder: FlashPartition = {
            status: () => sim.status(),
            eraseBlock: () => {
              throw new Error("the trailer writers never erase");
            },
            read: (into, offset) => sim.read(into, offset),
            write: (bytes, offset) => {
              const slot = offset >= f.slotSize ? 1 : 0;
              writes.push({ slot, offset: offset - slot * f.slotSize, bytes: toHexString(bytes) });
              sim.write(bytes, offset);
            },
          };
          const result = run(f, trailer, scenario, recorder);
          equal(result.rc, scenario.rc, "rc");
          equal(result.writes, scenario.writes.length, "writes counted");
          deepEqual(writes, scenario.writes, "the flash writes");
          deepEqual(dump(f, sim), scenario.after, "trailer bytes after");
          deepEqual(plain(trailer.readState(primary)), plain(scenario.stateAfter[0]), "state after, slot 0");
          deepEqual(
            plain(trailer.readState(secondary)),
            plain(scenario.stateAfter[1]),
            "state after, slot 1",
          );
          equal(trailer.swapType(primary, secondary), scenario.swapType, "swap type after");

          equal(scenario.cuts.length, scenario.writes.length, "one cut per write");
          for (const cut of scenario.cuts) {
            const cutSim = makeFlash(f, scenario);
            cutSim.armPowerCut(cut.writesApplied + 1);
            let lost = false;
            try {
              run(f, trailer, scenario, cutSim);
            } catch (error) {
              if (!(error instanceof PowerLoss)) throw error;
              lost = true;
            }
            ok(lost, `cut before write ${cut.writesApplied + 1}`);
            cutSim.powerOn();
            const [p, s] = areas(f, cutSim);
            deepEqual(
              dump(f, cutSim),
              cut.after,
              `trailer after a cut before write ${cut.writesApplied + 1}`,
            );
            deepEqual(plain(trailer.readState(p)), plain(cut.state[0]), "state after the cut, slot 0");
            deepEqual(plain(trailer.readState(s)), plain(cut.state[1]), "state after the cut, slot 1");
            equal(
              trailer.swapType(p, s),
              cut.swapType,
              `decision after a cut before write ${cut.writesApplied + 1}`,
            );
          }
        });
      }
    });
  }
});
