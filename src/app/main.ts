// The Moddable app: wires the SOTA engine to the board of this build (ESP32 or the Linux simulator) and traces progress.

import config from "mc/config";
import { ModuleClient } from "../quecthing/client.js";
import { SotaEngine } from "../sota/engine.js";
import type { SotaEngineConfig, SotaProgress } from "../sota/engine.js";
import type { Board, BoardConfig } from "./boards/board.js";
import { openEsp32Board } from "./boards/board-esp32.js";
import { openLinBoard } from "./boards/board-lin.js";
import { ModdableSystem } from "../../hal/moddable/system.js";
import { packageVerifier } from "./signed-packages.js";
import { loadLogic } from "./app-logic.js";
import { engineComponents, parseComponentsConfig } from "./components-config.js";
import type { SignedPackageConfig } from "./signed-packages.js";

/** Engine settings not read from manifest.json config.sota: the board, the build or the code gives them. */
type FromElsewhere = "component" | "slotSize" | "healthCheck" | "components";
/** The engine settings a build may set in manifest.json config.sota (absent ones take the engine's defaults). */
type EngineSettings = Omit<SotaEngineConfig, FromElsewhere>;

// Derived from the engine's config type: a new SotaEngineConfig key is a type error here until the app handles it.
const ENGINE_SETTING_KEYS = {
  allowDowngrade: true,
  planIntervalMs: true,
  maxReadLength: true,
  planWaitMs: true,
  downloadStallMs: true,
  downloadInfoWaitMs: true,
  connectTimeoutMs: true,
  // An empty productKey/productSecret in the manifest means "leave the module's product settings alone".
  productKey: true,
  productSecret: true,
  acceptDifferential: true,
  maxFailures: true,
  trialTimeoutMs: true,
  nbIot: true,
  healthCheckTimeoutMs: true,
  flowControl: true,
} as const satisfies Record<keyof EngineSettings, true>;
const ENGINE_SETTINGS = Object.keys(ENGINE_SETTING_KEYS) as (keyof EngineSettings)[];

interface AppConfig {
  sota: BoardConfig & EngineSettings & SignedPackageConfig & { target: "esp32" | "lin"; deviceId: string };
  file?: { root: string };
}

const app = config as unknown as AppConfig;
const settings = app.sota;
// Data and mod components beside the image: the top-level key `sotaComponents` (components-config.ts).
const components = parseComponentsConfig((config as unknown as Record<string, unknown>)["sotaComponents"]);

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
      : openLinBoard(settings, app.file?.root ?? "/tmp/");
  const report = board.boot.report;
  trace(`sota: ${board.description}\n`);
  trace(
    `sota: running ${report.running.component} ${report.running.version}${report.trial ? " (trial)" : ""}${report.rollbackReason ? ", rolled back: " + report.rollbackReason : ""}\n`,
  );
  const system = new ModdableSystem({
    deviceId: settings.deviceId,
    // Simulator: a restart re-opens the flash file, so boot control makes its start-up decision again.
    restartFallback: () => {
      engine?.stop();
      board?.close();
      start();
    },
  });
  const engineConfig: SotaEngineConfig = {
    component: settings.component,
    slotSize: board.slotSize,
    ...(components.length > 0 ? { components: engineComponents(components) } : {}),
  };
  // Only the settings the manifest has: an explicit undefined would replace the engine's default.
  for (const name of ENGINE_SETTINGS) {
    const value = settings[name];
    if (value !== undefined && value !== "")
      (engineConfig as unknown as Record<string, unknown>)[name] = value;
  }
  const current = new SotaEngine(
    {
      client: new ModuleClient(board.serial, board.clock, { baud: settings.baud }),
      clock: board.clock,
      boot: board.boot,
      system,
      kv: board.kv,
      packages: packageVerifier(settings, board.digests, board.slotSize),
      ...(components.length > 0 ? { areas: board.openAreas(components), digests: board.digests } : {}),
    },
    engineConfig,
  );
  // After the engine settled the set (old or new, never a mix): the app's logic, from its mod when installed.
  const { logic, note } = loadLogic();
  trace(`sota: app logic: ${note}: ${logic.hello()}\n`);
  engine = current;
  current.onProgress = traceProgress;
  current.start().catch((error: unknown) => trace(`sota: engine stopped: ${String(error)}\n`));
}

start();
