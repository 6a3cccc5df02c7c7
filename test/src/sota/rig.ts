// A whole device on simulated hardware against the virtual module, in virtual time: the engine's test bench.
// Portable (runs in the XS lane too). The MCU's "reboot" re-opens boot control on the same flash and key-value
// store and starts a new engine on the same UART, as a real reset would; a power cut stops the engine dead.

import type { FlashPartition } from "../../../hal/flash.js";
import type { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import type { PackageVerifier } from "../../../src/package/verifier.js";
import type { SystemPort } from "../../../hal/system.js";
import type { NobleDigestFactory } from "../../../hal/sim/digest.js";
import type { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import type { SerialLink } from "../../../hal/sim/serial-link.js";
import type { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { openBoot, slotSha256 } from "../../../src/boot/generic-boot.js";
import type { FlashLayout } from "../../../src/flash-format/layout.js";
import type { BootReport } from "../../../src/boot/types.js";
import { ModuleClient } from "../../../src/quecthing/client.js";
import { SotaEngine } from "../../../src/sota/engine.js";
import type { SotaEngineConfig, SotaProgress, SotaState } from "../../../src/sota/engine.js";
import { parsePlan } from "../../../tools/module/plan.js";
import type { ModuleSettings } from "../../../tools/module/settings.js";
import { VirtualModule } from "../../../tools/module/virtual-module.js";
import { createSimDevice } from "../../../tools/sim/device.js";
import type { TraceEntry } from "../../../tools/module/virtual-module.js";

export const COMPONENT = "app";
export const OLD_VERSION = "1.0.0";
export const NEW_VERSION = "1.1.0";

export interface RigOptions {
  imageSize: number;
  baud?: number;
  /** Receive FIFO of the device's UART (128 on an ESP32); undefined = unbounded. */
  fifoSize?: number;
  blockLength?: number;
  writeAlign?: number;
  slotSize?: number;
  battery?: number;
  /** Fields of the plan's one component (minBattery, minSignal, type, sourceVersion, targetVersion, id). */
  component?: Record<string, unknown>;
  /** More components in the same plan. */
  extraComponents?: Record<string, unknown>[];
  settings?: Partial<ModuleSettings>;
  faults?: string[];
  engine?: Partial<SotaEngineConfig>;
  /** Signed packages: the verifier the engine checks each package with. */
  packages?: PackageVerifier;
  /** The confirmed factory image in slot 0 (default 3000 deterministic bytes of OLD_VERSION). */
  factoryImage?: Uint8Array;
  /** The new version's image (default `imageSize` deterministic bytes of NEW_VERSION). */
  targetImage?: Uint8Array;
  /** The package the module serves, if not the new image (e.g. a downgrade plan). */
  packageBytes?: Uint8Array;
  /** Packages by the plan's `package` name (several components); others are `packageBytes`. */
  packagesByName?: Record<string, Uint8Array>;
  /** Flash areas of data and mod components (the engine's `areas` port; the rig adds its digests). */
  areas?: Record<string, FlashPartition>;
  /** Component versions already stored in the module (as reported by other firmware earlier). */
  moduleMcuList?: Array<[string, string]>;
  /** The target of the module's previous OTA, kept in its flash (docs/protocol.md §9.9). */
  moduleOtaTarget?: string;
  /** Keep `commands` (default true); the memory benchmark turns it off so only the device's heap is seen. */
  recordCommands?: boolean;
  /** Sees every command line the device sends, as it goes on the wire. */
  onCommand?: (line: string) => void;
  /** Sees every progress state as it is emitted (may cut the power right there). */
  onState?: (state: SotaState, reason: string) => void;
  /** Sees every boot decision right after it is made, before the engine starts (the flash as booted). */
  onBoot?: (report: BootReport) => void;
  /** The module's live exchange log (commands as it executes them, replies, URCs, faults). */
  onTrace?: (entry: TraceEntry) => void;
}

/** Deterministic image bytes for a version (xorshift), with CR LF, "OK" and NULs sprinkled in on purpose. */
export function imageFor(version: string, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = 0x9e3779b9;
  for (let i = 0; i < version.length; i++) state = Math.imul(state ^ version.charCodeAt(i), 0x01000193) >>> 0;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  const trap = [13, 10, 79, 75, 13, 10, 0, 43, 81, 73, 79, 84, 69, 86, 84, 58];
  for (let at = 100; at + trap.length < size; at += 997) bytes.set(trap, at);
  return bytes;
}

export class Rig {
  readonly clock: VirtualClock;
  readonly digests: NobleDigestFactory;
  readonly link: SerialLink;
  readonly flash: SimNorFlash;
  readonly layout: FlashLayout;
  readonly kv: MemoryKeyValueStore;
  readonly module: VirtualModule;
  readonly oldImage: Uint8Array;
  readonly newImage: Uint8Array;
  /** Device -> module command lines, in order. */
  readonly commands: string[] = [];
  /** Copies of every non-"reading" progress report. */
  readonly states: { state: SotaState; reason: string; runningVersion: string }[] = [];
  readonly logs: string[] = [];
  readonly boots: BootReport[] = [];
  engine: SotaEngine | undefined;
  restarts = 0;
  #restartPending = false;
  #dead = false;
  #cutSeen = false;
  readonly #options: RigOptions;
  #lineBuffer = "";

  constructor(options: RigOptions) {
    this.#options = options;
    const baud = options.baud ?? 115200;
    const blockLength = options.blockLength ?? 4096;
    const slotSize = options.slotSize ?? Math.ceil((options.imageSize + 1) / blockLength) * blockLength;
    this.oldImage = options.factoryImage ?? imageFor(OLD_VERSION, 3000);
    this.newImage = options.targetImage ?? imageFor(NEW_VERSION, options.imageSize);
    const device = createSimDevice({
      baud,
      fifoSize: options.fifoSize,
      slotSize,
      blockLength,
      writeAlign: options.writeAlign ?? 4,
      partitionSize: (2 * (slotSize / blockLength) + 4) * blockLength,
      flashTime: "always",
      factory: { component: COMPONENT, version: OLD_VERSION, bytes: this.oldImage },
    });
    this.clock = device.clock;
    this.digests = device.digests;
    this.link = device.link;
    this.flash = device.flash;
    this.layout = device.layout;
    this.kv = device.kv;

    const plan = parsePlan({
      product: "pTest",
      components: [
        {
          id: COMPONENT,
          type: "full",
          targetVersion: NEW_VERSION,
          package: "pkg.bin",
          minBattery: 10,
          minSignal: -110,
          ...options.component,
        },
        ...(options.extraComponents ?? []),
      ],
      settings: {
        deviceId: "rig-device",
        productKey: "pTest",
        productSecret: "secret",
        downloadBytesPerSecond: 1_000_000,
        ...options.settings,
      },
      faults: options.faults ?? [],
    });
    const packageBytes = options.packageBytes ?? this.newImage;
    this.module = new VirtualModule({
      serial: this.link.b,
      // The module runs on while the MCU is busy (erasing, writing).
      clock: this.clock.world,
      digests: this.digests,
      plan,
      packages: (name) => options.packagesByName?.[name] ?? packageBytes,
      onTrace: options.onTrace,
      flash:
        options.moduleMcuList || options.moduleOtaTarget
          ? {
              productKey: "pTest",
              productSecret: "secret",
              regMode: 0,
              mcuList: options.moduleMcuList ?? [],
              otaComponent: options.moduleOtaTarget ? COMPONENT : "",
              otaTarget: options.moduleOtaTarget ?? "",
              otaType: options.moduleOtaTarget ? "mcu" : "",
              otaState: 0,
              shaOption: 0,
              authenticated: false,
            }
          : undefined,
    });
    // Record the device's command lines as the module sees them (not in the memory benchmark: the log grows).
    const deviceEnd = this.link.a;
    if (options.recordCommands === false) {
      this.module.powerOn();
      return;
    }
    const write = deviceEnd.write.bind(deviceEnd);
    deviceEnd.write = (bytes: Uint8Array) => {
      for (const b of bytes) {
        if (b === 13) {
          this.commands.push(this.#lineBuffer);
          options.onCommand?.(this.#lineBuffer);
          this.#lineBuffer = "";
        } else this.#lineBuffer += String.fromCharCode(b);
      }
      write(bytes);
    };
    this.module.powerOn();
  }

  /** Boots the MCU: boot decision on the flash, then a new engine on the same UART. */
  bootDevice(): void {
    this.#dead = false;
    // A reset MCU's UART starts empty: what the module printed while it was down is gone.
    const drain = new Uint8Array(256);
    while (this.link.a.read(drain) > 0);
    const boot = openBoot(this.flash, this.layout, this.digests);
    this.boots.push(boot.report);
    this.#options.onBoot?.(boot.report);
    const system: SystemPort = {
      restart: () => {
        this.#restartPending = true;
      },
      batteryPercent: () => this.#options.battery ?? 100,
      deviceId: () => "rig-device",
      log: (message) => this.logs.push(`${this.clock.now().toFixed(0)} ${message}`),
    };
    const client = new ModuleClient(this.link.a, this.clock, { baud: this.#options.baud ?? 115200 });
    const engine = new SotaEngine(
      {
        client,
        clock: this.clock,
        boot,
        system,
        kv: this.kv,
        packages: this.#options.packages,
        digests: this.digests,
        ...(this.#options.areas ? { areas: this.#options.areas } : {}),
      },
      {
        component: COMPONENT,
        slotSize: this.layout.slots[0].length,
        ...this.#options.engine,
      },
    );
    engine.onProgress = (p: SotaProgress) => {
      if (p.state === "reading") return;
      this.states.push({ state: p.state, reason: p.reason, runningVersion: p.runningVersion });
      this.#options.onState?.(p.state, p.reason);
    };
    this.engine = engine;
    void engine.start().then(() => {
      if (this.#restartPending && this.engine === engine && !this.#dead) {
        this.#restartPending = false;
        this.restarts++;
        // A power cut can hit the boot decision itself: then the MCU is simply dead until powered again.
        if (this.flash.poweredOff) this.powerCut();
        else {
          try {
            this.bootDevice();
          } catch (error) {
            if (!this.flash.cutHappened) throw error;
            this.powerCut();
          }
        }
      }
    });
  }

  /** The MCU loses power: the engine stops where it is; the module and the line go on. */
  powerCut(): void {
    this.#dead = true;
    this.engine?.stop();
    this.engine = undefined;
  }

  /** Runs virtual time until `predicate` holds; a power cut armed on the flash stops the engine when it fires. */
  async runUntil(predicate: () => boolean, maxMs: number): Promise<boolean> {
    return this.clock.runUntil(() => {
      if (this.flash.cutHappened && !this.#cutSeen) {
        this.#cutSeen = true;
        this.powerCut();
      }
      return predicate();
    }, maxMs);
  }

  /** True once the module's monitoring log holds `event` for our component. */
  monitorHas(event: string): boolean {
    return this.module.monitor.entries.some((e) => e.component === COMPONENT && e.event === event);
  }

  lastState(): SotaState | undefined {
    return this.states[this.states.length - 1]?.state;
  }

  hasState(state: SotaState): boolean {
    return this.states.some((s) => s.state === state);
  }

  /** SHA-256 of the slot that boot control would run now (read-only: uses the last boot report). */
  runningSha256(report: BootReport): string {
    return slotSha256(this.flash, this.layout, this.digests, report.running.slot, report.running.size);
  }

  sha256(bytes: Uint8Array): string {
    const digest = this.digests.create("SHA256");
    digest.write(bytes);
    let hex = "";
    for (const b of digest.close()) hex += b.toString(16).padStart(2, "0");
    return hex;
  }

  /** The device's AT+QIOTOTARD start offsets, in order. */
  readStarts(fromCommand = 0): number[] {
    const starts: number[] = [];
    for (const line of this.commands.slice(fromCommand)) {
      const match = /^AT\+QIOTOTARD=(\d+),(\d+)$/.exec(line);
      if (match) starts.push(Number(match[1]));
    }
    return starts;
  }
}
