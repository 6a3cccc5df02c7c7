// The module's OTA download: the package in pieces (10701/10702/10703), the MCU's reads of the current piece in the
// +QIOTOTARD layout (docs/protocol.md §5), the module timers, silent download failures and the OTA's end (10705/10706).

import type { TimerHandle } from "../../hal/clock.js";
import { integerArg, utf8, type Arg } from "./at-port.js";
import type { PackageDigests } from "./checksums.js";
import { applyByteFaults, describeFault, type Fault } from "./faults.js";
import type { ModuleContext } from "./module-context.js";
import { OTA_ACTIVE, OtaState } from "./ota-states.js";
import type { PlanComponent } from "./plan.js";

/** The component downloading and the piece the module holds. */
interface Download {
  component: PlanComponent;
  data: Uint8Array;
  digests: PackageDigests;
  pieceSize: number;
  pieceIndex: number;
  pieceStart: number;
  pieceLen: number;
  /** The piece held in module flash; after UPDATE=2 it is the old piece until the new one lands (docs/protocol.md §9a race). */
  stored: Uint8Array | undefined;
  stale: boolean;
}

export class OtaDownload {
  /** Set at boot and by 10705/10706: the next download information prints 10701, else 10702 (docs/protocol.md §9.8). */
  firstStart = true;
  /** Download failures since the OTA began; the Nth (`maxDownloadFailures`) gives 10706. */
  failures = 0;
  download: Download | undefined;
  /** AT+QIOTOTARD commands since power-on (faults name reads by this number). */
  reads = 0;
  private readBytesTotal = 0;
  private confirmTimer: TimerHandle | undefined;
  private readTimer: TimerHandle | undefined;
  private updateTimer: TimerHandle | undefined;
  private pieceTimer: TimerHandle | undefined;

  constructor(private readonly m: ModuleContext) {}

  /** Boot: the piece (RAM/cache) is lost, the first-start flag and the failure count reset. */
  reset(): void {
    this.firstStart = true;
    this.failures = 0;
    this.download = undefined;
  }

  forgetTimers(): void {
    this.confirmTimer = this.readTimer = this.updateTimer = this.pieceTimer = undefined;
  }

  get pieceWindow(): { start: number; length: number; fileSize: number } | undefined {
    const d = this.download;
    return d ? { start: d.pieceStart, length: d.pieceLen, fileSize: d.data.length } : undefined;
  }

  /** A piece before the last is held (UPDATE=2 is legal). */
  get hasNextPiece(): boolean {
    const d = this.download;
    return d !== undefined && d.pieceStart + d.pieceLen < d.data.length;
  }

  /** The last piece is held (UPDATE=3 is legal). */
  get onLastPiece(): boolean {
    const d = this.download;
    return d !== undefined && d.pieceStart + d.pieceLen >= d.data.length;
  }

  // ---------------------------------------------------------------- timers

  /** From the confirm: the download information must come within confirmTimeoutMs (30 s), else 10706. */
  startConfirmTimer(): void {
    const m = this.m;
    this.confirmTimer = m.cancel(this.confirmTimer);
    this.confirmTimer = m.after(m.settings.confirmTimeoutMs, () => {
      this.confirmTimer = undefined;
      this.finish(false, `no download information within ${m.settings.confirmTimeoutMs} ms of the confirm`);
    });
  }

  stopConfirmTimer(): void {
    this.confirmTimer = this.m.cancel(this.confirmTimer);
  }

  /** From 10704: the version report must come within updateTimeoutMs (20 min), else 10706. */
  startUpdateTimer(): void {
    const m = this.m;
    this.updateTimer = m.cancel(this.updateTimer);
    this.updateTimer = m.after(m.settings.updateTimeoutMs, () => {
      this.updateTimer = undefined;
      this.finish(false, `no version report within ${m.settings.updateTimeoutMs} ms of 10704`);
    });
  }

  /** Each read of the piece restarts it: readTimeoutMs (60 s) without one gives 10706. */
  private restartReadTimer(): void {
    const m = this.m;
    this.readTimer = m.cancel(this.readTimer);
    this.readTimer = m.after(m.settings.readTimeoutMs, () => {
      this.readTimer = undefined;
      this.finish(false, `MCU read idle for ${m.settings.readTimeoutMs} ms`);
    });
  }

  // ---------------------------------------------------------------- pieces

