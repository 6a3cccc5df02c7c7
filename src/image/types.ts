// What the SOTA engine needs from image writing and verification: the contract between src/sota and src/image.

/** MD5 of an image whose MD5 is not known before it is built (a delta's target): its SHA-256 decides. */
export const UNKNOWN_MD5 = "00000000000000000000000000000000";

/** The image the module announced (10701), bound to its plan: everything needed to verify it. */
export interface ImageDescriptor {
  component: string;
  version: string;
  size: number;
  /** 32 lower-case hex digits (UNKNOWN_MD5: not known, then the SHA-256 decides). */
  md5: string;
  /** 64 lower-case hex digits, or "" when the module sent none (then MD5 alone decides). */
  sha256: string;
  /** The module's CRC field (unsigned 32-bit); recorded, never relied on. */
  crc: number;
}

/**
 * Why digests of a whole received image do not match its descriptor ("md5", "sha256"), or "" when they do: one rule
 * for every receiver. Without a known MD5 (a delta's target) the SHA-256 alone decides, so it must be there.
 */
export function digestMismatch(descriptor: ImageDescriptor, md5: string, sha256: string): string {
  if (descriptor.md5 === UNKNOWN_MD5) return sha256 === descriptor.sha256.toLowerCase() ? "" : "sha256";
  if (md5 !== descriptor.md5.toLowerCase()) return "md5";
  if (descriptor.sha256 !== "" && sha256 !== descriptor.sha256.toLowerCase()) return "sha256";
  return "";
}

export interface VerifyResult {
  ok: boolean;
  /** Why verification failed ("size", "md5", "sha256"), or "" when ok. */
  reason: string;
  md5: string;
  sha256: string;
}

/**
 * Receives one image into the inactive slot, strictly in order from offset `received`.
 * Erasing and writing are flash work: the engine calls them only while the line is quiet.
 */
export interface ImageReceiver {
  readonly descriptor: ImageDescriptor;
  /** Bytes written and streamed through the digests so far (the verified prefix after a resume). */
  readonly received: number;
  /** True if bytes up to `upTo` (exclusive) cannot be written before another block is erased. */
  needsErase(upTo: number): boolean;
  /** Erases the next block that is needed for bytes below `upTo`; returns false if none was needed. */
  eraseStep(upTo: number): boolean;
  /** Writes `bytes[0..length)` at offset `received`, streams them into MD5 and SHA-256, and journals
   *  every sector it completes. Throws if the target blocks are not erased yet. */
  write(bytes: Uint8Array, length: number): void;
  /** Reads back bytes [offset, offset + into.length) of the image as they stand in flash (all of them once the
   *  last byte is written): the package signature is checked over what will boot, before finish(). */
  readBack(offset: number, into: Uint8Array): void;
  /** After the last byte: checks size, MD5 and SHA-256 against the descriptor and records the verdict. */
  finish(): VerifyResult;
  /** Bytes of the image in the slot when it differs from the download's size (a delta package builds its target). */
  readonly imageSize?: number;
  /** Why the slot does not hold the whole image although every byte was received (a delta that failed), or "". */
  incomplete?(): string;
}
