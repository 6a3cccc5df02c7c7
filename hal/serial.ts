// Serial port: the byte stream to the module's UART, shaped like ECMA-419 `embedded:io/serial`.

export interface SerialPort {
  /** Called when bytes are waiting; `count` is how many can be read now. */
  onReadable: ((count: number) => void) | undefined;
  /** Called when the transmitter can take more bytes; `count` is how many. */
  onWritable: ((count: number) => void) | undefined;
  /** Copies up to `into.length` waiting bytes into `into` (no allocation); returns how many. */
  read(into: Uint8Array): number;
  /**
   * Queues all of `bytes` for transmission (the port buffers what the UART cannot take yet).
   * The port copies or transmits the bytes before returning; the caller may reuse the buffer.
   */
  write(bytes: Uint8Array): void;
  close(): void;
}
