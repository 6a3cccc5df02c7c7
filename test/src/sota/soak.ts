// The soak in virtual time: many updates in a row (each version to the next) on the simulated rig, with seeded
// random module faults and MCU resets, the chaos property's invariants after each, and a wear table at the end.
// Portable (the XS lane runs the short version); the device's flash and OTA record carry from one update to the next.

import { inspectBoot } from "../../../src/boot/generic-boot.js";
import { sealFits, sealOffset } from "../../../src/boot/records.js";
import type { BootReport } from "../../../src/boot/types.js";
import type { TraceEntry } from "../../../tools/module/virtual-module.js";
import { activationViolations, eraseBudgetViolations, rebootFaults } from "./invariants.js";
import { Rig, imageFor } from "./rig.js";

const MINUTE = 60_000;
/** As in the chaos property: long enough for the module's 10-minute re-pushes to drive several recoveries. */
const HORIZON_MS = 180 * MINUTE;
/** The engine's default: failed downloads of one version after which its offers are refused. */
const MAX_FAILURES = 3;
const BLOCK = 4096;
/** One slot size for the whole soak, so the flash carries over from one rig to the next. */
export const SOAK_SLOT_SIZE = 4 * BLOCK;
/** The engine's OTA record and version history: what the device keeps across updates besides its flash. */
const KV_KEYS = ["sota.ota", "sota.history"];
const IDLE_STATES = new Set(["online", "no-plan", "refused", "current", "failed", "requesting", "updated"]);

/** mulberry32: the soak's one source of randomness, so a seed replays every update bit for bit. */
export function soakRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function versionName(n: number): string {
  return `1.${Math.floor(n / 100)}.${n % 100}`;
}

/** What one update draws from the seed: everything needed to replay it. */
export interface SoakUpdatePlan {
  index: number;
  from: string;
  to: string;
  imageSize: number;
  settings: {
    maxReadLength: number;
    freeSpace: number;
    latencyMs: number;
    echo: boolean;
    outOfWindowRead: "error" | "zero";
    overLengthRead: "error" | "clamp";
  };
  faults: string[];
  /** MCU resets: the engine stops dead at `atMs` (virtual, from the update's start) and boots `downMs` later. */
  resets: Array<{ atMs: number; downMs: number }>;
  /** A flash power cut before operation N (torn), then a restart; undefined for none. */
  cut: { operation: number } | undefined;
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}

function int(next: () => number, min: number, max: number): number {
  return min + Math.floor(next() * (max - min + 1));
}

/** The module faults the chaos property draws from (one-shot ones; each may or may not hit this update). */
function randomFault(next: () => number): string {
  const read = int(next, 1, 30);
  switch (int(next, 0, 11)) {
    case 0:
      return `${pick(next, ["drop", "corrupt", "dup"])}:read=${read},at=${int(next, 0, 300)},len=${int(next, 1, 3)}`;
    case 1:
      return `error:cmd=${pick(next, ["QIOTOTARD", "QIOTUPDATE=1", "QIOTUPDATE=2", "QIOTUPDATE=3", "QIOTOTAREQ", "QIOTMCUVER", "QIOTSTATE"])},nth=${int(next, 1, 8)},times=${int(next, 1, 3)}`;
    case 2:
      return `reboot:read=${read}`;
    case 3:
      return `inject10706:read=${read}`;
    case 4:
      return `${pick(next, ["reboot", "inject10706", "disconnect", "burst"])}:afterMs=${int(next, 0, 20_000)}`;
    case 5:
      return `disconnect:read=${read},code=${pick(next, [10473, 10474])}`;
    case 6:
      return `burst:read=${read},count=${int(next, 1, 12)}`;
    case 7:
      return `urc-before-ok:read=${read}`;
    case 8:
      return `bad-offset:read=${read},delta=${pick(next, [-1024, -1, 1, 512])}`;
    case 9:
      return `race:ms=${int(next, 50, 800)}`;
    case 10:
      return `fail:piece=${int(next, 1, 3)},byte=${int(next, 0, 4095)},times=${int(next, 1, 3)}`;
    default:
      return `reboot:piece=${int(next, 1, 3)}`;
  }
}

