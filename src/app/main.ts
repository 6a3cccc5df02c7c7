// The Moddable app: wires the SOTA engine to the board of this build (ESP32, Zephyr/STM32 or the Linux simulator)
// and traces progress.

import config from "mc/config";
import { ModuleClient } from "../quecthing/client.js";
import { SotaEngine } from "../sota/engine.js";
import type { SotaEngineConfig, SotaProgress } from "../sota/engine.js";
import { AppConfigError, parseAppConfig } from "./app-config.js";
import type { AppSettings } from "./app-config.js";
import type { Board } from "./boards/board.js";
import { openEsp32Board } from "./boards/board-esp32.js";
import { openLinBoard } from "./boards/board-lin.js";
import { openZephyrBoard } from "./boards/board-zephyr.js";
import { ModdableSystem } from "../../hal/moddable/system.js";
import { packageVerifier } from "./signed-packages.js";
import { loadLogic } from "./app-logic.js";
import { ComponentStore } from "../components/set-store.js";
import { engineComponents, parseComponentsConfig } from "./components-config.js";

const raw = config as unknown as Readonly<Record<string, unknown>> & { file?: { root: string } };

/** The settings, or a trace naming the bad key and a stop (a silently unused or misread key is worse). */
function readSettings(): AppSettings {
  try {
    return parseAppConfig(raw);
  } catch (error) {
    trace(
      `sota: ${error instanceof AppConfigError ? error.message : `cannot read the config: ${String(error)}`}\n`,
    );
    throw error;
  }
}

const settings = readSettings();
// Data and mod components beside the image: the top-level key `sotaComponents` (components-config.ts).
const components = parseComponentsConfig(raw["sotaComponents"]);

let engine: SotaEngine | undefined;
let board: Board | undefined;
let lastTrace = "";

function traceProgress(p: SotaProgress): void {
  // The engine logs every state change through system.log; this adds the download, one line per 5 %.
  if (p.state !== "reading") return;
  const step = p.total > 0 ? Math.floor(p.percent / 5) : -1;
  const key = `${p.state}|${step}|${p.reason}`;
  if (key === lastTrace) return;
  lastTrace = key;
  const amount =
    p.total > 0 ? ` ${p.bytes}/${p.total} (${p.percent}%) ${Math.round(p.rateBytesPerSecond)} B/s` : "";
  trace(
    `sota: ${p.state} ${p.component} ${p.runningVersion}${p.targetVersion ? " -> " + p.targetVersion : ""}${amount}${p.reason ? " " + p.reason : ""}\n`,
  );
}

function start(): void {
  board =
    settings.target === "esp32"
      ? openEsp32Board(settings)
      : settings.target === "zephyr"
        ? openZephyrBoard(settings)
        : openLinBoard(settings, raw.file?.root ?? "/tmp/");
  const report = board.boot.report;
  trace(`sota: ${board.description}\n`);
  trace(
    `sota: running ${report.running.component} ${report.running.version}${report.trial ? " (trial)" : ""}${report.rollbackReason ? ", rolled back: " + report.rollbackReason : ""}\n`,
  );
  const system = new ModdableSystem({
    deviceId: settings.deviceId,
    ...(board.restart ? { reboot: board.restart } : {}),
    // Simulator: a restart re-opens the flash file, so boot control makes its start-up decision again.
    restartFallback: () => {
      engine?.stop();
      board?.close();
      start();
    },
  });
  const engineConfig: SotaEngineConfig = {
    ...settings.engine,
    component: settings.component,
    slotSize: board.slotSize,
    ...(components.length > 0 ? { components: engineComponents(components) } : {}),
  };
  const current = new SotaEngine(
    {
      client: new ModuleClient(board.serial, board.clock, {
        baud: settings.baud,
        ...(board.sinceResetMs !== undefined ? { sinceResetMs: board.sinceResetMs } : {}),
      }),
      clock: board.clock,
      boot: board.boot,
      system,
      kv: board.kv,
      packages: packageVerifier(settings, board.digests, board.slotSize),
      digests: board.digests,
      ...(components.length > 0 ? { areas: board.openAreas(components) } : {}),
    },
    engineConfig,
  );
  // After the engine settled the set (old or new, never a mix): the app's logic, from its mod when installed.
  // A staging set that wrote the mod's area (a reset inside its download): that area is no runnable mod.
  const store = new ComponentStore(board.kv);
  const mod = components.find((c) => c.kind === "mod" && store.written(c.id));
  const { logic, note } = loadLogic(mod?.id, mod ? "its update is staged, not activated yet" : "");
  trace(`sota: app logic: ${note}: ${logic.hello()}\n`);
  engine = current;
  current.onProgress = traceProgress;
  current.start().catch((error: unknown) => trace(`sota: engine stopped: ${String(error)}\n`));
}

try {
  start();
} catch (error) {
  // mcsim's own report is only "unhandled exception": say which.
  trace(`sota: cannot start: ${String(error)}\n`);
  throw error;
}
