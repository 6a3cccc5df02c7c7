// ESP-IDF's otadata and bootloader, simulated: the two otadata entries, what the bootloader does with each state on
// reset (with and without rollback support), and the app's esp_ota_* calls as the OTA port, with power cuts.
//
// Modelled on ESP-IDF v6.0: bootloader_utility_get_selected_boot_partition (bootloader_support), esp_ota_ops.c
// (esp_rewrite_ota_data, esp_ota_current_ota_is_workable, esp_ota_get_state_partition,
// esp_ota_invalidate_inactive_ota_data_slot, esp_ota_begin / esp_ota_write in sequential mode). Two OTA app
// partitions, no factory partition (the layout of hal/moddable/README.md).

import type { FlashPartition, FlashStatus } from "../flash.js";
import type { KeyValueStore } from "../kv.js";
import { OtaImageState, type OtaPartitionView, type OtaPort } from "../ota.js";
import { PowerLoss, SimNorFlash } from "./nor-flash.js";

/** One otadata sector's esp_ota_select_entry_t (seq + state; the CRC is modelled as "entry present"). */
export interface OtadataEntry {
  seq: number;
  /** An OtaImageState value (-1 = ESP_OTA_IMG_UNDEFINED). */
  state: number;
}

/** esp_restart() and resets that are not power cuts (task watchdog, panic): the chip starts at the bootloader again. */
export class ChipReset extends Error {
  constructor(why: string) {
    super(why);
    this.name = "ChipReset";
  }
}

/**
 * Counts every persistent write (flash erase block, flash write, otadata sector erase and write, preference write)
 * and cuts power before the armed one: it is not applied and every later one throws PowerLoss until powerOn().
 */
export class PowerSwitch {
  operations = 0;
  /** 1-based operation to cut before (0: none). */
  cutAt = 0;
  cutHappened = false;
  /** What the cut interrupted (for failure messages). */
  cutWhat = "";
  #off = false;

  step(what: string): void {
    if (this.#off) throw new PowerLoss(`power is off (${what})`);
    this.operations++;
    if (this.operations === this.cutAt) {
      this.#off = true;
      this.cutHappened = true;
      this.cutWhat = what;
      throw new PowerLoss(`power cut before ${what}`);
    }
  }

  powerOn(): void {
    this.#off = false;
  }
}

/** A FlashPartition whose erases and writes go through a PowerSwitch first. */
export class PoweredFlash implements FlashPartition {
  constructor(
    readonly inner: SimNorFlash,
    readonly power: PowerSwitch,
    readonly name: string,
  ) {}
  status(): FlashStatus {
    return this.inner.status();
  }
  eraseBlock(start: number, end = start + 1): void {
    for (let block = start; block < end; block++) {
      this.power.step(`${this.name} erase ${block}`);
      this.inner.eraseBlock(block);
    }
  }
  read(into: Uint8Array, offset: number): void {
    this.inner.read(into, offset);
  }
  write(bytes: Uint8Array, offset: number): void {
    if (bytes.length > 0) this.power.step(`${this.name} write ${offset}+${bytes.length}`);
    this.inner.write(bytes, offset);
  }
}

/** A KeyValueStore whose writes go through a PowerSwitch first (one set is atomic, as kv-split makes it on NVS). */
export class PoweredKeyValueStore implements KeyValueStore {
  readonly #values = new Map<string, string>();
  constructor(readonly power: PowerSwitch) {}
  get(key: string): string | undefined {
    return this.#values.get(key);
  }
  set(key: string, value: string): void {
    this.power.step(`preference ${key}`);
    this.#values.set(key, value);
  }
  delete(key: string): void {
    this.power.step(`preference delete ${key}`);
    this.#values.delete(key);
  }
}

export interface SimEspIdfOptions {
  partitionSize: number;
  blockLength: number;
  /** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE in the bootloader (which is never updated over the air). */
  bootloaderRollback: boolean;
  /** The same option in the app: esp_ota_set_boot_partition then writes NEW (else UNDEFINED), esp_ota_begin
   *  refuses to run on a PENDING_VERIFY image and invalidates the inactive otadata slot. */
  appRollback: boolean;
  power: PowerSwitch;
}

/** First byte of an ESP-IDF app image. */
const IMAGE_MAGIC = 0xe9;
/** Where esp_app_desc_t.app_elf_sha256 sits in an app image: 24-byte image header + 8-byte segment header + 0x90. */
export const APP_ELF_SHA256_AT = 0xb0;

function isInvalid(entry: OtadataEntry | undefined): boolean {
  return (
    entry === undefined || entry.state === OtaImageState.invalid || entry.state === OtaImageState.aborted
  );
}

export class SimEspIdf {
  /** ota_0 and ota_1, raw (no power cuts: the app writes through appFlash()). */
  readonly partitions: [SimNorFlash, SimNorFlash];
  /** The two otadata sectors; undefined = erased (or torn: a bad CRC reads the same). */
  readonly otadata: [OtadataEntry | undefined, OtadataEntry | undefined] = [undefined, undefined];
  readonly power: PowerSwitch;
  /** The app partition the last boot() started, -1 before. */
  running = -1;
  /** Every bootloader decision, for failure messages: "ota_1 (PENDING_VERIFY->ABORTED) -> ota_0". */
  readonly bootLog: string[] = [];
  readonly #options: SimEspIdfOptions;

