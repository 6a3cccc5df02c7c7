// Drives one @agoric/xsnap worker process directly over its netstring pipes (the official driver needs SES).
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import type { Readable, Writable } from "node:stream";

const require = createRequire(import.meta.url);

/** Path of the XS engine binary that `npm ci` compiles inside the @agoric/xsnap package. */
export function xsnapWorkerPath(): string {
  const packageDir = path.dirname(require.resolve("@agoric/xsnap/package.json"));
  const platform = process.platform === "darwin" ? "mac" : "lin";
  return path.join(packageDir, "xsnap-native", "xsnap", "build", "bin", platform, "release", "xsnap-worker");
}

export interface XsReply {
  /** true for a `.` reply, false for `!` (an uncaught exception in XS). */
  ok: boolean;
  /** The reply bytes decoded as UTF-8 (the result ArrayBuffer, or the exception text). */
  text: string;
  /** Deterministic work units of this command (xsnap's meter), 0 when absent. */
  compute: number;
  /** Live slots after the command. */
  heapCount: number;
}

export class XsnapExited extends Error {}

/** Splits a byte stream into netstrings (`<len>:<bytes>,`). */
class NetstringReader {
  #buffer: Buffer = Buffer.alloc(0);
  readonly #messages: Buffer[] = [];
  #waiter: ((message: Buffer | undefined) => void) | undefined;
  #ended = false;
  #error: Error | undefined;

  constructor(stream: Readable) {
    stream.on("data", (chunk: Buffer) => this.#push(chunk));
    stream.on("end", () => this.#end());
    stream.on("error", (error: Error) => {
      this.#error = error;
      this.#end();
    });
  }

  #push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const colon = this.#buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.#buffer.subarray(0, colon).toString("latin1"));
      if (!Number.isInteger(length) || length < 0) {
        this.#error = new Error(
          `xsnap protocol error: bad netstring length ${JSON.stringify(this.#buffer.subarray(0, colon).toString("latin1"))}`,
        );
        this.#end();
        return;
      }
      if (this.#buffer.length < colon + 1 + length + 1) return;
      const message = this.#buffer.subarray(colon + 1, colon + 1 + length);
      if (this.#buffer[colon + 1 + length] !== 0x2c) {
        this.#error = new Error("xsnap protocol error: netstring without trailing comma");
        this.#end();
        return;
      }
      this.#buffer = this.#buffer.subarray(colon + 2 + length);
      this.#deliver(message);
    }
  }

  #deliver(message: Buffer | undefined): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(message);
    } else if (message) this.#messages.push(message);
  }

  #end(): void {
    this.#ended = true;
    this.#deliver(undefined);
  }

  /** The next message, or undefined once the stream ended. */
  next(): Promise<Buffer | undefined> {
    const message = this.#messages.shift();
    if (message) return Promise.resolve(message);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  get error(): Error | undefined {
    return this.#error;
  }
}

export interface XsnapWorkerOptions {
  /** Answers the worker's `issueCommand(bytes)`; the default echoes nothing. */
  onCommand?: (bytes: Buffer) => Uint8Array;
  /** Receives what XS writes with `print` (stdout) and its diagnostics (stderr). */
  onOutput?: (text: string) => void;
}

/** One XS engine; commands run one at a time. */
export class XsnapWorker {
  readonly #process: ChildProcess;
  readonly #toXs: Writable;
  readonly #fromXs: NetstringReader;
  readonly #options: XsnapWorkerOptions;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly #exited: Promise<void>;

  constructor(name: string, options: XsnapWorkerOptions = {}) {
    this.#options = options;
    this.#process = spawn(xsnapWorkerPath(), [name], { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"] });
    const stdio = this.#process.stdio;
    this.#toXs = stdio[3] as Writable;
    this.#fromXs = new NetstringReader(stdio[4] as Readable);
    // A write to a worker that died fails with EPIPE; the read side reports the exit instead.
    this.#toXs.on("error", () => undefined);
    for (const stream of [stdio[1], stdio[2]] as Readable[]) {
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => this.#options.onOutput?.(text));
    }
    this.#exited = new Promise((resolve) => {
      this.#process.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve();
      });
      this.#process.once("error", (error) => {
        this.#exit = { code: null, signal: null };
        this.#options.onOutput?.(`cannot start xsnap-worker: ${error.message}\n`);
        resolve();
      });
    });
  }

  #send(message: Uint8Array | string): void {
    const body = typeof message === "string" ? Buffer.from(message, "utf8") : Buffer.from(message);
    this.#toXs.write(
      Buffer.concat([Buffer.from(`${body.length}:`, "latin1"), body, Buffer.from(",", "latin1")]),
    );
  }

  /** Sends `e<code>` and waits for its reply, answering any issueCommand on the way. */
  async evaluate(code: string): Promise<XsReply> {
    this.#send(`e${code}`);
    for (;;) {
      const message = await this.#fromXs.next();
      if (!message) {
        await this.#exited;
        const how = this.#exit?.signal ? `signal ${this.#exit.signal}` : `exit code ${this.#exit?.code}`;
        throw new XsnapExited(
          `xsnap-worker ended (${how})${this.#fromXs.error ? `: ${this.#fromXs.error.message}` : ""}`,
        );
      }
      const tag = message[0];
      if (tag === 0x3f /* ? */) {
        const answer = this.#options.onCommand?.(message.subarray(1)) ?? new Uint8Array(0);
        this.#send(Buffer.concat([Buffer.from("/", "latin1"), Buffer.from(answer)]));
        continue;
      }
      if (tag === 0x21 /* ! */)
        return { ok: false, text: message.subarray(1).toString("utf8"), compute: 0, heapCount: 0 };
      if (tag === 0x2e /* . */) {
        const separator = message.indexOf(1, 1);
        let compute = 0;
        let heapCount = 0;
        if (separator >= 0) {
          const meter = JSON.parse(message.subarray(1, separator).toString("utf8")) as {
            compute?: number;
            currentHeapCount?: number;
          };
          compute = meter.compute ?? 0;
          heapCount = meter.currentHeapCount ?? 0;
        }
        return {
          ok: true,
          text: message.subarray(separator < 0 ? 1 : separator + 1).toString("utf8"),
          compute,
          heapCount,
        };
      }
      this.kill();
      throw new Error(
        `xsnap protocol error: unknown reply ${JSON.stringify(message.subarray(0, 40).toString("latin1"))}`,
      );
    }
  }

  /** Asks the worker to quit and waits for it. */
  async close(): Promise<void> {
    if (!this.#exit) {
      // The worker exits with the status of its last command, so a harmless command precedes `q`.
      this.#send("e0");
      this.#send("q");
      this.#toXs.end();
    }
    await this.#exited;
  }

  kill(): void {
    if (!this.#exit) this.#process.kill("SIGKILL");
  }

  get exited(): Promise<void> {
    return this.#exited;
  }
}
