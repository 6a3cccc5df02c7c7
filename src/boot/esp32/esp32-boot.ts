// BootControl over the ESP-IDF OTA partitions and app rollback; reaches the chip only through the OTA port (hal/ota.ts).
//
// Why the image goes through the flash API and not embedded:update: Update.open in mode "w" calls
// esp_ota_begin(size), which erases the whole image area at once (seconds with the UART unserviced, and the
// ESP32 serial port has only its 128-byte FIFO), and an esp_ota handle cannot survive a reset, so it cannot
// resume. So the receiver erases one block per eraseStep (only when the engine asks, i.e. while the module
// is silent) and writes the "nextota" partition through embedded:storage/flash. activate() then opens
// embedded:update in mode "a" (OTA_WITH_SEQUENTIAL_WRITES: no up-front erase), rewrites the first block with
// the bytes already there (one erase), and complete() runs esp_ota_end (ESP-IDF's own image check) and
// esp_ota_set_boot_partition.

import type { Digest, DigestFactory } from "../../../hal/digest.js";
import { toHex } from "../../../hal/digest.js";
import type { FlashPartition } from "../../../hal/flash.js";
import type { KeyValueStore } from "../../../hal/kv.js";
import type { OtaPort } from "../../../hal/ota.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../../image/types.js";
import type { BootControl, BootReport, SlotInfo } from "../types.js";
import type { Esp32ImageRecord, RunningBuild } from "./esp32-ota-state.js";
import { decideEsp32Boot, nextSlotInfo, parseImageRecord } from "./esp32-ota-state.js";

export interface Esp32BootPorts {
  /** The "nextota" partition. */
  flash: FlashPartition;
  ota: OtaPort;
  digests: DigestFactory;
  /** NVS (preference); one key written at a time is atomic there. */
  kv: KeyValueStore;
}

export interface Esp32BootOptions {
  /** Download and activate even when the bootloader cannot roll back (running state NEW): a bad image then stays. */
  acceptNoRollback?: boolean;
}

export const IMAGE_RECORD_KEY = "sota.image";
/** First byte of every ESP-IDF app image (esp_image_header_t.magic). */
export const ESP_IMAGE_MAGIC = 0xe9;

export class Esp32BootControl implements BootControl {
  readonly report: BootReport;
  readonly #ports: Esp32BootPorts;
  readonly #build: RunningBuild;
  readonly #md5: Digest;
  readonly #sha256: Digest;
  readonly #blockLength: number;
  /** "missing": the bootloader has no rollback support (see decideEsp32Boot). */
  readonly rollback: "supported" | "missing" | "unknown";
  /** Start-up findings for the trace: a stale record reset, a bootloader without rollback. */
  readonly notices: string[];
  readonly #acceptNoRollback: boolean;
  #record: Esp32ImageRecord | undefined;
  #receiver: Esp32ImageReceiver | undefined;