  /** The download information arrived: the target is stored, 10701 (or 10702) printed, the first piece comes. */
  begin(component: PlanComponent, data: Uint8Array, digests: PackageDigests): void {
    const m = this.m;
    // The target is stored (and persisted) only now: before this, QIOTMCUVER compares with the previous one
    // (docs/protocol.md §9.9).
    m.flash.otaComponent = component.id;
    m.flash.otaType = "mcu";
    m.flash.otaTarget = component.targetVersion;
    m.setOtaState(OtaState.DOWNLOADSTART);
    if (this.firstStart) {
      this.firstStart = false;
      // docs/protocol.md §9a: the digests are printed as the platform sent them (either hex case).
      const hex = (text: string) => (m.settings.digestCase === "upper" ? text.toUpperCase() : text);
      const sha = m.flash.shaOption === 1 ? `,"${hex(digests.sha256)}"` : "";
      m.port.urc(
        `+QIOTEVT: 7,10701,"${component.id}",${data.length},"${hex(digests.md5)}",${digests.crc32}${sha}`,
      );
    } else {
      // docs/protocol.md §9.8: the first-start flag is only set at boot and by 10705/10706, so after a silent
      // failure this is 10702.
      m.port.urc("+QIOTEVT: 7,10702");
    }
    m.log(component, "downloading");
    this.download = {
      component,
      data,
      digests,
      pieceSize: Math.max(1, m.settings.freeSpace), // sampled once per OTA: all pieces but the last are equal
      pieceIndex: 1,
      pieceStart: 0,
      pieceLen: Math.min(m.settings.freeSpace, data.length),
      stored: undefined,
      stale: false,
    };
    m.setOtaState(OtaState.DOWNLOADING);
    this.downloadPiece();
  }

  /** The module downloads the current piece at downloadBytesPerSecond, with 10702 every progressIntervalMs. */
  private downloadPiece(): void {
    const m = this.m;
    const d = this.download!;
    const rate = m.settings.downloadBytesPerSecond;
    const duration = Math.ceil((d.pieceLen * 1000) / rate);
    // A fault with `comp` acts only in the download of the task's Nth component (a multi-component task).
    const number = (m.center.task?.index ?? 0) + 1;
    const inComponent = (f: Fault) => f.comp === undefined || f.comp === number;
    const failure = m.faults.take(
      (f) =>
        f.kind === "fail" &&
        inComponent(f) &&
        (f.piece === undefined || f.piece === d.pieceIndex) &&
        f.byte! < d.pieceLen,
    );
    const end = failure ? Math.ceil((failure.byte! * 1000) / rate) : duration;
    const interval = m.settings.progressIntervalMs;
    let elapsed = 0;
    const tick = () => {
      const next = Math.min(elapsed + interval, end);
      this.pieceTimer = m.after(next - elapsed, () => {
        this.pieceTimer = undefined;
        elapsed = next;
        if (elapsed >= end) {
          if (failure) {
            m.trace("fault", `download fails at byte ${failure.byte} of piece ${d.pieceIndex}`);
            this.downloadFailed(`download failed at byte ${failure.byte} of piece ${d.pieceIndex}`);
          } else this.pieceReady();
          return;
        }
        m.port.urc("+QIOTEVT: 7,10702");
        tick();
      });
    };
    tick();
    for (const f of m.faults.all)
      if (f.piece === d.pieceIndex && f.kind !== "fail" && inComponent(f)) m.front.fireFault(f);
  }

  private pieceReady(): void {
    const m = this.m;
    const d = this.download!;
    d.stored = d.data.subarray(d.pieceStart, d.pieceStart + d.pieceLen);
    d.stale = false;
    m.setOtaState(OtaState.DOWNLOADSUCCESS);
    m.port.urc(`+QIOTEVT: 7,10703,"${d.component.id}",${d.data.length},${d.pieceStart},${d.pieceLen}`);
    m.log(d.component, "piece", `${d.pieceStart}+${d.pieceLen}`);
    this.restartReadTimer();
  }

  /** AT+QIOTUPDATE=2 (legal before the last piece): the next piece downloads. */
  nextPiece(): void {
    const m = this.m;
    const d = this.download!;
    this.readTimer = m.cancel(this.readTimer);
    // docs/protocol.md §9a: the window moves at once while the old piece is still stored (stale reads until the
    // next 10703).
    d.pieceStart += d.pieceLen;
    d.pieceLen = Math.min(d.pieceSize, d.data.length - d.pieceStart);
    d.pieceIndex++;
    d.stale = true;
    m.setOtaState(OtaState.DOWNLOADING);
    m.port.ok();
    m.port.urc("+QIOTEVT: 7,10702");
    this.downloadPiece();
  }

