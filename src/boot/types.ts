// What the SOTA engine and the apps need from boot control: the contract between src/sota and src/boot.

import type { ImageDescriptor, ImageReceiver } from "../image/types.js";

/** Every image state, in the order boot records encode them (the index is the byte on flash: never reorder). */
export const IMAGE_STATES = [
  "empty",
  "receiving",
  "verified",
  "pending-test",
  "confirmed",
  "rejected",
] as const;
export type ImageState = (typeof IMAGE_STATES)[number];

export interface SlotInfo {
  slot: number;
  state: ImageState;
  component: string;
  version: string;
  size: number;
  md5: string;
  sha256: string;
}

/** What start-up decided, for the engine and for `sota-device status`. */
export interface BootReport {
  /** The slot that runs now. */
  running: SlotInfo;
  /** True if the running image is on a trial boot and must be confirmed (or it rolls back). */
  trial: boolean;
  /** Set when start-up fell back to the confirmed image: why (for example "trial not confirmed"). */
  rollbackReason: string;
  slots: SlotInfo[];
}

export interface BootControl {
  /** The decision made at start-up (open/boot time). */
  readonly report: BootReport;
  /** Starts receiving a new image into the inactive slot, discarding any earlier partial one. */
  startReceive(descriptor: ImageDescriptor): ImageReceiver;
  /**
   * Binds the current receive, if nothing was written through it yet, to the image's real descriptor, keeping the
   * blocks it erased (docs/protocol.md §13, decision 82). Throws when there is no such receive. Absent: not supported.
   */
  rebindReceive?(receiver: ImageReceiver, descriptor: ImageDescriptor): ImageReceiver;
  /**
   * The partial image left by a power cut or reset, with its journal re-checked, or undefined. `previous` is the
   * receive of the same image still in RAM (after a module reboot): blocks it erased ahead need no second erase.
   */
  resumeReceive(previous?: ImageReceiver): ImageReceiver | undefined;
  /** Forgets the partial or verified image (the running image is untouched), recording why. */
  abandonReceive(reason: string): void;
  /** Marks the verified image pending test: the next start-up boots it as a trial. Throws if not verified. */
  activate(): void;
  /** Reads bytes [offset, offset + into.length) of the running image's slot (a delta's source); absent: no deltas. */
  readRunning?(offset: number, into: Uint8Array): void;
  /** Bytes of the running image's slot. */
  readonly runningSlotLength?: number;
  /** The flash erase block of the slots (a delta checkpoints its output at these boundaries). */
  readonly eraseBlockLength?: number;
  /** Makes the running trial image permanent. */
  confirm(): void;
  /** Rejects the running trial image: start-up goes back to the confirmed image at once. */
  reject(reason: string): void;
}