/** Draws update `index` (from version `from` to `to`) from the generator. */
export function planUpdate(next: () => number, index: number, from: string, to: string): SoakUpdatePlan {
  const faults: string[] = [];
  // Most updates meet a fault or two: the soak is about the engine surviving them, update after update.
  const faultCount = pick(next, [0, 1, 1, 2]);
  for (let i = 0; i < faultCount; i++) faults.push(randomFault(next));
  const resets: SoakUpdatePlan["resets"] = [];
  const resetCount = pick(next, [0, 1, 1, 2]);
  for (let i = 0; i < resetCount; i++)
    resets.push({ atMs: int(next, 0, 12_000), downMs: int(next, 10, 2000) });
  resets.sort((a, b) => a.atMs - b.atMs);
  return {
    index,
    from,
    to,
    imageSize: int(next, 1, SOAK_SLOT_SIZE - 100),
    settings: {
      maxReadLength: int(next, 256, 1024),
      freeSpace: pick(next, [4096, 8192, 65536]),
      latencyMs: int(next, 0, 50),
      echo: next() < 0.5,
      outOfWindowRead: pick(next, ["error", "zero"] as const),
      overLengthRead: pick(next, ["error", "clamp"] as const),
    },
    faults,
    resets,
    cut: next() < 0.15 ? { operation: int(next, 1, 120) } : undefined,
  };
}

export function describePlan(p: SoakUpdatePlan): string {
  const resets = p.resets.map((r) => `${r.atMs}+${r.downMs}`).join(" ");
  return (
    `#${p.index} ${p.from} -> ${p.to}: ${p.imageSize} B, read ${p.settings.maxReadLength}, piece ${p.settings.freeSpace}, ` +
    `latency ${p.settings.latencyMs}, faults [${p.faults.join(" ")}], resets [${resets}]${p.cut ? `, cut @${p.cut.operation}` : ""}`
  );
}

/** What the device carries from one update to the next (its flash and its key-value store). */
interface DeviceState {
  flash: Uint8Array | undefined;
  kv: Map<string, string>;
}

export interface SoakUpdateResult {
  plan: SoakUpdatePlan;
  completed: boolean;
  /** The version running confirmed after the update. */
  running: string;
  violations: string[];
  /** Erases per flash block during this update. */
  erases: number[];
  /** Virtual milliseconds the update took (to 10705, or the horizon). */
  virtualMs: number;
}

/**
 * One update on a fresh rig carrying the device's flash and record: the chaos property's invariants (a whole image
 * always runs, only the running confirmed version is reported, no read between QIOTUPDATE=2 and 10703, 10705 only
 * for the confirmed new image, updated or idle at the horizon, bounded slot erases, no UART overrun).
 */
