// The ESP32 board: UART via embedded:io/serial (RX threshold, optional RTS/CTS), OTA partitions + app rollback
// (Esp32BootControl), the task watchdog fed from a timer, NVS, crypt.

import type { Board, BoardConfig } from "./board.js";
import { ModdableClock, msSinceReset } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { Esp32BootControl } from "../../boot/esp32/esp32-boot.js";
import { Esp32OtaNatives } from "../../../hal/moddable/esp32-ota.js";
import { Esp32FlashPartition } from "../../../hal/moddable/flash-esp32.js";
import { PreferenceStore } from "../../../hal/moddable/kv.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";
import { uartTuning } from "../../../hal/moddable/uart-tuning.js";

export function openEsp32Board(config: BoardConfig): Board {
  const esp32 = config.esp32;
  const digests = new ModdableDigestFactory();
  const kv = new PreferenceStore(config.prefsDomain);
  const nextota = new Esp32FlashPartition("nextota");
  const ota = new Esp32OtaNatives(nextota);
  const boot = new Esp32BootControl(
    // The running app partition, read only: the base a differential package is applied to.
    { flash: nextota, ota, digests, kv, running: new Esp32FlashPartition("running", "r") },
    { component: config.component, version: config.version },
    { acceptNoRollback: esp32.acceptNoRollback },
  );
  const clock = new ModdableClock();
  // A hung XS task stops feeding: the reset leaves a trial image PENDING_VERIFY, which the bootloader rolls back.
  const watchdogMs = esp32.watchdogMs;
  ota.watchdogSubscribe();
  const feed = (): void => {
    ota.watchdogFeed();
    clock.setTimer(feed, watchdogMs / 4);
  };
  feed();
  const serial = new ModdableSerialPort({
    kind: "uart",
    port: esp32.uartPort,
    transmit: esp32.uartTransmit,
    receive: esp32.uartReceive,
    baud: config.baud,
  });
  const flow = config.engine.flowControl === true;
  const tuning = uartTuning(config.baud);
  ota.uartTune(
    esp32.uartPort,
    flow ? esp32.uartRts : -1,
    flow ? esp32.uartCts : -1,
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
    sinceResetMs: msSinceReset(),
    description:
      `esp32 running ${running.label} (state ${running.state}), next ${ota.next().label}, UART${esp32.uartPort} tx ${esp32.uartTransmit} rx ${esp32.uartReceive} @ ${config.baud}` +
      ` (RX threshold ${tuning.rxThreshold}, ${tuning.marginMs.toFixed(1)} ms margin${flow ? `, RTS ${esp32.uartRts} CTS ${esp32.uartCts}` : ""})${notes}`,
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
