// A hand-made engine context for unit tests of the engine's phases: a scripted module client, a memory store,
// a fixed clock, and every progress state and log line kept in order. Portable (Node and XS).

import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import type { BootControl } from "../../../src/boot/types.js";
import type { ModuleClient } from "../../../src/quecthing/client.js";
import { resolveConfig, type SotaEngineConfig } from "../../../src/sota/config.js";
import { newSession, type EngineContext } from "../../../src/sota/context.js";
import { OtaRecordStore } from "../../../src/sota/ota-record.js";
import { ProgressReporter } from "../../../src/sota/progress.js";

export interface FakeContext {
  ctx: EngineContext;
  kv: MemoryKeyValueStore;
  /** "state: reason" of every emit, in order. */
  states: string[];
  /** Log lines (without the "sota: " prefix), emits included. */
  logs: string[];
  /** Client calls in order: "refuse", "confirm", "signal". */
  calls: string[];
  /** What the next confirm answers. */
  confirmAnswer: string;
}

export function fakeContext(
  options: { running?: string; battery?: number; signal?: number; config?: Partial<SotaEngineConfig> } = {},
): FakeContext {
  const kv = new MemoryKeyValueStore();
  const states: string[] = [];
  const logs: string[] = [];
  const calls: string[] = [];
  const running = options.running ?? "1.0.0";
  const system = {
    restart: (): void => {},
    batteryPercent: (): number => options.battery ?? 100,
    deviceId: (): string => "dev",
    log: (message: string): void => void logs.push(message.replace(/^sota: /, "")),
  };
  const clock = { now: (): number => 1000 };
  const fake: FakeContext = {
    ctx: undefined as unknown as EngineContext,
    kv,
    states,
    logs,
    calls,
    confirmAnswer: "OK",
  };
  const client = {
    signalDbm: async (): Promise<number | undefined> => {
      calls.push("signal");
      return options.signal ?? -70;
    },
    refuse: async (): Promise<void> => void calls.push("refuse"),
    confirm: async (): Promise<string> => {
      calls.push("confirm");
      return fake.confirmAnswer;
    },
  } as unknown as ModuleClient;
  const boot = { report: { running: { version: running } } } as unknown as BootControl;
  const progress = new ProgressReporter("app", clock as never, system, () => running);
  progress.onProgress = (p): void => void states.push(`${p.state}: ${p.reason}`);
  fake.ctx = {
    client,
    boot,
    records: new OtaRecordStore(kv),
    config: resolveConfig({ component: "app", slotSize: 8192, ...options.config }),
    clock: clock as never,
    system,
    progress,
    packages: undefined,
    digests: undefined,
    session: newSession(),
    restart: (): void => {},
  };
  return fake;
}