  /** AT+QIOTUPDATE=3: after the last piece, UPDATING with 10704 and the 20-min timer; a repeat is OK, nothing else. */
  install(): void {
    const m = this.m;
    if (m.otaState === OtaState.UPDATING) return m.port.ok(); // no new 10704, the 20-min timer keeps running
    const d = this.download!;
    this.readTimer = m.cancel(this.readTimer);
    this.download = undefined; // the piece is erased
    m.setOtaState(OtaState.UPDATING);
    m.port.ok();
    m.port.urc("+QIOTEVT: 7,10704");
    m.log(d.component, "updating");
    this.startUpdateTimer();
  }

  // ---------------------------------------------------------------- the end of a download or an OTA

  /** A download failure: silent (idle, piece erased, plan lost) until the Nth cumulative one gives 10706. */
  downloadFailed(reason: string): void {
    const m = this.m;
    this.failures++;
    const component = this.download?.component ?? m.center.taskComponent;
    if (this.failures >= m.settings.maxDownloadFailures) {
      this.finish(false, `${reason} (download failure ${this.failures})`);
      return;
    }
    this.pieceTimer = m.cancel(this.pieceTimer);
    this.readTimer = m.cancel(this.readTimer);
    this.confirmTimer = m.cancel(this.confirmTimer);
    this.download = undefined;
    m.center.dropTask();
    m.setOtaState(OtaState.DOWNLOADERROR);
    if (component) m.log(component, "download-failed", `${reason} (silent failure ${this.failures})`);
  }

  /** 10705/10706: the OTA ends; the first-start flag and failure count reset, the piece is erased. */
  finish(success: boolean, reason: string): void {
    const m = this.m;
    const task = m.center.task;
    const component = m.center.taskComponent ?? m.plan.components.find((c) => c.id === m.flash.otaComponent);
    this.confirmTimer = m.cancel(this.confirmTimer);
    this.readTimer = m.cancel(this.readTimer);
    this.updateTimer = m.cancel(this.updateTimer);
    this.pieceTimer = m.cancel(this.pieceTimer);
    this.download = undefined;
    this.firstStart = true;
    this.failures = 0;
    m.setOtaState(success ? OtaState.UPDATESUCCESS : OtaState.UPDATEERROR);
    if (success) {
      const fotaEnd = m.settings.fotaEndUrc;
      if (fotaEnd === "before") m.port.urc('+QIND: "FOTA","END",0');
      m.port.urc("+QIOTEVT: 7,10705");
      if (fotaEnd === "after") m.port.urc('+QIND: "FOTA","END",0');
    } else m.port.urc("+QIOTEVT: 7,10706");
    if (component) m.log(component, success ? "success" : "failure", reason || undefined);
    m.center.otaEnded(success, task);
  }

  /**
   * A version report (AT+QIOTMCUVER) of the OTA's component while an OTA is active ends it at once: 10705 when it
   * is the target, else 10706 (docs/protocol.md §3, §9.9).
   */
  versionReported(id: string, version: string): void {
    const { flash } = this.m;
    if (id !== flash.otaComponent || flash.otaType !== "mcu" || !OTA_ACTIVE.has(flash.otaState)) return;
    if (version === flash.otaTarget) this.finish(true, "");
    else
      this.finish(
        false,
        `device reported ${JSON.stringify(version)}, target ${JSON.stringify(flash.otaTarget)}`,
      );
  }

  // ---------------------------------------------------------------- AT+QIOTOTARD

  /** AT+QIOTOTARD=? */
  readRange(): void {
    this.m.port.ok([`+QIOTOTARD: <start>,(1-${this.m.settings.maxReadLength})`]);
  }

