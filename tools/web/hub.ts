// What the monitoring page shows, kept up to date from the virtual module's event streams (its AT exchange trace and
// its upgrade monitoring log): module state, plans, device connections and their OTAs in the Developer Center's
// phase names, read progress (bytes, rate, ETA), a summarised AT log and the faults. Sends changes to listeners.

import type { MonitorEntry } from "../module/monitor.js";
import type { PlanComponent } from "../module/plan.js";
import type { TraceEntry } from "../module/virtual-module.js";

/** The phases of one device's upgrade as the Developer Center names them (plus the offer and the refusal). */
export type OtaPhaseName =
  | "plan offered"
  | "refused"
  | "start download"
  | "downloading"
  | "download failed"
  | "download complete"
  | "updating"
  | "update complete"
  | "update failed";

export interface OtaPhase {
  name: OtaPhaseName;
  /** Module time, ms since the page's origin. */
  t: number;
  percent: number;
  detail: string;
}

export interface Ota {
  id: number;
  connection: number;
  device: string;
  component: string;
  targetVersion: string;
  status: OtaPhaseName;
  percent: number;
  phases: OtaPhase[];
  done: boolean;
}

export interface Connection {
  id: number;
  start: number;
  end?: number;
  endReason?: string;
  /** Commands received from the device in this connection. */
  commands: number;
}

export interface Progress {
  component: string;
  bytes: number;
  total: number;
  percent: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  reads: number;
  active: boolean;
}

export type LogKind = "cmd" | "reply" | "urc" | "reads" | "note" | "fault";
export interface LogEntry {
  id: number;
  t: number;
  kind: LogKind;
  text: string;
}

export interface PlanView {
  id: string;
  type: string;
  sourceVersion: string;
  targetVersion: string;
  package: string;
  size: number;
  minBattery: number;
  minSignal: number;
}

export interface ModuleView {
  deviceId: string;
  link: "offline" | "connecting" | "online";
  ota: string;
  reboots: number;
  /** Module time of the last event (ms since origin). */
  now: number;
}

export interface FinalEvent {
  t: number;
  ok: boolean;
  text: string;
}

export interface Snapshot {
  module: ModuleView;
  plans: PlanView[];
  planMessage: { ok: boolean; text: string } | null;
  connections: Connection[];
  otas: Ota[];
  progress: Progress | null;
  armedFaults: string[];
  faults: Array<{ t: number; text: string }>;
  log: LogEntry[];
  final: FinalEvent | null;
}

/** One change for the page: the name of the SSE event and its data. */
export interface HubMessage {
  event: "module" | "plans" | "connections" | "ota" | "progress" | "log" | "fault" | "final" | "timeline";
  data: unknown;
}

const LOG_LIMIT = 4000;
/** Connections and OTAs kept for the page (a module serving for days sees many; the oldest go first). */
const HISTORY_LIMIT = 100;
const RATE_WINDOW_MS = 5000;
const READ_LINE = /^read (\d+)\+(\d+) → (\d+) bytes/;
const URC_10701 = /^\+QIOTEVT: 7,10701,"([^"]*)",(\d+)/;

export interface HubOptions {
  deviceId?: string;
  /** Real time, for throttling progress messages (default Date.now). */
  realNow?: () => number;
  /** Minimum real time between two progress messages (default 100 ms). */
  progressIntervalMs?: number;
}

export class MonitorHub {
  readonly #listeners = new Set<(message: HubMessage) => void>();
  readonly #realNow: () => number;
  readonly #progressInterval: number;
  #origin: number | undefined;
  #module: ModuleView;
  #plans: PlanView[] = [];
  #planMessage: { ok: boolean; text: string } | null = null;
  readonly #connections: Connection[] = [];
  readonly #otas: Ota[] = [];
  #progress: Progress | null = null;
  #armed: string[] = [];
  readonly #faults: Array<{ t: number; text: string }> = [];
  readonly #log: LogEntry[] = [];
  #logId = 0;
  #reads: LogEntry | undefined;
  #readsCount = 0;
  #readsBytes = 0;
  #readsFirst = -1;
  #readsLast = "";
  #final: FinalEvent | null = null;
  readonly #window: Array<{ t: number; bytes: number }> = [];
  #lastProgressSent = Number.NEGATIVE_INFINITY;
  #progressPending = false;
  #lastRx = "";

