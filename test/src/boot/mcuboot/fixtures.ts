// The trailer bytes and decisions MCUboot's own bootutil produced (test/fixtures/mcuboot/), typed for the suites (portable).
import moveA8W1 from "../../../fixtures/mcuboot/move-a8-w1.json" with { type: "json" };
import moveA8W4 from "../../../fixtures/mcuboot/move-a8-w4.json" with { type: "json" };
import moveA8W8 from "../../../fixtures/mcuboot/move-a8-w8.json" with { type: "json" };
import moveA16W16 from "../../../fixtures/mcuboot/move-a16-w16.json" with { type: "json" };
import moveA32W32 from "../../../fixtures/mcuboot/move-a32-w32.json" with { type: "json" };
import offsetA8W1 from "../../../fixtures/mcuboot/offset-a8-w1.json" with { type: "json" };
import offsetA8W4 from "../../../fixtures/mcuboot/offset-a8-w4.json" with { type: "json" };
import offsetA8W8 from "../../../fixtures/mcuboot/offset-a8-w8.json" with { type: "json" };
import offsetA16W16 from "../../../fixtures/mcuboot/offset-a16-w16.json" with { type: "json" };
import offsetA32W32 from "../../../fixtures/mcuboot/offset-a32-w32.json" with { type: "json" };
import scratchA8W1 from "../../../fixtures/mcuboot/scratch-a8-w1.json" with { type: "json" };
import scratchA8W4 from "../../../fixtures/mcuboot/scratch-a8-w4.json" with { type: "json" };
import scratchA8W8 from "../../../fixtures/mcuboot/scratch-a8-w8.json" with { type: "json" };
import scratchA16W16 from "../../../fixtures/mcuboot/scratch-a16-w16.json" with { type: "json" };
import scratchA32W32 from "../../../fixtures/mcuboot/scratch-a32-w32.json" with { type: "json" };
import type { SwapMode } from "../../../../src/boot/mcuboot/trailer.js";

export interface FixtureState {
  rc: number;
  magic: number;
  swapType: number;
  imageNum: number;
  copyDone: number;
  imageOk: number;
}

export interface FixtureWrite {
  slot: number;
  offset: number;
  bytes: string;
}

export interface FixtureScenario {
  name: string;
  what: string;
  call: "pending" | "confirmed";
  permanent: number | null;
  /** The last `dumpLength` bytes of slot 0 and slot 1 (hex) before the call. */
  before: [string, string];
  stateBefore: [FixtureState, FixtureState];
  rc: number;
  writes: FixtureWrite[];
  after: [string, string];
  stateAfter: [FixtureState, FixtureState];
  swapType: number;
  /** The call cut off before its write number writesApplied + 1. */
  cuts: {
    writesApplied: number;
    rc: number;
    after: [string, string];
    state: [FixtureState, FixtureState];
    swapType: number;
  }[];
}

export interface McubootFixture {
  mcubootCommit: string;
  mode: SwapMode;
  maxAlign: number;
  writeAlign: number;
  slotSize: number;
  eraseValue: number;
  maxImgSectors: number;
  offsets: Record<string, number | string>;
  dumpLength: number;
  scenarios: FixtureScenario[];
  swapTable: { order: string; decisions: string };
}

export const FIXTURES = [
  moveA8W1,
  moveA8W4,
  moveA8W8,
  moveA16W16,
  moveA32W32,
  offsetA8W1,
  offsetA8W4,
  offsetA8W8,
  offsetA16W16,
  offsetA32W32,
  scratchA8W1,
  scratchA8W4,
  scratchA8W8,
  scratchA16W16,
  scratchA32W32,
] as unknown as McubootFixture[];

export function fixtureName(f: McubootFixture): string {
  return `${f.mode} BOOT_MAX_ALIGN ${f.maxAlign} write ${f.writeAlign}`;
}

export function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function toHexString(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += bytes[i]!.toString(16).padStart(2, "0");
  return text;
}