async function runUpdate(plan: SoakUpdatePlan, device: DeviceState): Promise<SoakUpdateResult> {
  const violations: string[] = [];
  const trace: TraceEntry[] = [];
  let awaitingPiece = false;
  const newImage = imageFor(plan.to, plan.imageSize);
  let oldSha = "";
  let newSha = "";
  const runningNow = (): BootReport | undefined => rig.boots[rig.boots.length - 1];
  const runningConfirmed = (): boolean => {
    const report = runningNow();
    if (!report) return false;
    const slot = inspectBoot(rig.flash, rig.layout).slots[report.running.slot];
    return slot !== undefined && slot.state === "confirmed" && slot.version === report.running.version;
  };
  const rig: Rig = new Rig({
    imageSize: plan.imageSize,
    slotSize: SOAK_SLOT_SIZE,
    component: { targetVersion: plan.to },
    packageBytes: newImage,
    settings: plan.settings,
    faults: plan.faults,
    onBoot: (report) => {
      const sha = rig.runningSha256(report);
      const image = sha === oldSha ? plan.from : sha === newSha ? plan.to : "";
      if (image === "")
        violations.push(`boot ${rig.boots.length}: slot ${report.running.slot} holds neither image`);
      else if (report.running.version !== image)
        violations.push(
          `boot ${rig.boots.length}: the report names ${report.running.version} but ${image} runs`,
        );
    },
    onCommand: (line) => {
      const version = /^AT\+QIOTMCUVER="([^"]*)","([^"]*)"$/.exec(line);
      if (!version) return;
      if (version[2] === "") violations.push(`${line}: an empty version`);
      if (version[2] === plan.to && (runningNow()?.running.version !== plan.to || !runningConfirmed()))
        violations.push(
          `${line} while ${runningNow()?.running.version} runs (confirmed: ${runningConfirmed()})`,
        );
    },
    onTrace: (entry) => {
      trace.push(entry);
      if (entry.kind === "rx" && entry.text === "AT+QIOTUPDATE=2") awaitingPiece = true;
      else if (entry.kind === "urc" && entry.text.startsWith("+QIOTEVT: 7,10703")) awaitingPiece = false;
      else if (entry.kind === "rx" && awaitingPiece && /^AT\+QIOTOTARD=\d+,\d+$/.test(entry.text))
        violations.push(`${entry.text} between AT+QIOTUPDATE=2 and the next 10703 (stale piece)`);
      else if (entry.kind === "urc" && entry.text.startsWith("+QIOTEVT: 7,10705")) {
        if (runningNow()?.running.version !== plan.to || !runningConfirmed())
          violations.push(
            `10705 while ${runningNow()?.running.version} runs (confirmed: ${runningConfirmed()})`,
          );
      }
    },
  });
  // The device as the last update left it: its flash (not counted as wear) and its record.
  if (device.flash) {
    const blocks = rig.layout.size / BLOCK;
    rig.flash.eraseBlock(0, blocks);
    for (let b = 0; b < blocks; b++) {
      const block = device.flash.subarray(b * BLOCK, (b + 1) * BLOCK);
      if (block.some((x) => x !== 0xff)) rig.flash.write(block, b * BLOCK);
    }
    rig.flash.resetStats();
    for (const [key, value] of device.kv) rig.kv.set(key, value);
  }
  oldSha = rig.sha256(device.flash ? readRunning(rig) : rig.oldImage);
  newSha = rig.sha256(newImage);

  const completed = (): boolean => rig.monitorHas("success") && rig.hasState("updated");
  if (plan.cut) rig.flash.armPowerCut(plan.cut.operation, "any", plan.cut.operation * 7919 + plan.index);
  rig.bootDevice();
  let cutHandled = false;
  const handleCut = (): void => {
    if (cutHandled || !rig.flash.cutHappened) return;
    cutHandled = true;
    rig.powerCut();
    rig.flash.powerOn();
    rig.bootDevice();
  };
  for (const reset of plan.resets) {
    await rig.runUntil(() => rig.flash.cutHappened || rig.clock.now() >= reset.atMs, HORIZON_MS);
    handleCut();
    if (rig.clock.now() < reset.atMs) await rig.runUntil(() => rig.clock.now() >= reset.atMs, HORIZON_MS);
    // An MCU reset (watchdog, brown-out): the engine stops where it is; the module and the flash go on.
    rig.powerCut();
    await rig.clock.run(reset.downMs);
    rig.bootDevice();
  }
  await rig.runUntil(() => rig.flash.cutHappened || completed(), HORIZON_MS - rig.clock.now());
  handleCut();
  await rig.runUntil(completed, HORIZON_MS - rig.clock.now());
  const virtualMs = rig.clock.now();
  // After the end: a re-push or a late timer must not undo anything.
  await rig.clock.run(11 * MINUTE);

  const done = completed();
  const final = runningNow()!;
  if (rig.monitorHas("success") && (final.running.version !== plan.to || !runningConfirmed()))
    violations.push(`10705 in the monitoring log, yet ${final.running.version} runs`);
  if (done) {
    if (!runningConfirmed() || final.running.version !== plan.to)
      violations.push("updated, but the new image is not running confirmed");
  } else {
    if (final.running.version !== plan.from)
      violations.push(`no 10705 by the horizon, yet ${final.running.version} runs`);
    const state = rig.engine?.progress.state;
    if (!state || !IDLE_STATES.has(state))
      violations.push(`no 10705 by the horizon and the engine is ${state ?? "dead"}, not idle`);
    if (!gaveUp(rig, plan.to))
      violations.push("no update by the horizon, and the engine did not give up on it");
  }
  violations.push(
    ...eraseBudgetViolations(
      rig,
      MAX_FAILURES,
      plan.resets.length + (rig.flash.cutHappened ? 1 : 0),
      rebootFaults(plan.faults),
    ),
  );
  if (rig.link.a.droppedBytes !== 0)
    violations.push(`${rig.link.a.droppedBytes} bytes dropped by the UART FIFO`);
  violations.push(...activationViolations(rig, trace));
  if (violations.length > 0) {
    const tail = <T>(list: T[], n: number): T[] => list.slice(Math.max(0, list.length - n));
    violations.push(
      `states: ${JSON.stringify(tail(rig.states, 8))}`,
      `logs: ${tail(rig.logs, 20).join(" / ")}`,
      `monitor: ${JSON.stringify(rig.module.monitor.entries.map((e) => e.event))}`,
    );
  }

  device.flash = rig.flash.snapshot();
  device.kv.clear();
  for (const key of KV_KEYS) {
    const value = rig.kv.get(key);
    if (value !== undefined) device.kv.set(key, value);
  }
  rig.powerCut();
  return {
    plan,
    completed: done,
    running: done ? plan.to : plan.from,
    violations,
    erases: rig.flash.stats.erases.slice(),
    virtualMs,
  };
}