  constructor(options: HubOptions = {}) {
    this.#realNow = options.realNow ?? Date.now;
    this.#progressInterval = options.progressIntervalMs ?? 100;
    this.#module = { deviceId: options.deviceId ?? "", link: "offline", ota: "idle", reboots: 0, now: 0 };
  }

  /** Calls `listener` with every later change; returns its removal. */
  subscribe(listener: (message: HubMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshot(): Snapshot {
    return {
      module: { ...this.#module },
      plans: this.#plans,
      planMessage: this.#planMessage,
      connections: this.#connections,
      otas: this.#otas,
      progress: this.#progress,
      armedFaults: this.#armed,
      faults: this.#faults,
      log: this.#log,
      final: this.#final,
    };
  }

  setDeviceId(deviceId: string): void {
    this.#module.deviceId = deviceId;
    this.#send("module", this.#module);
  }

  setPlans(components: readonly PlanComponent[], sizes: (component: PlanComponent) => number): void {
    this.#plans = components.map((c) => ({
      id: c.id,
      type: c.type,
      sourceVersion: c.sourceVersion ?? "",
      targetVersion: c.targetVersion,
      package: c.package,
      size: sizes(c),
      minBattery: c.minBattery ?? 0,
      minSignal: c.minSignal ?? 0,
    }));
    this.#send("plans", { plans: this.#plans, message: this.#planMessage });
  }

  /** A plan reload's outcome (an error keeps the plans served before). */
  planMessage(ok: boolean, text: string): void {
    this.#planMessage = { ok, text };
    this.#send("plans", { plans: this.#plans, message: this.#planMessage });
  }

  setArmedFaults(faults: string[]): void {
    this.#armed = faults;
    this.#send("fault", { armed: this.#armed, injected: null });
  }

  #time(t: number): number {
    this.#origin ??= t;
    const rel = Math.round((t - this.#origin) * 1000) / 1000;
    this.#module.now = Math.max(this.#module.now, rel);
    return rel;
  }

  // ------------------------------------------------------------------ the AT exchange

  trace(entry: TraceEntry): void {
    const t = this.#time(entry.time);
    const text = entry.text;
    if (entry.kind === "read") {
      this.#onRead(t, text);
      return;
    }
    // A read's command and its OK are in the reads summary.
    if (entry.kind === "rx" && /^AT\+QIOTOTARD=\d/i.test(text)) {
      this.#lastRx = text;
      this.#connection(t).commands++;
      return;
    }
    if (entry.kind === "tx" && text === "OK" && this.#reads && /^AT\+QIOTOTARD=\d/i.test(this.#lastRx))
      return;
    this.#endReads();
    switch (entry.kind) {
      case "rx":
        this.#lastRx = text;
        this.#onCommand(t, text);
        this.#addLog(t, "cmd", text);
        break;
      case "tx":
        this.#addLog(t, "reply", text);
        break;
      case "urc":
        this.#onUrc(t, text);
        this.#addLog(t, "urc", text);
        break;
      case "note":
        if (text.startsWith("module reboot")) {
          this.#module.reboots++;
          this.#setLink("offline");
          this.#closeConnection(t, text);
          this.#stopProgress();
        }
        this.#addLog(t, "note", text);
        break;
      case "fault": {
        const fault = { t, text };
        this.#faults.push(fault);
        this.#send("fault", { armed: null, injected: fault });
        this.#addLog(t, "fault", text);
        break;
      }
    }
  }

  #onCommand(t: number, text: string): void {
    // The engine's start-up begins with ATE0: a device that (re)starts opens a new connection.
    if (/^ATE0$/i.test(text)) this.#closeConnection(t, "device restarted");
    this.#connection(t).commands++;
    if (/^AT\+QIOTREG=1$/i.test(text) && this.#module.link !== "online") this.#setLink("connecting");
    if (/^AT\+QIOTREG=0$/i.test(text)) this.#setLink("offline");
  }

  #onUrc(t: number, text: string): void {
    if (text === "+QIOTEVT: 3,10200") this.#setLink("online");
    else if (/^\+QIOTEVT: 2,1047[34]/.test(text)) {
      this.#setLink("offline");
      this.#closeConnection(t, `connection lost (${text.slice(10)})`);
    }
    const info = URC_10701.exec(text);
    if (info) {
      this.#window.length = 0;
      this.#progress = {
        component: info[1]!,
        bytes: 0,
        total: Number(info[2]),
        percent: 0,
        bytesPerSecond: 0,
        etaSeconds: null,
        reads: 0,
        active: false,
      };
      this.#sendProgress(true);
    }
  }