  constructor(ports: Esp32BootPorts, build: RunningBuild, options: Esp32BootOptions = {}) {
    this.#ports = ports;
    this.#build = build;
    this.#acceptNoRollback = options.acceptNoRollback ?? false;
    this.#md5 = ports.digests.create("MD5");
    this.#sha256 = ports.digests.create("SHA256");
    this.#blockLength = ports.flash.status().blockLength;
    this.#record = parseImageRecord(ports.kv.get(IMAGE_RECORD_KEY));
    const decision = decideEsp32Boot(
      this.#record,
      ports.ota.running(),
      ports.ota.next(),
      build,
      ports.ota.appId("running"),
    );
    this.rollback = decision.rollback;
    this.notices = decision.notices;
    if (decision.record) this.#save(decision.record);
    else if (decision.record === null) {
      // One key delete, atomic in NVS; a cut before it makes the next start-up find the same stale record.
      ports.kv.delete(IMAGE_RECORD_KEY);
      this.#record = undefined;
    }
    this.report = {
      running: decision.running,
      trial: decision.trial,
      rollbackReason: decision.rollbackReason,
      slots: [decision.running, this.#nextSlot()],
    };
  }

  startReceive(descriptor: ImageDescriptor): ImageReceiver {
    if (this.report.trial && this.report.running.state === "pending-test") {
      // esp_ota_begin refuses to run while the running image awaits verification.
      throw new Error("confirm or reject the running trial image first");
    }
    this.#refuseWithoutRollback();
    const { size } = this.#ports.flash.status();
    if (descriptor.size <= 0 || descriptor.size > size)
      throw new RangeError(`image of ${descriptor.size} bytes does not fit the ${size}-byte partition`);
    // A stale ABORTED/INVALID state of the next partition would read as this image's failed trial later.
    this.#ports.ota.invalidateInactive();
    const record: Esp32ImageRecord = {
      v: 2,
      label: this.#ports.ota.next().label,
      state: "receiving",
      component: descriptor.component,
      version: descriptor.version,
      size: descriptor.size,
      md5: descriptor.md5.toLowerCase(),
      sha256: descriptor.sha256.toLowerCase(),
      crc: descriptor.crc,
      received: 0,
      reason: "",
      fresh: false,
      from: this.#ports.ota.appId("running"),
      app: "",
      nextWas: this.#ports.ota.next().state,
    };
    // Atomic by the NVS write; the invalidation before it only erases an entry nothing boots.
    this.#save(record);
    return this.#openReceiver(record, 0);
  }

  resumeReceive(): ImageReceiver | undefined {
    const record = this.#record;
    if (!record || record.state !== "receiving" || record.label !== this.#ports.ota.next().label)
      return undefined;
    // The digest state cannot be stored, so the journaled prefix is streamed through them again from flash.
    return this.#openReceiver(record, record.received);
  }

  abandonReceive(reason: string): void {
    this.#receiver = undefined;
    const record = this.#record;
    if (!record || (record.state !== "receiving" && record.state !== "verified")) return;
    this.#save({ ...record, state: "empty", reason, fresh: false });
  }

  activate(): void {
    const record = this.#record;
    if (!record || record.state !== "verified") throw new Error("no verified image to activate");
    this.#refuseWithoutRollback();
    const firstBlock = new Uint8Array(this.#blockLength);
    this.#ports.flash.read(firstBlock, 0);
    try {
      this.#ports.ota.selectNext(firstBlock);
    } catch (error) {
      // selectNext erases block 0 before rewriting it (esp_ota_write, sequential mode): after a failure or a cut
      // there, block 0 may be gone (esp_ota_write then refuses the missing 0xE9), so only a new download helps.
      this.#save({ ...record, state: "empty", reason: "activate", fresh: false });
      this.#receiver = undefined;
      throw error;
    }
    // Atomic by the NVS write; a cut before it boots the image anyway and decideEsp32Boot treats "verified" + trial alike.
    this.#save({ ...record, state: "pending-test", reason: "", fresh: false });
    this.#receiver = undefined;
  }

  confirm(): void {
    if (!this.report.trial) return;
    this.#ports.ota.markValid();
    const record = this.#record;
    if (record && record.label === this.#ports.ota.running().label)
      this.#save({ ...record, state: "confirmed", reason: "", fresh: false });
    this.report.trial = false;
    this.report.running.state = "confirmed";
  }

  reject(reason: string): void {
    const record = this.#record;
    // Recorded first: if the reboot below is cut short, the bootloader still rolls the pending image back.
    if (record && record.label === this.#ports.ota.running().label)
      this.#save({ ...record, state: "rejected", reason, fresh: true });
    this.#ports.ota.markInvalidAndReboot();
  }

  #refuseWithoutRollback(): void {
    if (this.rollback === "missing" && !this.#acceptNoRollback)
      throw new Error(
        "bootloader without rollback: a bad image could not be rolled back; flash a bootloader with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE or set acceptNoRollback",
      );
  }

  #nextSlot(): SlotInfo {
    return nextSlotInfo(this.#record, this.#ports.ota.next());
  }

  #save(record: Esp32ImageRecord): void {
    this.#ports.kv.set(IMAGE_RECORD_KEY, JSON.stringify(record));
    this.#record = record;
    if (this.report) this.report.slots[1] = this.#nextSlot();
  }

  #openReceiver(record: Esp32ImageRecord, received: number): Esp32ImageReceiver {
    this.#md5.reset();
    this.#sha256.reset();
    const receiver = new Esp32ImageReceiver(this.#ports.flash, this.#md5, this.#sha256, record, (update) => {
      if (this.#receiver !== receiver) return;
      // The verified image's app id lets a later start-up check the record describes what runs.
      const app = update.state === "verified" ? this.#ports.ota.appId("next") : this.#record!.app;
      this.#save({ ...this.#record!, ...update, app });
    });
    receiver.rehash(received);
    this.#receiver = receiver;
    return receiver;
  }
}

type RecordUpdate = Partial<Pick<Esp32ImageRecord, "state" | "received" | "reason">>;

/** Receives into the next OTA partition: one erase block per eraseStep, digests streamed, progress journaled per block. */
export class Esp32ImageReceiver implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  readonly #flash: FlashPartition;
  readonly #md5: Digest;
  readonly #sha256: Digest;
  readonly #journal: (update: RecordUpdate) => void;
  readonly #blockLength: number;
  #received = 0;
  /** Bytes from 0 that are erased (or written since their erase). */
  #erasedUpTo = 0;

  constructor(
    flash: FlashPartition,
    md5: Digest,
    sha256: Digest,
    record: Esp32ImageRecord,
    journal: (update: RecordUpdate) => void,
  ) {
    this.#flash = flash;
    this.#md5 = md5;
    this.#sha256 = sha256;
    this.#journal = journal;
    this.#blockLength = flash.status().blockLength;
    this.descriptor = {
      component: record.component,
      version: record.version,
      size: record.size,
      md5: record.md5,
      sha256: record.sha256,
      crc: record.crc,
    };
  }

  get received(): number {
    return this.#received;
  }

  readBack(offset: number, into: Uint8Array): void {
    if (offset < 0 || offset + into.length > this.#received)
      throw new RangeError(`ESP32 receiver: read back ${offset}+${into.length} past what is written`);
    this.#flash.read(into, offset);
  }

  /** Streams the journaled prefix [0, upTo) from flash into the digests (upTo is block-aligned by the journal). */
  rehash(upTo: number): void {
    const chunk = new Uint8Array(this.#blockLength);
    for (let offset = 0; offset < upTo; offset += chunk.length) {
      const view = upTo - offset >= chunk.length ? chunk : chunk.subarray(0, upTo - offset);
      this.#flash.read(view, offset);
      this.#md5.write(view);
      this.#sha256.write(view);
    }
    this.#received = upTo;
    // A block after the journal may hold torn bytes from before the reset: it is erased again before use.
    this.#erasedUpTo = upTo;
  }

  needsErase(upTo: number): boolean {
    return this.#erasedUpTo < Math.min(upTo, this.descriptor.size);
  }

  eraseStep(upTo: number): boolean {
    if (!this.needsErase(upTo)) return false;
    const block = Math.floor(this.#erasedUpTo / this.#blockLength);
    this.#flash.eraseBlock(block);
    this.#erasedUpTo = (block + 1) * this.#blockLength;
    return true;
  }

  write(bytes: Uint8Array, length: number): void {
    const end = this.#received + length;
    if (length < 0 || length > bytes.length) throw new RangeError("bad length");
    if (end > this.descriptor.size)
      throw new RangeError(`write past the image end (${end} > ${this.descriptor.size})`);
    if (end > this.#erasedUpTo)
      throw new Error(`bytes up to ${end} are not erased yet (erased up to ${this.#erasedUpTo})`);
    if (length === 0) return;
    const view = length === bytes.length ? bytes : bytes.subarray(0, length);
    this.#flash.write(view, this.#received);
    this.#md5.write(view);
    this.#sha256.write(view);
    const blocksBefore = Math.floor(this.#received / this.#blockLength);
    this.#received = end;
    const blocksAfter = Math.floor(end / this.#blockLength);
    if (blocksAfter > blocksBefore) this.#journal({ received: blocksAfter * this.#blockLength });
  }

  finish(): VerifyResult {
    const d = this.descriptor;
    if (this.#received !== d.size) {
      this.#journal({ state: "empty", reason: "size" });
      return { ok: false, reason: "size", md5: "", sha256: "" };
    }
    const md5 = toHex(this.#md5.close());
    const sha256 = toHex(this.#sha256.close());
    let reason = "";
    if (md5 !== d.md5) reason = "md5";
    else if (d.sha256 !== "" && sha256 !== d.sha256) reason = "sha256";
    else {
      const first = new Uint8Array(1);
      this.#flash.read(first, 0);
      // Matching digests of something that is no ESP-IDF app would only fail later, inside esp_ota_end.
      if (first[0] !== ESP_IMAGE_MAGIC) reason = "format";
    }
    this.#journal(
      reason === "" ? { state: "verified", received: d.size, reason: "" } : { state: "empty", reason },
    );
    return { ok: reason === "", reason, md5, sha256 };
  }
}
