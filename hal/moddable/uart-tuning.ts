// The ESP32 UART receive threshold for a baud rate: how full the 128-byte RX FIFO gets before its interrupt, so
// the bytes still free cover the time the XS task may take to answer it (margin), and RTS/CTS's release point.

export const RX_FIFO_BYTES = 128;
/** Time the reader may be late after the interrupt: a flash write or a garbage collection (measured order). */
export const DEFAULT_MARGIN_MS = 5;

export interface UartTuning {
  /** RX-full interrupt threshold in bytes (1..127). */
  rxThreshold: number;
  /** How long the free FIFO bytes last at this baud after the interrupt, in ms. */
  marginMs: number;
  /** RTS is released at this many bytes in the FIFO (hardware flow control). */
  flowThreshold: number;
}

export function uartTuning(baud: number, marginMs = DEFAULT_MARGIN_MS): UartTuning {
  const byteMs = 10_000 / baud; // 8N1: ten bit times per byte
  const room = Math.min(RX_FIFO_BYTES - 1, Math.ceil(marginMs / byteMs));
  const rxThreshold = RX_FIFO_BYTES - room;
  // With RTS/CTS the module stops within a few bytes of RTS: release it with 16 bytes of headroom.
  return { rxThreshold, marginMs: (RX_FIFO_BYTES - rxThreshold) * byteMs, flowThreshold: RX_FIFO_BYTES - 16 };
}