  #onRead(t: number, text: string): void {
    const m = READ_LINE.exec(text);
    if (!this.#reads) {
      this.#reads = this.#addLog(t, "reads", text);
      this.#readsCount = 0;
      this.#readsBytes = 0;
      this.#readsFirst = -1;
    }
    this.#readsCount++;
    if (m) {
      const start = Number(m[1]);
      const n = Number(m[3]);
      if (this.#readsFirst < 0) this.#readsFirst = start;
      this.#readsBytes += n;
      this.#readsLast = `${start}+${n}`;
      this.#reads.text = `${this.#readsCount} read${this.#readsCount === 1 ? "" : "s"} from ${this.#readsFirst} to ${this.#readsLast}: ${this.#readsBytes} bytes sent`;
      this.#onReadBytes(t, start + n);
    } else {
      this.#readsLast = text;
      this.#reads.text = `${this.#readsCount} reads from ${this.#readsFirst} (last: ${text})`;
    }
    this.#send("log", { update: true, entry: this.#reads });
  }

  #onReadBytes(t: number, position: number): void {
    const p = this.#progress;
    if (!p) return;
    p.bytes = Math.min(position, p.total || position);
    p.reads++;
    p.active = p.bytes < p.total;
    p.percent = p.total > 0 ? Math.floor((p.bytes * 100) / p.total) : 0;
    this.#window.push({ t, bytes: p.bytes });
    while (this.#window.length > 2 && t - this.#window[0]!.t > RATE_WINDOW_MS) this.#window.shift();
    const first = this.#window[0]!;
    const dt = t - first.t;
    p.bytesPerSecond = dt > 0 ? Math.round(((p.bytes - first.bytes) * 1000) / dt) : 0;
    p.etaSeconds =
      p.bytesPerSecond > 0 ? Math.round(((p.total - p.bytes) * 10) / p.bytesPerSecond) / 10 : null;
    const ota = this.#currentOta(p.component);
    if (ota) {
      ota.percent = p.percent;
      const downloading = [...ota.phases].reverse().find((ph) => ph.name === "downloading");
      if (downloading) downloading.percent = p.percent;
      if (p.total > 0 && p.bytes >= p.total && !ota.phases.some((ph) => ph.name === "download complete")) {
        this.#phase(ota, "download complete", t, `${p.total} bytes read by the device`);
        p.active = false;
      }
    }
    this.#sendProgress(!p.active);
  }

  #stopProgress(): void {
    if (!this.#progress || !this.#progress.active) return;
    this.#progress.active = false;
    this.#progress.bytesPerSecond = 0;
    this.#progress.etaSeconds = null;
    this.#window.length = 0;
    this.#sendProgress(true);
  }

