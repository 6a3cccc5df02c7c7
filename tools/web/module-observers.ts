// What `sota-module --web PORT [--web-host H]` and `--timeline FILE.svg` add to the module, behind one call from the
// CLI: the monitoring page's hub and server, the timeline recorder, and the plan reload the page asks for.

import fs from "node:fs";
import path from "node:path";
import type { MonitorLog } from "../module/monitor.js";
import { parsePlan } from "../module/plan.js";
import type { Plan } from "../module/plan.js";
import type { Fault } from "../module/faults.js";
import type { TraceEntry } from "../module/virtual-module.js";
import { TimelineRecorder } from "../timeline/events.js";
import { timelineSvg } from "../timeline/svg.js";
import { MonitorHub } from "./hub.js";
import { startWebServer } from "./server.js";
import type { WebServer } from "./server.js";

/** About a hundred 1 MiB updates' worth of trace lines (three per read). */
const EVENT_LIMIT = 300_000;

export interface ModuleObserverOptions {
  /** `--web`: the port (0 = any free one). */
  web?: string | undefined;
  "web-host"?: string | undefined;
  /** `--timeline`: the SVG file written when the module stops. */
  timeline?: string | undefined;
  planFile: string;
  /** The plan and packages the module serves: a reload replaces their contents in place. */
  plan: Plan;
  packages: Map<string, Uint8Array>;
  /** The command line's faults (the plan's are in `plan.faults`). */
  faults: readonly Fault[];
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface ModuleObservers {
  /** Feed every module trace entry here. */
  trace(entry: TraceEntry): void;
  /**
   * Subscribes to the module's monitoring log and reads its device id; `powerOnTime` is the module clock's time at
   * power-on (monitoring entries count from it, trace entries carry the clock's own time).
   */
  attach(module: { monitor: MonitorLog; settings: { deviceId: string } }, powerOnTime: number): void;
  /** Writes the timeline file and closes the page's server. */
  close(): Promise<void>;
  server: WebServer | undefined;
}

/** A usage error (exit 2) or a server that cannot start (exit 1) comes back as the exit code, after a message. */
export async function startModuleObservers(
  options: ModuleObserverOptions,
): Promise<ModuleObservers | number> {
  let port: number | undefined;
  if (options.web !== undefined) {
    if (!/^\d+$/.test(options.web) || Number(options.web) > 65535) {
      options.err(`sota-module: --web: expected a port number 0-65535, got "${options.web}"\n`);
      return 1;
    }
    port = Number(options.web);
  } else if (options["web-host"] !== undefined) {
    options.err(`sota-module: --web-host needs --web PORT\n`);
    return 1;
  }
  const timelineFile = options.timeline;
  if (timelineFile !== undefined && !fs.existsSync(path.dirname(path.resolve(timelineFile)))) {
    options.err(
      `sota-module: --timeline: folder ${path.dirname(path.resolve(timelineFile))} does not exist\n`,
    );
    return 1;
  }
  const recorder =
    timelineFile !== undefined || port !== undefined
      ? new TimelineRecorder(() => performance.now())
      : undefined;
  const hub = port !== undefined ? new MonitorHub() : undefined;
  const sizes = (c: { package: string }) => options.packages.get(c.package)?.length ?? 0;
  hub?.setPlans(options.plan.components, sizes);
  hub?.setArmedFaults([...options.plan.faults, ...options.faults].map((f) => JSON.stringify(f)));

  let server: WebServer | undefined;
  if (hub && port !== undefined) {
    try {
      server = await startWebServer({
        hub,
        port,
        ...(options["web-host"] !== undefined ? { host: options["web-host"] } : {}),
        timeline: () => timelineSvg(recorder!.events),
        reloadPlan: async () => {
          const outcome = reloadPlan(options.planFile, options.plan, options.packages);
          hub.planMessage(outcome.ok, outcome.message);
          if (outcome.ok) hub.setPlans(options.plan.components, sizes);
          (outcome.ok ? options.out : options.err)(`sota-module: ${outcome.message}\n`);
          return outcome;
        },
      });
    } catch (error) {
      options.err(`sota-module: ${(error as Error).message}\n`);
      // A port in use is an I/O error (exit 1), like a serial port that cannot open.
      return 1;
    }
    options.out(`monitoring page: ${server.url}\n`);
  }

  return {
    server,
    trace(entry) {
      // A module serving for days: the timeline keeps the most recent events.
      if (recorder && recorder.events.length > EVENT_LIMIT) recorder.events.splice(0, EVENT_LIMIT / 2);
      recorder?.trace(entry);
      hub?.trace(entry);
    },
    attach(module, powerOnTime) {
      hub?.setDeviceId(module.settings.deviceId);
      module.monitor.subscribe((entry) => {
        const onClock = { ...entry, time: entry.time + powerOnTime };
        recorder?.monitor(onClock);
        hub?.monitor(onClock);
      });
    },
    async close() {
      if (timelineFile !== undefined && recorder) {
        try {
          fs.writeFileSync(timelineFile, timelineSvg(recorder.events));
          options.out(`timeline: ${timelineFile}\n`);
        } catch (error) {
          options.err(`sota-module: --timeline: ${(error as Error).message}\n`);
        }
      }
      await server?.close();
    },
  };
}

/**
 * Reads the plan file again. A good plan replaces the components (and product) the module serves, in place; an
 * error changes nothing. Settings and faults are read at start-up only.
 */
export function reloadPlan(
  planFile: string,
  plan: Plan,
  packages: Map<string, Uint8Array>,
): { ok: boolean; message: string } {
  let next: Plan;
  const loaded = new Map<string, Uint8Array>();
  try {
    next = parsePlan(fs.readFileSync(planFile, "utf8"));
    const dir = path.dirname(path.resolve(planFile));
    for (const c of next.components) {
      const bytes = new Uint8Array(fs.readFileSync(path.resolve(dir, c.package)));
      const before = packages.get(c.package);
      // The module keeps each package's digests by name: new bytes need a new name.
      if (before && (before.length !== bytes.length || before.some((b, i) => b !== bytes[i])))
        throw new Error(`package ${c.package} changed on disk: give the new package another file name`);
      loaded.set(c.package, bytes);
    }
  } catch (error) {
    return {
      ok: false,
      message: `plan reload failed, still serving the previous plan: ${(error as Error).message}`,
    };
  }
  plan.product = next.product;
  plan.productSecret = next.productSecret;
  plan.components.splice(0, plan.components.length, ...next.components);
  for (const [name, bytes] of loaded) packages.set(name, bytes);
  const ignored =
    JSON.stringify(next.settings) !== JSON.stringify(plan.settings) ||
    JSON.stringify(next.faults) !== JSON.stringify(plan.faults)
      ? " (settings and faults changes need a restart)"
      : "";
  return {
    ok: true,
    message: `plan reloaded: ${next.components.map((c) => `${c.id} → ${c.targetVersion}`).join(", ") || "no component"}${ignored}`,
  };
}
