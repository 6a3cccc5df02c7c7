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
import {
  digestMismatch,
  type ImageDescriptor,
  type ImageReceiver,
  type VerifyResult,
} from "../../image/types.js";
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
  /** The running app partition (flash path "running"), only read: the base of a delta package; absent: no deltas. */
  running?: FlashPartition;
}

export interface Esp32BootOptions {
  /** Download and activate even when the bootloader cannot roll back (running state NEW): a bad image then stays. */
  acceptNoRollback?: boolean;
  /** Refuse images whose first byte (a signed package's body's) is not ESP-IDF's 0xE9; default true. */
  appMagic?: boolean;
}

export const IMAGE_RECORD_KEY = "sota.image";
/** First byte of every ESP-IDF app image (esp_image_header_t.magic). */
export const ESP_IMAGE_MAGIC = 0xe9;
/** MCUboot's image header magic (docs/signed-packages.md), little-endian at offset 0 of a signed package. */
const PACKAGE_MAGIC = 0x96f3b83d;
const PACKAGE_MAGIC_FIRST_BYTE = 0x3d;
const PACKAGE_HEADER = 32;
/** The verifier's defaults: the largest header (padding included) and TLV areas a package may have. */
export const PACKAGE_HEAD_MAX = 0x1000;
export const PACKAGE_TAIL_MAX = 1024;
/** A signed package's header bytes (kept while it downloads) and TLV trailer (kept with the verified record). */
export const PACKAGE_HEAD_KEY = "sota.pkghead";
export const PACKAGE_TAIL_KEY = "sota.pkgtail";

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
  readonly #appMagic: boolean;
  #record: Esp32ImageRecord | undefined;
  #receiver: Esp32ImageReceiver | undefined;
  /** Reads the running app partition (a delta's source); undefined without the `running` port. */
  readonly readRunning: ((offset: number, into: Uint8Array) => void) | undefined;
  readonly runningSlotLength: number | undefined;

  constructor(ports: Esp32BootPorts, build: RunningBuild, options: Esp32BootOptions = {}) {
    this.#ports = ports;
    this.#build = build;
    this.#acceptNoRollback = options.acceptNoRollback ?? false;
    this.#appMagic = options.appMagic ?? true;
    this.#md5 = ports.digests.create("MD5");
    this.#sha256 = ports.digests.create("SHA256");
    this.#blockLength = ports.flash.status().blockLength;
    const running = ports.running;
    this.runningSlotLength = running?.status().size;
    this.readRunning = running
      ? (offset, into) => {
          if (offset < 0 || offset + into.length > running.status().size)
            throw new RangeError(`boot: read ${offset}+${into.length} outside the running partition`);
          running.read(into, offset);
        }
      : undefined;
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

  /** The flash erase block of the partitions (a delta checkpoints its output at these boundaries). */
  get eraseBlockLength(): number {
    return this.#blockLength;
  }

  startReceive(descriptor: ImageDescriptor): ImageReceiver {
    if (this.report.trial) {
      // esp_ota_begin refuses to run while the running image awaits verification (trial: running is pending-test).
      throw new Error("confirm or reject the running trial image first");
    }
    this.#refuseWithoutRollback();
    const image = this.#imageFields(descriptor);
    // A stale ABORTED/INVALID state of the next partition would read as this image's failed trial later.
    this.#ports.ota.invalidateInactive();
    const record: Esp32ImageRecord = {
      v: 2,
      label: this.#ports.ota.next().label,
      state: "receiving",
      ...image,
      received: 0,
      reason: "",
      fresh: false,
      from: this.#ports.ota.appId("running"),
      app: "",
      nextWas: this.#ports.ota.next().state,
      hdr: 0,
      img: 0,
    };
    // Atomic by the NVS write; the invalidation before it only erases an entry nothing boots.
    this.#save(record);
    return this.#openReceiver(record, 0);
  }

  rebindReceive(receiver: ImageReceiver, descriptor: ImageDescriptor): ImageReceiver {
    const record = this.#record;
    const current = this.#receiver;
    if (current?.received !== 0 || receiver !== current || record?.state !== "receiving")
      throw new Error("esp32: no untouched receive to bind to another image");
    const next: Esp32ImageRecord = { ...record, ...this.#imageFields(descriptor) };
    // Atomic by the NVS write: it names the real image; nothing is written in the partition yet (only erased).
    this.#save(next);
    const bound = this.#openReceiver(next, 0);
    bound.inheritErased(current);
    return bound;
  }

  /** The record's fields naming an image that fits: only a signed package's body must fit the partition. */
  #imageFields(
    descriptor: ImageDescriptor,
  ): Pick<Esp32ImageRecord, "component" | "version" | "size" | "md5" | "sha256" | "crc"> {
    const { size } = this.#ports.flash.status();
    if (descriptor.size <= 0 || descriptor.size > size + PACKAGE_HEAD_MAX + PACKAGE_TAIL_MAX)
      throw new RangeError(`image of ${descriptor.size} bytes does not fit the ${size}-byte partition`);
    return {
      component: descriptor.component,
      version: descriptor.version,
      size: descriptor.size,
      md5: descriptor.md5.toLowerCase(),
      sha256: descriptor.sha256.toLowerCase(),
      crc: descriptor.crc,
    };
  }

  resumeReceive(previous?: ImageReceiver): ImageReceiver | undefined {
    const record = this.#record;
    if (!record || record.state !== "receiving" || record.label !== this.#ports.ota.next().label)
      return undefined;
    // Only the latest receive opened here: nothing has written the partition since it.
    const latest = previous === this.#receiver ? this.#receiver : undefined;
    // The digest state cannot be stored, so the journaled prefix is streamed through them again from flash.
    const resumed = this.#openReceiver(record, record.received);
    // After a module reboot the same receive in RAM tells which blocks past what it wrote it had erased.
    if (latest) resumed.inheritErased(latest);
    return resumed;
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
    const store = { kv: this.#ports.kv, appMagic: this.#appMagic };
    const receiver = new Esp32ImageReceiver(
      this.#ports.flash,
      this.#md5,
      this.#sha256,
      record,
      (update) => {
        if (this.#receiver !== receiver) return;
        // The verified image's app id lets a later start-up check the record describes what runs.
        const app = update.state === "verified" ? this.#ports.ota.appId("next") : this.#record!.app;
        this.#save({ ...this.#record!, ...update, app });
      },
      store,
    );
    receiver.rehash(received, record.hdr, record.img);
    this.#receiver = receiver;
    return receiver;
  }
}

type RecordUpdate = Partial<Pick<Esp32ImageRecord, "state" | "received" | "reason" | "hdr" | "img">>;

/** What the package bytes are: undecided before byte 0, an ESP-IDF app, an MCUboot package, or unusable. */
type Mode = "unknown" | "plain" | "package" | "malformed";

/** Where the receiver keeps a signed package's header (+ padding) and TLV trailer, beside the image record. */
export interface PackageStore {
  kv: KeyValueStore;
  /** Check the body (or plain image) starts with the ESP-IDF magic 0xE9 (tests of non-app bodies turn it off). */
  appMagic: boolean;
}

/**
 * Receives into the next OTA partition: one erase block per eraseStep, digests streamed, progress journaled per block.
 * A signed package (MCUboot format, docs/signed-packages.md) has its body written at offset 0 (where the bootloader
 * wants the 0xE9 app image); its header bytes are kept in NVS (resume needs them), its TLVs in RAM and then NVS,
 * and readBack() returns the package bytes as received, so the signature check runs over them unchanged.
 */
export class Esp32ImageReceiver implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  readonly #flash: FlashPartition;
  readonly #md5: Digest;
  readonly #sha256: Digest;
  readonly #journal: (update: RecordUpdate) => void;
  readonly #store: PackageStore;
  readonly #blockLength: number;
  readonly #partitionSize: number;
  #received = 0;
  /** Bytes from flash offset 0 that are erased (or written since their erase). */
  #erasedUpTo = 0;
  /** Flash bytes [#aheadFrom, #aheadTo) known erased and unwritten (by this receive's predecessor in this MCU run). */
  #aheadFrom = 0;
  #aheadTo = 0;
  #mode: Mode = "unknown";
  /** Package header size (hdr_size) and body size (img_size); 0 and size for a plain image. */
  #hdr = 0;
  #img = 0;
  readonly #head = new Uint8Array(PACKAGE_HEAD_MAX);
  readonly #tail = new Uint8Array(PACKAGE_TAIL_MAX);

  constructor(
    flash: FlashPartition,
    md5: Digest,
    sha256: Digest,
    record: Esp32ImageRecord,
    journal: (update: RecordUpdate) => void,
    store: PackageStore,
  ) {
    this.#flash = flash;
    this.#md5 = md5;
    this.#sha256 = sha256;
    this.#journal = journal;
    this.#store = store;
    const status = flash.status();
    this.#blockLength = status.blockLength;
    this.#partitionSize = status.size;
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

  /** "package" once a signed package's header was read; its header and body sizes. */
  get layout(): { mode: Mode; hdr: number; img: number } {
    return { mode: this.#mode, hdr: this.#hdr, img: this.#img };
  }

  readBack(offset: number, into: Uint8Array): void {
    if (offset < 0 || offset + into.length > this.#received)
      throw new RangeError(`ESP32 receiver: read back ${offset}+${into.length} past what is written`);
    if (this.#mode === "plain") {
      this.#flash.read(into, offset);
      return;
    }
    let filled = 0;
    while (filled < into.length) {
      const p = offset + filled;
      const left = into.length - filled;
      let n: number;
      if (this.#mode !== "package" || p < this.#hdr) {
        // Before the header is parsed, or a malformed one: the bytes kept, zeros after them (the verifier refuses).
        const kept = this.#mode === "package" ? this.#hdr : Math.min(PACKAGE_HEADER, this.#received);
        n = p < kept ? Math.min(left, kept - p) : left;
        if (p < kept) into.set(this.#head.subarray(p, p + n), filled);
        else into.fill(0, filled, filled + n);
      } else if (p < this.#hdr + this.#img) {
        n = Math.min(left, this.#hdr + this.#img - p);
        this.#flash.read(into.subarray(filled, filled + n), p - this.#hdr);
      } else {
        n = left;
        const at = p - this.#hdr - this.#img;
        into.set(this.#tail.subarray(at, at + n), filled);
      }
      filled += n;
    }
  }

  /**
   * Streams the journaled prefix [0, upTo) into the digests: a package's kept header from NVS, then the flash.
   * Starts over at 0 when a package's header is not kept for this image.
   */
  rehash(upTo: number, hdr: number, img: number): void {
    let start = 0;
    if (upTo > 0 && hdr > 0) {
      const head = this.#loadHead(hdr);
      if (!head) upTo = 0;
      else {
        this.#mode = "package";
        this.#hdr = hdr;
        this.#img = img;
        this.#md5.write(this.#head.subarray(0, hdr));
        this.#sha256.write(this.#head.subarray(0, hdr));
        start = hdr;
      }
    } else if (upTo > 0) {
      this.#mode = "plain";
      this.#img = this.descriptor.size;
    }
    const chunk = new Uint8Array(this.#blockLength);
    for (let offset = start; offset < upTo; offset += chunk.length) {
      const view = upTo - offset >= chunk.length ? chunk : chunk.subarray(0, upTo - offset);
      this.#flash.read(view, offset - start);
      this.#md5.write(view);
      this.#sha256.write(view);
    }
    this.#received = upTo;
    // A block after the journal may hold torn bytes from before the reset: it is erased again before use.
    this.#erasedUpTo = upTo - start;
  }

  /** Flash bytes [0, n) that package bytes [0, upTo) land in. */
  #flashEnd(upTo: number): number {
    switch (this.#mode) {
      case "package":
        return Math.max(0, Math.min(upTo - this.#hdr, this.#img));
      case "malformed":
        return 0;
      default:
        // Undecided: as if plain (erasing more than a package's body needs is harmless).
        return Math.min(upTo, this.descriptor.size, this.#partitionSize);
    }
  }

  /**
   * Takes the erases of `previous`: the latest receive before a module reboot, or the untouched provisional receive
   * being bound. Blocks past the ones it wrote into are still erased (docs/protocol.md §13, decisions 82 and 84).
   */
  inheritErased(previous: Esp32ImageReceiver): void {
    const written = Math.ceil(previous.#flashEnd(previous.#received) / this.#blockLength) * this.#blockLength;
    this.#aheadFrom = Math.max(written, this.#erasedUpTo);
    this.#aheadTo = previous.#skipKnownErased();
    this.#skipKnownErased();
  }

  /** Moves #erasedUpTo past blocks known erased once it reaches them; returns it. */
  #skipKnownErased(): number {
    if (this.#erasedUpTo >= this.#aheadFrom) this.#erasedUpTo = Math.max(this.#erasedUpTo, this.#aheadTo);
    return this.#erasedUpTo;
  }

  needsErase(upTo: number): boolean {
    return this.#skipKnownErased() < this.#flashEnd(upTo);
  }

  eraseStep(upTo: number): boolean {
    if (!this.needsErase(upTo)) return false;
    const block = Math.floor(this.#erasedUpTo / this.#blockLength);
    this.#flash.eraseBlock(block);
    this.#erasedUpTo = (block + 1) * this.#blockLength;
    return true;
  }

  write(bytes: Uint8Array, length: number): void {
    const start = this.#received;
    const end = start + length;
    if (length < 0 || length > bytes.length) throw new RangeError("bad length");
    if (end > this.descriptor.size)
      throw new RangeError(`write past the image end (${end} > ${this.descriptor.size})`);
    if (length === 0) return;
    if (start === 0) this.#decide(bytes[0]!);
    if (this.#flashEnd(end) > this.#skipKnownErased())
      throw new Error(`bytes up to ${end} are not erased yet (erased up to ${this.#erasedUpTo})`);
    const flashBefore = this.#flashEnd(start);
    let i = 0;
    while (i < length) {
      const p = start + i;
      let n = length - i;
      if (this.#mode === "plain") {
        this.#flash.write(i === 0 && n === bytes.length ? bytes : bytes.subarray(i, i + n), p);
      } else if (this.#mode === "malformed") {
        // Dropped: finish() refuses the image and the verifier refuses the header it can read back.
      } else if (this.#mode === "unknown" || p < this.#hdr) {
        const headEnd = this.#mode === "unknown" ? PACKAGE_HEADER : this.#hdr;
        n = Math.min(n, headEnd - p);
        this.#head.set(bytes.subarray(i, i + n), p);
        if (p + n === PACKAGE_HEADER && this.#mode === "unknown") this.#parseHeader();
        if (this.#mode === "package" && p + n === this.#hdr) this.#saveHead();
      } else if (p < this.#hdr + this.#img) {
        n = Math.min(n, this.#hdr + this.#img - p);
        this.#flash.write(bytes.subarray(i, i + n), p - this.#hdr);
      } else {
        this.#tail.set(bytes.subarray(i, i + n), p - this.#hdr - this.#img);
      }
      i += n;
    }
    const view = length === bytes.length ? bytes : bytes.subarray(0, length);
    this.#md5.write(view);
    this.#sha256.write(view);
    this.#received = end;
    const blocksBefore = Math.floor(flashBefore / this.#blockLength);
    const blocksAfter = Math.floor(this.#flashEnd(end) / this.#blockLength);
    if (blocksAfter > blocksBefore && (this.#mode === "plain" || this.#mode === "package"))
      this.#journal({
        received: this.#hdr + blocksAfter * this.#blockLength,
        hdr: this.#hdr,
        img: this.#img,
      });
  }

  finish(): VerifyResult {
    const d = this.descriptor;
    if (this.#received !== d.size) {
      this.#journal({ state: "empty", reason: "size" });
      return { ok: false, reason: "size", md5: "", sha256: "" };
    }
    const md5 = toHex(this.#md5.close());
    const sha256 = toHex(this.#sha256.close());
    let reason = digestMismatch(d, md5, sha256);
    if (reason === "" && this.#mode !== "plain" && this.#mode !== "package") reason = "format";
    else if (reason === "" && this.#store.appMagic) {
      const first = new Uint8Array(1);
      this.#flash.read(first, 0);
      // Matching digests of something that is no ESP-IDF app would only fail later, inside esp_ota_end.
      if (first[0] !== ESP_IMAGE_MAGIC) reason = "format";
    }
    // The TLVs go beside the record before it says verified (one key, atomic), so the verdict can be shown later.
    if (reason === "" && this.#mode === "package")
      this.#store.kv.set(PACKAGE_TAIL_KEY, toHex(this.#tail.subarray(0, d.size - this.#hdr - this.#img)));
    this.#journal(
      reason === ""
        ? { state: "verified", received: d.size, reason: "", hdr: this.#hdr, img: this.#img }
        : { state: "empty", reason },
    );
    return { ok: reason === "", reason, md5, sha256 };
  }

  #decide(first: number): void {
    if (first === PACKAGE_MAGIC_FIRST_BYTE) {
      this.#mode = "unknown"; // an MCUboot header is read whole before it decides
      return;
    }
    this.#img = this.descriptor.size;
    this.#mode = this.descriptor.size <= this.#partitionSize ? "plain" : "malformed";
  }

  #parseHeader(): void {
    const h = this.#head;
    const u16 = (at: number) => h[at]! | (h[at + 1]! << 8);
    const u32 = (at: number) => (u16(at) | (u16(at + 2) << 16)) >>> 0;
    const hdr = u16(8);
    const img = u32(12);
    const size = this.descriptor.size;
    const ok =
      u32(0) === PACKAGE_MAGIC &&
      hdr >= PACKAGE_HEADER &&
      hdr <= PACKAGE_HEAD_MAX &&
      img > 0 &&
      img <= this.#partitionSize &&
      hdr + img <= size &&
      size - hdr - img <= PACKAGE_TAIL_MAX;
    this.#mode = ok ? "package" : "malformed";
    this.#hdr = ok ? hdr : 0;
    this.#img = ok ? img : 0;
  }

  /** One NVS key, written before any body byte is journaled; bound to this image by its digest. */
  #saveHead(): void {
    const value = JSON.stringify({
      image: this.descriptor.sha256 || this.descriptor.md5,
      head: toHex(this.#head.subarray(0, this.#hdr)),
    });
    this.#store.kv.set(PACKAGE_HEAD_KEY, value);
  }

  #loadHead(hdr: number): boolean {
    const text = this.#store.kv.get(PACKAGE_HEAD_KEY);
    if (text === undefined) return false;
    let value: { image?: unknown; head?: unknown };
    try {
      value = JSON.parse(text) as typeof value;
    } catch {
      return false;
    }
    const head = value.head;
    if (value.image !== (this.descriptor.sha256 || this.descriptor.md5) || typeof head !== "string")
      return false;
    if (head.length !== hdr * 2) return false;
    for (let i = 0; i < hdr; i++) {
      const byte = parseInt(head.substr(i * 2, 2), 16);
      if (!(byte >= 0)) return false;
      this.#head[i] = byte;
    }
    return true;
  }
}
