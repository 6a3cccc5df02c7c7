// Upgrade monitoring log of the Developer Center: one entry per step per device and component, as JSON lines and a table.

export type MonitorEvent =
  | "not-offered" // the device asked (or the platform would push) but the plan has nothing for it, with the reason
  | "offered" // 10700 printed (start of an upgrade attempt)
  | "confirmed" // device sent QIOTUPDATE=1
  | "refused" // device sent QIOTUPDATE=0
  | "downloading" // download information sent (10701/10702)
  | "piece" // a piece is ready in the module (10703)
  | "download-failed" // a silent download failure (no event on the AT side)
  | "updating" // device sent QIOTUPDATE=3 (10704)
  | "success" // 10705
  | "failure"; // 10706, with the reason

export interface MonitorEntry {
  /** Milliseconds on the module's clock. */
  time: number;
  device: string;
  component: string;
  event: MonitorEvent;
  targetVersion?: string;
  /** Why it failed or was refused. */
  reason?: string;
  /** Extra facts: who started it (request/push), which piece window. */
  detail?: string;
}

const FINAL: ReadonlySet<MonitorEvent> = new Set(["success", "failure", "refused", "not-offered"]);

export class MonitorLog {
  readonly entries: MonitorEntry[] = [];
  private readonly listeners: Array<(entry: MonitorEntry) => void> = [];

  add(entry: MonitorEntry): void {
    this.entries.push(entry);
    for (const listener of this.listeners) listener(entry);
  }

  /** Calls `listener` for each later entry (e.g. to append JSON lines to a file or a stream). */
  subscribe(listener: (entry: MonitorEntry) => void): void {
    this.listeners.push(listener);
  }

  /** Events of one component, in order (handy in tests). */
  eventsOf(component: string, device?: string): MonitorEvent[] {
    return this.entries
      .filter((e) => e.component === component && (device === undefined || e.device === device))
      .map((e) => e.event);
  }

  static toJsonLine(entry: MonitorEntry): string {
    return JSON.stringify(entry);
  }

  toJsonLines(): string {
    return this.entries.map((e) => MonitorLog.toJsonLine(e) + "\n").join("");
  }

  /** Readable summary: one row per device and component. */
  table(): string {
    interface Row {
      device: string;
      component: string;
      target: string;
      offers: number;
      confirms: number;
      failures: number;
      status: string;
      reason: string;
    }
    const rows = new Map<string, Row>();
    for (const e of this.entries) {
      const key = `${e.device}\u0000${e.component}`;
      let row = rows.get(key);
      if (!row) {
        row = {
          device: e.device,
          component: e.component,
          target: "",
          offers: 0,
          confirms: 0,
          failures: 0,
          status: "",
          reason: "",
        };
        rows.set(key, row);
      }
      if (e.targetVersion) row.target = e.targetVersion;
      if (e.event === "offered") row.offers++;
      if (e.event === "confirmed") row.confirms++;
      if (e.event === "download-failed" || e.event === "failure") row.failures++;
      row.status = e.event;
      row.reason = e.reason ?? (FINAL.has(e.event) ? "" : row.reason);
    }
    const header = [
      "device",
      "component",
      "target",
      "offers",
      "confirms",
      "failures",
      "last status",
      "reason",
    ];
    const body = [...rows.values()].map((r) => [
      r.device,
      r.component,
      r.target,
      String(r.offers),
      String(r.confirms),
      String(r.failures),
      r.status,
      r.reason,
    ]);
    if (body.length === 0) return "upgrade monitoring: no plan activity\n";
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join(" | ")
        .trimEnd() + "\n";
    return line(header) + widths.map((w) => "-".repeat(w)).join("-+-") + "\n" + body.map(line).join("");
  }
}
