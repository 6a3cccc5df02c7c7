// The ESP32 board: UART via embedded:io/serial, OTA partitions + app rollback (Esp32BootControl), NVS, crypt.

import type { Board, BoardConfig } from "./board.js";
import { ModdableClock } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { Esp32BootControl } from "../../boot/esp32/esp32-boot.js";
import { Esp32OtaNatives } from "../../../hal/moddable/esp32-ota.js";
import { Esp32FlashPartition } from "../../../hal/moddable/flash-esp32.js";
import { PreferenceStore } from "../../../hal/moddable/kv.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";

export function openEsp32Board(config: BoardConfig): Board {
  const digests = new ModdableDigestFactory();
  const kv = new PreferenceStore(config.domain);
  const nextota = new Esp32FlashPartition("nextota");
  const ota = new Esp32OtaNatives(nextota);
  const boot = new Esp32BootControl(
    { flash: nextota, ota, digests, kv },
    { component: config.component, version: config.version },
  );
  const serial = new ModdableSerialPort({
    kind: "uart",
    port: config.uart.port,
    transmit: config.uart.transmit,
    receive: config.uart.receive,
    baud: config.baud,
  });
  const running = ota.running();
  return {
    serial,
    clock: new ModdableClock(),
    digests,
    kv,
    boot,
    slotSize: nextota.status().size,
    description: `esp32 running ${running.label} (state ${running.state}), next ${ota.next().label}, UART${config.uart.port} tx ${config.uart.transmit} rx ${config.uart.receive} @ ${config.baud}`,
    close: () => serial.close(),
  };
}