  /** `factory` is flashed to ota_0 with otadata erased, as `idf.py flash` / `mcconfig -m` leave it. */
  constructor(options: SimEspIdfOptions, factory: Uint8Array) {
    this.#options = options;
    this.power = options.power;
    const make = () =>
      new SimNorFlash({ size: options.partitionSize, blockLength: options.blockLength, writeAlign: 1 });
    this.partitions = [make(), make()];
    this.partitions[0].eraseBlock(0, Math.ceil(factory.length / options.blockLength));
    this.partitions[0].write(factory, 0);
  }

  /** The bootloader after any reset: otadata decisions, then the first partition whose image loads. */
  boot(): number {
    const rollback = this.#options.bootloaderRollback;
    const notes: string[] = [];
    if (rollback) {
      for (let i = 0; i < 2; i++) {
        const entry = this.otadata[i];
        if (entry && entry.state === OtaImageState.pendingVerify) {
          notes.push(`otadata[${i}] PENDING_VERIFY->ABORTED`);
          this.#writeEntry(i, { seq: entry.seq, state: OtaImageState.aborted });
        }
      }
    }
    let index = 0;
    if (!(isInvalid(this.otadata[0]) && isInvalid(this.otadata[1]))) {
      const active = this.activeEntry();
      if (active !== -1) {
        const entry = this.otadata[active]!;
        index = (entry.seq - 1) % 2;
        if (rollback && entry.state === OtaImageState.new) {
          notes.push(`otadata[${active}] NEW->PENDING_VERIFY`);
          this.#writeEntry(active, { seq: entry.seq, state: OtaImageState.pendingVerify });
        }
      }
    }
    // bootloader_utility_load_boot_image: an image that does not load makes it try the other partition.
    for (const candidate of [index, 1 - index]) {
      if (this.#firstByte(candidate) === IMAGE_MAGIC) {
        this.running = candidate;
        this.bootLog.push(`${notes.join(", ")}${notes.length ? " " : ""}-> ota_${candidate}`);
        return candidate;
      }
      notes.push(`ota_${candidate} does not load`);
    }
    throw new Error(`no bootable app: ${notes.join(", ")}`);
  }

  /** bootloader_common_get_active_otadata: the valid entry with the highest seq, or -1. */
  activeEntry(): number {
    const valid = [!isInvalid(this.otadata[0]), !isInvalid(this.otadata[1])];
    if (valid[0] && valid[1]) return this.otadata[0]!.seq >= this.otadata[1]!.seq ? 0 : 1;
    return valid[0] ? 0 : valid[1] ? 1 : -1;
  }

  /** esp_ota_get_state_partition: the first entry whose seq selects the partition (-1 when none). */
  stateOf(partition: number): number {
    for (const entry of this.otadata) if (entry && (entry.seq - 1) % 2 === partition) return entry.state;
    return OtaImageState.undefined;
  }

  /** The partition the running app writes to ("nextota"), with power cuts. */
  appFlash(): PoweredFlash {
    return new PoweredFlash(this.partitions[1 - this.running]!, this.power, `ota_${1 - this.running}`);
  }

  /** The running app partition ("running"), as the app reads it: the base of a delta package. */
  runningFlash(): SimNorFlash {
    return this.partitions[this.running]!;
  }

