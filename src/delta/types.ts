// The contract of the delta appliers: statuses, typed failures and the callbacks they read and write through.

/** push() consumed all it was given and wants more. */
export const DELTA_NEED_MORE = 0;
/** push() stopped at an output boundary with everything before it written: save a checkpoint, then push the rest. */
export const DELTA_BOUNDARY = 1;
/** The whole output was written (the package applier also checked its size and SHA-256 in finish()). */
export const DELTA_DONE = 2;
/** Refused: see `failure`. Every later call returns this again. */
export const DELTA_FAILED = 3;

export type DeltaStatus =
  typeof DELTA_NEED_MORE | typeof DELTA_BOUNDARY | typeof DELTA_DONE | typeof DELTA_FAILED;

export type DeltaFailureCode =
  /** The package header is not ours, of an unknown version, or its CRC does not match. */
  | "header"
  /** A patch type, compression, heatshrink window or data format this applier does not implement. */
  | "unsupported"
  /** The running image is not the one the delta was made from (size or SHA-256). */
  | "wrong-base"
  /** The delta builds another image than the one expected, or the built image's size or SHA-256 is not the
   *  declared one. */
  | "wrong-target"
  /** The input ended (finish()) before the patch did. */
  | "truncated"
  /** The patch ended before its declared length, or its output is shorter than declared. */
  | "too-short"
  /** The patch would write more than the declared output size. */
  | "too-long"
  /** Bytes after the end of the patch. */
  | "trailing"
  /** A malformed patch: size field overflow, negative length, nonzero padding, contradicting sizes. */
  | "corrupt"
  /** The patch reads the source outside [0, source size). */
  | "source-range"
  /** readSource() failed or threw. */
  | "source-read"
  /** The output sink failed or threw. */
  | "sink"
  /** A checkpoint record that does not restore (CRC, version, values out of range) or a call out of order. */
  | "state";

export interface DeltaFailure {
  readonly code: DeltaFailureCode;
  readonly message: string;
  /** Bytes of the input consumed when it failed. */
  readonly inputOffset: number;
  /** Bytes of output produced when it failed. */
  readonly outputOffset: number;
}

/**
 * Reads `length` bytes of the source image at `offset` into into[0..length). Never asked for bytes outside
 * [0, source size). Return false (or throw) when the read failed.
 */
export type ReadSource = (offset: number, length: number, into: Uint8Array) => boolean | void;

/**
 * Takes the next `length` output bytes from bytes[0..length). The buffer is reused after the call returns:
 * copy or write it out before returning. Return false (or throw) when the write failed.
 */
export type WriteOutput = (bytes: Uint8Array, length: number) => boolean | void;
