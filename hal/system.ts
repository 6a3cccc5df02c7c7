// System port: what the engine needs from the board besides I/O.

export interface SystemPort {
  /** Reboots the MCU (on the host: restarts the engine on the same flash). Does not return on a device. */
  restart(): void;
  /** Battery charge in percent (0-100); boards on mains report 100. */
  batteryPercent(): number;
  /** A stable id of this device, for logs. */
  deviceId(): string;
  /** Diagnostic output (Moddable `trace`, console on Node, nothing in tests). */
  log(message: string): void;
}