  /** Throttled in real time: at full simulation speed reads come by the thousand per second. */
  #sendProgress(force: boolean): void {
    const now = this.#realNow();
    if (!force && now - this.#lastProgressSent < this.#progressInterval) {
      this.#progressPending = true;
      return;
    }
    this.#lastProgressSent = now;
    this.#progressPending = false;
    this.#send("progress", this.#progress && { ...this.#progress });
    // The OTA's percent and the connection's command count ride along at the same pace.
    const ota = this.#progress && this.#currentOta(this.#progress.component);
    if (ota) this.#send("ota", ota);
    this.#send("connections", this.#connections);
    this.#send("module", this.#module);
  }

  /** Sends a progress message held back by the throttle (call it now and then, e.g. from a timer). */
  flush(): void {
    if (this.#progressPending) this.#sendProgress(true);
  }

  #endReads(): void {
    this.#reads = undefined;
  }

  #addLog(t: number, kind: LogKind, text: string): LogEntry {
    const entry: LogEntry = { id: ++this.#logId, t, kind, text };
    this.#log.push(entry);
    if (this.#log.length > LOG_LIMIT) this.#log.splice(0, this.#log.length - LOG_LIMIT);
    if (kind !== "reads") this.#send("log", { update: false, entry });
    return entry;
  }

  #setLink(link: ModuleView["link"]): void {
    if (this.#module.link === link) return;
    this.#module.link = link;
    this.#send("module", this.#module);
  }

  #connection(t: number): Connection {
    let c = this.#connections[this.#connections.length - 1];
    if (!c || c.end !== undefined) {
      c = { id: (c?.id ?? 0) + 1, start: t, commands: 0 };
      this.#connections.push(c);
      if (this.#connections.length > HISTORY_LIMIT) this.#connections.shift();
      this.#send("connections", this.#connections);
    }
    return c;
  }

  #closeConnection(t: number, reason: string): void {
    const c = this.#connections[this.#connections.length - 1];
    if (!c || c.end !== undefined) return;
    c.end = t;
    c.endReason = reason;
    this.#send("connections", this.#connections);
  }

  // ------------------------------------------------------------------ the monitoring log

  monitor(entry: MonitorEntry): void {
    const t = this.#time(entry.time);
    this.#module.ota = `${entry.event}${entry.component ? ` (${entry.component})` : ""}`;
    this.#send("module", this.#module);
    if (entry.event === "offered") {
      // A re-push of a plan nobody answered is the same attempt.
      const open = this.#currentOta(entry.component);
      if (open && open.status === "plan offered") {
        open.phases[0]!.t = t;
        this.#send("ota", open);
        return;
      }
      if (open && open.status !== "download failed") {
        open.done = true;
      }
      if (open && open.status === "download failed") {
        // The platform offers again after a silent failure: the same OTA goes on.
        this.#phase(open, "plan offered", t, entry.detail ?? "");
        return;
      }
      const ota: Ota = {
        id: (this.#otas[this.#otas.length - 1]?.id ?? 0) + 1,
        connection: this.#connection(t).id,
        device: entry.device,
        component: entry.component,
        targetVersion: entry.targetVersion ?? "",
        status: "plan offered",
        percent: 0,
        phases: [],
        done: false,
      };
      this.#otas.push(ota);
      if (this.#otas.length > HISTORY_LIMIT) this.#otas.shift();
      this.#phase(ota, "plan offered", t, entry.detail ?? "");
      return;
    }
    const ota = this.#currentOta(entry.component);
    if (!ota) return;
    switch (entry.event) {
      case "refused":
        this.#phase(ota, "refused", t, entry.reason ?? "");
        ota.done = true;
        this.#final = { t, ok: false, text: `${ota.component} ${ota.targetVersion}: refused by the device` };
        this.#send("final", this.#final);
        break;
      case "confirmed":
        this.#phase(ota, "start download", t, "the device confirmed (AT+QIOTUPDATE=1)");
        break;
      case "downloading":
        if (ota.status !== "downloading")
          this.#phase(ota, "downloading", t, "download information (10701/10702)");
        break;
      case "piece": {
        const last = ota.phases[ota.phases.length - 1];
        if (last) last.detail = `piece ${entry.detail ?? ""} ready in the module (10703)`;
        this.#send("ota", ota);
        break;
      }
      case "download-failed":
        this.#phase(ota, "download failed", t, entry.reason ?? "");
        this.#stopProgress();
        break;
      case "updating":
        this.#phase(ota, "updating", t, "the device is installing (10704)");
        break;
      case "success":
      case "failure": {
        const ok = entry.event === "success";
        this.#phase(
          ota,
          ok ? "update complete" : "update failed",
          t,
          ok ? "10705" : `10706 ${entry.reason ?? ""}`,
        );
        ota.done = true;
        this.#stopProgress();
        this.#final = {
          t,
          ok,
          text: `${ota.component} ${ota.targetVersion}: ${ok ? "update complete (10705)" : `update failed (10706${entry.reason ? ": " + entry.reason : ""})`}`,
        };
        this.#send("final", this.#final);
        break;
      }
    }
  }

  #currentOta(component: string): Ota | undefined {
    for (let i = this.#otas.length - 1; i >= 0; i--) {
      const ota = this.#otas[i]!;
      if (ota.component === component) return ota.done ? undefined : ota;
    }
    return undefined;
  }

  #phase(ota: Ota, name: OtaPhaseName, t: number, detail: string): void {
    const percent =
      name === "download complete" || name === "updating" || name === "update complete" ? 100 : ota.percent;
    ota.phases.push({ name, t, percent, detail });
    ota.status = name;
    ota.percent = percent;
    this.#send("ota", ota);
    this.#send("connections", this.#connections);
    // The page redraws its timeline at each phase.
    this.#send("timeline", { t });
  }

  #send(event: HubMessage["event"], data: unknown): void {
    for (const listener of this.#listeners) listener({ event, data });
  }
}
