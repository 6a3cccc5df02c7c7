// The ESP32 board: UART via embedded:io/serial (RX threshold, optional RTS/CTS), OTA partitions + app rollback
// (Esp32BootControl), the task watchdog fed from a timer, NVS, crypt.

import type { Board, BoardConfig } from "./board.js";
import { ModdableClock } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { Esp32BootControl } from "../../boot/esp32/esp32-boot.js";
import { Esp32OtaNatives } from "../../../hal/moddable/esp32-ota.js";
import { Esp32FlashPartition } from "../../../hal/moddable/flash-esp32.js";
import { PreferenceStore } from "../../../hal/moddable/kv.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";
import { uartTuning } from "../../../hal/moddable/uart-tuning.js";

/** ESP32-only settings of manifest.json config.sota (absent: the defaults below). */
export interface Esp32Settings {
  uart: BoardConfig["uart"] & { rts?: number; cts?: number };
  /** RTS/CTS on both sides: the pins above and AT+IFC=2,2 on the module (the app sends it). */
  flowControl?: boolean;
  /** Update even with a bootloader that cannot roll back (running state NEW). */
  acceptNoRollback?: boolean;
  /** CONFIG_ESP_TASK_WDT_TIMEOUT_S of the sdkconfig fragment, in ms: the feed runs at a quarter of it. */
  watchdogMs?: number;
}

export function openEsp32Board(config: BoardConfig & Partial<Esp32Settings>): Board {
  const digests = new ModdableDigestFactory();
  const kv = new PreferenceStore(config.domain);
  const nextota = new Esp32FlashPartition("nextota");
  const ota = new Esp32OtaNatives(nextota);
  const boot = new Esp32BootControl(
    { flash: nextota, ota, digests, kv },
    { component: config.component, version: config.version },
    { acceptNoRollback: config.acceptNoRollback ?? false },
  );
  const clock = new ModdableClock();
  // A hung XS task stops feeding: the reset leaves a trial image PENDING_VERIFY, which the bootloader rolls back.
  const watchdogMs = config.watchdogMs ?? 30_000;
  ota.watchdogSubscribe();
  const feed = (): void => {
    ota.watchdogFeed();
    clock.setTimer(feed, watchdogMs / 4);
  };
  feed();
  const serial = new ModdableSerialPort({
    kind: "uart",
    port: config.uart.port,
    transmit: config.uart.transmit,
    receive: config.uart.receive,
    baud: config.baud,
  });
  const flow = config.flowControl === true;
  const tuning = uartTuning(config.baud);
  ota.uartTune(
    config.uart.port,
    flow ? (config.uart.rts ?? -1) : -1,
    flow ? (config.uart.cts ?? -1) : -1,
    tuning.rxThreshold,
    tuning.flowThreshold,
  );
  const running = ota.running();
  const notes = boot.notices.length ? "; " + boot.notices.join("; ") : "";
  return {
    serial,
    clock,
    digests,
    kv,
    boot,
    slotSize: nextota.status().size,
    description:
      `esp32 running ${running.label} (state ${running.state}), next ${ota.next().label}, UART${config.uart.port} tx ${config.uart.transmit} rx ${config.uart.receive} @ ${config.baud}` +
      ` (RX threshold ${tuning.rxThreshold}, ${tuning.marginMs.toFixed(1)} ms margin${flow ? `, RTS ${config.uart.rts} CTS ${config.uart.cts}` : ""})${notes}`,
    // A mod lives in the `xs` partition (run in place); a data component in the partition named by its id. Each
    // backup is the partition `<name>bak` of the partition table (ESP-IDF names: at most 16 characters).
    openAreas: (components) => {
      const areas: Record<string, Esp32FlashPartition> = {};
      for (const c of components) {
        const name = c.kind === "mod" ? "xs" : c.id;
        areas[c.id] = new Esp32FlashPartition(name);
        areas[`${c.id}.bak`] = new Esp32FlashPartition(`${name}bak`);
      }
      return areas;
    },
    close: () => serial.close(),
  };
}