  /** The running app's view of ESP-IDF. */
  port(): OtaPort {
    const next = () => 1 - this.running;
    return {
      running: (): OtaPartitionView => ({ label: `ota_${this.running}`, state: this.stateOf(this.running) }),
      next: (): OtaPartitionView => ({ label: `ota_${next()}`, state: this.stateOf(next()) }),
      selectNext: (firstBlock: Uint8Array): void => {
        // esp_ota_begin (sequential mode: nothing erased yet)
        if (this.#options.appRollback) {
          if (this.stateOf(this.running) === OtaImageState.pendingVerify)
            throw new Error("esp_ota_begin: ESP_ERR_OTA_ROLLBACK_INVALID_STATE");
          this.invalidateInactive();
        }
        // esp_ota_write checks the magic before it erases anything
        if (firstBlock[0] !== IMAGE_MAGIC) throw new Error("esp_ota_write: ESP_ERR_OTA_VALIDATE_FAILED");
        const flash = this.appFlash();
        flash.eraseBlock(0);
        flash.write(firstBlock, 0);
        // esp_ota_end and esp_ota_set_boot_partition validate the image
        if (this.#firstByte(next()) !== IMAGE_MAGIC) throw new Error("esp_ota_end: ESP_ERR_IMAGE_INVALID");
        this.#rewriteOtaData(next());
      },
      markValid: (): void => {
        const active = this.activeEntry();
        if (active === -1) throw new Error("esp_ota_mark_app_valid_cancel_rollback: ESP_FAIL");
        const entry = this.otadata[active]!;
        if (entry.state !== OtaImageState.valid)
          this.#writeEntry(active, { seq: entry.seq, state: OtaImageState.valid });
      },
      markInvalidAndReboot: (): void => {
        const active = this.activeEntry();
        if (active === -1) throw new Error("esp_ota_mark_app_invalid_rollback: ESP_FAIL (factory)");
        const other = next();
        const otherState = this.stateOf(other);
        if (
          this.#firstByte(other) !== IMAGE_MAGIC ||
          otherState === OtaImageState.invalid ||
          otherState === OtaImageState.aborted
        )
          throw new Error("esp_ota_mark_app_invalid_rollback: ESP_ERR_OTA_ROLLBACK_FAILED");
        this.#writeEntry(active, { seq: this.otadata[active]!.seq, state: OtaImageState.invalid });
        throw new ChipReset("esp_restart after esp_ota_mark_app_invalid_rollback");
      },
      invalidateInactive: (): void => this.invalidateInactive(),
      appId: (which: "running" | "next"): string => this.appId(which === "running" ? this.running : next()),
    };
  }

  /** esp_ota_invalidate_inactive_ota_data_slot: erases the inactive entry unless it names the running partition. */
  invalidateInactive(): void {
    const active = this.activeEntry();
    if (active === -1) return;
    const inactive = 1 - active;
    const entry = this.otadata[inactive];
    if (!entry || (entry.seq - 1) % 2 === this.running) return;
    this.power.step(`otadata[${inactive}] erase`);
    this.otadata[inactive] = undefined;
  }

  /** esp_app_desc_t.app_elf_sha256 of the image in a partition, hex; "" when no app image is there. */
  appId(partition: number): string {
    if (this.#firstByte(partition) !== IMAGE_MAGIC) return "";
    const bytes = this.partitions[partition]!.inspect(APP_ELF_SHA256_AT, 32);
    let hex = "";
    for (const byte of bytes) hex += (byte < 16 ? "0" : "") + byte.toString(16);
    return hex;
  }

  #rewriteOtaData(target: number): void {
    const active = this.activeEntry();
    let sector: number;
    let seq: number;
    if (active !== -1) {
      const current = this.otadata[active]!.seq;
      if ((current - 1) % 2 === target) {
        sector = active;
        seq = current;
      } else {
        sector = 1 - active;
        const base = (target + 1) % 2;
        let i = 0;
        while (current > base + i * 2) i++;
        seq = base + i * 2;
      }
    } else {
      sector = 0;
      seq = target + 1;
    }
    const state = this.#options.appRollback ? OtaImageState.new : OtaImageState.undefined;
    this.#writeEntry(sector, { seq, state });
  }

  /** write_otadata / rewrite_ota_seq: erase the sector, then write the entry (a cut between leaves it erased). */
  #writeEntry(sector: number, entry: OtadataEntry): void {
    this.power.step(`otadata[${sector}] erase`);
    this.otadata[sector] = undefined;
    this.power.step(`otadata[${sector}] write seq ${entry.seq} state ${entry.state}`);
    this.otadata[sector] = entry;
  }

  #firstByte(partition: number): number {
    return this.partitions[partition]!.inspect(0, 1)[0]!;
  }
}