  /** AT+QIOTOTARD=<start>,<len>: bytes of the held piece at absolute file offsets (docs/protocol.md §3, §5). */
  read(args: Arg[]): void {
    const m = this.m;
    const start = integerArg(args[0]);
    let length = integerArg(args[1]);
    if (start === undefined || length === undefined) return m.port.error();
    this.reads++;
    const readNumber = this.reads;
    const d = this.download;
    for (const f of m.faults.all) if (f.kind === "burst" && f.read === readNumber) burst(m, f.count ?? 5);
    if (length > m.settings.maxReadLength) {
      if (m.settings.overLengthRead === "error") {
        m.trace("read", `read ${start}+${length} → ERROR (above ${m.settings.maxReadLength})`);
        m.port.error();
        this.afterRead(readNumber);
        return;
      }
      length = m.settings.maxReadLength;
    }
    // S1 Ql_iotCmdOtaMcuFWDataRead returns 0 bytes for a wrong state as for a start outside the piece or len 0:
    // the AT layer prints both the same way (ERROR, or `+QIOTOTARD: <start>,0` in the configured variant).
    const readable = d && d.stored && (m.otaState === OtaState.DOWNLOADSUCCESS || d.stale);
    const pieceEnd = d ? d.pieceStart + d.pieceLen : 0;
    if (!readable || start < d.pieceStart || start >= pieceEnd || length <= 0) {
      m.trace(
        "read",
        readable
          ? `read ${start}+${length} → outside ${d.pieceStart}..${pieceEnd - 1}`
          : `read ${start}+${length} → nothing to read (state ${m.otaState})`,
      );
      if (m.settings.outOfWindowRead === "zero") this.sendReadReply(start, new Uint8Array(0), readNumber);
      else m.port.error();
      this.afterRead(readNumber);
      return;
    }
    // Stale after UPDATE=2: the old piece's bytes under the new window's offsets (docs/protocol.md §9a).
    const offset = start - d.pieceStart;
    const count = Math.max(0, Math.min(length, pieceEnd - start, d.stored!.length - offset));
    const payload = d.stored!.subarray(offset, offset + count);
    if (!d.stale) this.restartReadTimer();
    m.trace("read", `read ${start}+${length} → ${count} bytes${d.stale ? " (stale piece)" : ""}`);
    this.sendReadReply(start, payload, readNumber);
    this.readBytesTotal += count;
    this.afterRead(readNumber);
  }

  /** docs/protocol.md §5 layout: "\r\n+QIOTOTARD: <start>,<n>\r\n" + n raw bytes + "\r\n" + "\r\nOK\r\n". */
  private sendReadReply(start: number, payload: Uint8Array, readNumber: number): void {
    const m = this.m;
    const faults = m.faults.all;
    const badOffset = faults.find((f) => f.kind === "bad-offset" && f.read === readNumber);
    const shownStart = badOffset ? start + (badOffset.delta ?? 1) : start;
    const payloadFaults = faults.filter(
      (f) => (f.kind === "drop" || f.kind === "corrupt" || f.kind === "dup") && f.read === readNumber,
    );
    const body = payloadFaults.length ? applyByteFaults(payload, 0, payloadFaults) : payload;
    const urcBeforeOk = faults.some((f) => f.kind === "urc-before-ok" && f.read === readNumber);
    const header = utf8(`\r\n+QIOTOTARD: ${shownStart},${payload.length}\r\n`);
    const trailer = utf8(urcBeforeOk ? "\r\n\r\n+QIOTEVT: 4,10200\r\n\r\nOK\r\n" : "\r\n\r\nOK\r\n");
    const reply = new Uint8Array(header.length + body.length + trailer.length);
    reply.set(header, 0);
    reply.set(body, header.length);
    reply.set(trailer, header.length + body.length);
    if (badOffset || payloadFaults.length || urcBeforeOk)
      m.trace(
        "fault",
        `read ${readNumber}: ${[
          badOffset,
          ...payloadFaults,
          urcBeforeOk ? { kind: "urc-before-ok" } : undefined,
        ]
          .filter(Boolean)
          .map((f) => describeFault(f as Fault))
          .join(" ")}`,
      );
    m.port.writeBytes(reply);
  }

  /** Faults triggered by read N, or by the payload bytes sent so far. */
  private afterRead(readNumber: number): void {
    const m = this.m;
    for (const f of m.faults.all) {
      if (f.read !== readNumber) continue;
      if (f.kind === "reboot" || f.kind === "inject10706" || f.kind === "disconnect") m.front.fireFault(f);
    }
    for (const f of m.faults.all) {
      if (
        f.kind === "reboot" &&
        f.readBytes !== undefined &&
        this.readBytesTotal >= f.readBytes &&
        m.faults.use(f)
      ) {
        m.trace("fault", `reboot after ${this.readBytesTotal} bytes read`);
        m.front.reboot(`fault: after ${f.readBytes} bytes read`);
        return;
      }
    }
  }
}

/** A burst of URC lines (a fault): what a busy module may print between two commands. */
export function burst(m: ModuleContext, count: number): void {
  const lines = ["+QIOTEVT: 4,10200", "+QIOTEVT: 5,10200", '+QIND: "FOTA","START"', "+QIOTEVT: 8,10428"];
  for (let i = 0; i < count; i++) m.port.urc(lines[i % lines.length]!);
}