/** The bytes of the image the carried flash runs (the "old" image of this update). */
function readRunning(rig: Rig): Uint8Array {
  const report = inspectBoot(rig.flash, rig.layout);
  const running = report.slots.find((s) => s.state === "confirmed")!;
  const bytes = new Uint8Array(running.size);
  rig.flash.read(bytes, rig.layout.slots[running.slot]!.offset);
  return bytes;
}

/** The engine refused the version for good (MAX_FAILURES failed downloads, or a rejected trial). */
function gaveUp(rig: Rig, version: string): boolean {
  const history = rig.kv.get("sota.history");
  if (!history) return false;
  const parsed = JSON.parse(history) as { version: string; failures: number; rejectedReason: string };
  return parsed.version === version && (parsed.failures >= MAX_FAILURES || parsed.rejectedReason !== "");
}

export interface SoakResult {
  seed: number;
  updates: number;
  completed: number;
  gaveUp: number;
  /** The first update with a violation (the soak stops there), or undefined. */
  failed: SoakUpdateResult | undefined;
  /** Erases per flash block over the whole soak. */
  erases: number[];
  /** Blocks each slot's images (and seals) needed, summed over the completed updates: the ideal erase count. */
  imageBlocks: number[];
  /** Updates whose download went to each slot. */
  slotUpdates: number[];
  layout: { records: number[]; journal: number[]; slots: Array<{ first: number; count: number }> };
  virtualMs: number;
}

export interface SoakOptions {
  seed: number;
  updates: number;
  /** Called after each update (for a live log). */
  onUpdate?: (result: SoakUpdateResult) => void;
}

