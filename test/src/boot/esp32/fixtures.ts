// What the ESP32 backend's suites share: a fake ESP-IDF OTA port, app-like images, descriptors and a feeding loop.

import { toHex } from "../../../../hal/digest.js";
import { NobleDigestFactory } from "../../../../hal/sim/digest.js";
import type { OtaPartitionView, OtaPort } from "../../../../hal/ota.js";
import type { ImageDescriptor, ImageReceiver } from "../../../../src/image/types.js";

export const digests = new NobleDigestFactory();
/** The app id the fake reports for the next partition. */
export const NEXT_APP = "b".repeat(64);

/** ESP-IDF as the backend sees it: which partition runs, in which state, and what select/mark did. */
export class FakeOta implements OtaPort {
  calls: string[] = [];
  runningApp = "";
  failSelect = false;
  selectedFirstBlock: Uint8Array | undefined;
  constructor(
    public runningView: OtaPartitionView,
    public nextView: OtaPartitionView,
  ) {}
  running(): OtaPartitionView {
    return this.runningView;
  }
  next(): OtaPartitionView {
    return this.nextView;
  }
  selectNext(firstBlock: Uint8Array): void {
    this.calls.push("select");
    if (this.failSelect) throw new Error("esp_ota_write failed");
    this.selectedFirstBlock = firstBlock.slice();
  }
  markValid(): void {
    this.calls.push("valid");
  }
  markInvalidAndReboot(): void {
    this.calls.push("invalid");
  }
  invalidateInactive(): void {
    this.calls.push("invalidate");
  }
  appId(which: "running" | "next"): string {
    return which === "running" ? this.runningApp : NEXT_APP;
  }
}

export function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Image bytes starting with the ESP-IDF app magic 0xE9. */
export function plainImage(size: number): Uint8Array {
  const bytes = pattern(size, 7);
  bytes[0] = 0xe9;
  return bytes;
}

export function descriptorOf(bytes: Uint8Array, version = "2.0.0", crc = 0): ImageDescriptor {
  const md5 = digests.create("MD5");
  const sha = digests.create("SHA256");
  md5.write(bytes);
  sha.write(bytes);
  return {
    component: "mcu",
    version,
    size: bytes.length,
    md5: toHex(md5.close()),
    sha256: toHex(sha.close()),
    crc,
  };
}

/** Feeds `bytes` in `chunk`-sized writes, erasing only when the receiver says it must; returns the erases. */
export function feed(
  receiver: ImageReceiver,
  bytes: Uint8Array,
  chunk: number,
  until = bytes.length,
): number {
  let erases = 0;
  const buffer = new Uint8Array(chunk);
  while (receiver.received < until) {
    const n = Math.min(chunk, until - receiver.received);
    while (receiver.needsErase(receiver.received + n)) {
      if (!receiver.eraseStep(receiver.received + n))
        throw new Error("needsErase() but eraseStep() erased nothing");
      erases++;
    }
    buffer.set(bytes.subarray(receiver.received, receiver.received + n));
    receiver.write(buffer, n);
  }
  return erases;
}
