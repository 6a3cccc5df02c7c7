// SerialPort over Moddable's `embedded:io/serial`: the ESP32 UART or a Linux tty/pty (queueing logic in serial-queue.ts).

import Serial from "embedded:io/serial";
import type { ModuleSerialOptions, NativeSerialConstructor } from "./serial-queue.js";
import { QueuedSerialPort } from "./serial-queue.js";

export type { ModuleSerialOptions } from "./serial-queue.js";

export class ModdableSerialPort extends QueuedSerialPort {
  constructor(options: ModuleSerialOptions) {
    super(Serial as unknown as NativeSerialConstructor, options);
  }
}