/** Runs `updates` updates in a row from version 1.0.0; stops at the first violation. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const next = soakRandom(options.seed);
  const device: DeviceState = { flash: undefined, kv: new Map() };
  let running = versionName(0);
  let version = 0;
  const probe = new Rig({ imageSize: 1, slotSize: SOAK_SLOT_SIZE });
  const blocks = probe.layout.size / BLOCK;
  const slots = probe.layout.slots.map((s) => ({ first: s.offset / BLOCK, count: s.length / BLOCK }));
  const region = (r: { offset: number; length: number }): number[] =>
    Array.from({ length: r.length / BLOCK }, (_, k) => r.offset / BLOCK + k);
  const result: SoakResult = {
    seed: options.seed,
    updates: 0,
    completed: 0,
    gaveUp: 0,
    failed: undefined,
    erases: new Array<number>(blocks).fill(0),
    imageBlocks: slots.map(() => 0),
    slotUpdates: slots.map(() => 0),
    layout: {
      records: [...region(probe.layout.records[0]), ...region(probe.layout.records[1])],
      journal: region(probe.layout.journal),
      slots,
    },
    virtualMs: 0,
  };
  for (let i = 0; i < options.updates; i++) {
    version++;
    const plan = planUpdate(next, i + 1, running, versionName(version));
    const outcome = await runUpdate(plan, device);
    result.updates++;
    result.virtualMs += outcome.virtualMs;
    outcome.erases.forEach((n, b) => (result.erases[b]! += n));
    if (outcome.completed) {
      result.completed++;
      const slot = inspectBoot(probeFlash(device.flash!, probe), probe.layout).slots.findIndex(
        (s) => s.state === "confirmed" && s.version === plan.to,
      );
      if (slot >= 0) {
        result.imageBlocks[slot]! += blocksToWrite(probe, slot, plan.imageSize);
        result.slotUpdates[slot]!++;
      }
    } else result.gaveUp++;
    running = outcome.running;
    options.onUpdate?.(outcome);
    if (outcome.violations.length > 0) {
      result.failed = outcome;
      break;
    }
  }
  return result;
}

/** The blocks one download must erase: the image's, and the seal's at the slot's end when it fits. */
function blocksToWrite(probe: Rig, slot: number, size: number): number {
  const layout = probe.layout;
  const first = layout.slots[slot]!.offset / BLOCK;
  const blocks = new Set<number>();
  for (let b = 0; b < Math.ceil(size / BLOCK); b++) blocks.add(first + b);
  if (sealFits(layout, size)) blocks.add(Math.floor(sealOffset(layout, slot) / BLOCK));
  return blocks.size;
}

/** The probe rig's flash loaded with `bytes` (to read the boot records of a snapshot). */
function probeFlash(bytes: Uint8Array, probe: Rig): Rig["flash"] {
  const flash = probe.flash;
  flash.eraseBlock(0, probe.layout.size / BLOCK);
  for (let b = 0; b < probe.layout.size / BLOCK; b++) {
    const block = bytes.subarray(b * BLOCK, (b + 1) * BLOCK);
    if (block.some((x) => x !== 0xff)) flash.write(block, b * BLOCK);
  }
  return flash;
}

/** The wear table: erases per block over the soak, and per update, by region; the target is one erase per update. */
export function formatWear(result: SoakResult): string {
  const lines: string[] = [];
  const n = Math.max(1, result.updates);
  const row = (name: string, blocks: number[]): string => {
    const counts = blocks.map((b) => result.erases[b] ?? 0);
    const total = counts.reduce((a, b) => a + b, 0);
    const max = Math.max(0, ...counts);
    return `${name.padEnd(16)} ${String(blocks.length).padStart(6)} ${String(total).padStart(8)} ${String(max).padStart(10)} ${(max / n).toFixed(3).padStart(14)}`;
  };
  lines.push(
    `${"region".padEnd(16)} ${"blocks".padStart(6)} ${"erases".padStart(8)} ${"max/block".padStart(10)} ${"max/blk/update".padStart(14)}`,
  );
  lines.push(row("boot records", result.layout.records));
  lines.push(row("resume journal", result.layout.journal));
  result.layout.slots.forEach((slot, i) => {
    lines.push(
      row(
        `slot ${i}`,
        Array.from({ length: slot.count }, (_, k) => slot.first + k),
      ),
    );
  });
  lines.push("");
  lines.push(
    `${"slot".padEnd(6)} ${"updates".padStart(8)} ${"image blocks".padStart(13)} ${"erases".padStart(8)} ${"erases per block to write".padStart(25)}`,
  );
  result.layout.slots.forEach((slot, i) => {
    let erases = 0;
    for (let b = slot.first; b < slot.first + slot.count; b++) erases += result.erases[b] ?? 0;
    const written = result.imageBlocks[i]!;
    lines.push(
      `${String(i).padEnd(6)} ${String(result.slotUpdates[i]).padStart(8)} ${String(written).padStart(13)} ${String(erases).padStart(8)} ${(written ? erases / written : 0).toFixed(3).padStart(25)}`,
    );
  });
  lines.push("");
  lines.push("per block (erases / updates):");
  const perBlock: string[] = [];
  result.erases.forEach((count, b) => perBlock.push(`${b}:${(count / n).toFixed(2)}`));
  for (let i = 0; i < perBlock.length; i += 8) lines.push(`  ${perBlock.slice(i, i + 8).join("  ")}`);
  return lines.join("\n");
}
