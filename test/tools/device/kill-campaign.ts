// The kill campaign over real processes: `sota-module` on a pty and `sota-device` as a child process, the device
// killed (SIGKILL) at seeded instants in every phase of an update and restarted on the same flash file while the
// module keeps running; checks how each update ends and counts the kills per phase. Used by the test and the script.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../../../tools/device/cli.js";
import { patternImage } from "../../../tools/device/flash-setup.js";
import { DEVICE_BIN, E2E_BAUD, MODULE_BIN, waitFor } from "./pty-harness.js";

export const COMPONENT = "mcu";
export const FROM_VERSION = "1.0.0";
export const TO_VERSION = "1.1.0";
/** Two pieces: 8 KiB (the module's free space), then 7808 bytes. */
export const IMAGE_SIZE = 16_000;
export const PIECE_SIZE = 8192;
/** Two pieces, so "between pieces" has one place in the phase order. */
const PIECES = 2;

/** The phases of an update, in time order; "confirm" is the plan's confirm, "trial confirm" the new image's. */
export const PHASES = [
  "connect",
  "offer",
  "confirm",
  "piece 1",
  "between pieces",
  "piece 2",
  "verify",
  "activate",
  "trial",
  "trial confirm",
  "report",
] as const;
export type Phase = (typeof PHASES)[number] | "done";

/** How long the device usually stays in a phase (ms): a random kill instant is drawn below this. */
const PHASE_SPAN: Record<string, number> = {
  connect: 450,
  offer: 350,
  confirm: 350,
  "between pieces": 350,
  verify: 3,
  activate: 3,
  trial: 450,
  "trial confirm": 4,
  report: 10,
};
const PIECE_SPAN = 100;

/**
 * The module's one-shot events (10701 after the confirm, each 10703 after its piece's download) come this long
 * after the device's command: longer than a device restart (a Node process start, 1.1 to 2.1 s here, plus the
 * engine's 0.4 s quiet line before echo off) plus the longest kill delay, so a kill seldom makes the device miss one.
 */
export const MODULE_GAP_MS = 3000;
/** When one is missed all the same, the module's OTA ends with 10706 and the platform pushes the plan again this soon. */
const REPUSH_MS = 3000;

/** A plan whose download information and pieces come MODULE_GAP_MS after the device asks for them. */
export function campaignPlan(): Record<string, unknown> {
  return {
    product: "pKill",
    productSecret: "killSecret",
    components: [
      {
        id: COMPONENT,
        type: "full",
        targetVersion: TO_VERSION,
        package: "image.bin",
        minBattery: 20,
        minSignal: -110,
      },
    ],
    settings: {
      productKey: "pKill",
      productSecret: "killSecret",
      bootDelayMs: 10,
      connectStepMs: 10,
      planDelayMs: 300,
      downloadInfoDelayMs: MODULE_GAP_MS,
      // The shortest piece (the last) takes MODULE_GAP_MS to download.
      downloadBytesPerSecond: Math.floor(((IMAGE_SIZE - (PIECES - 1) * PIECE_SIZE) * 1000) / MODULE_GAP_MS),
      freeSpace: PIECE_SIZE,
      maxReadLength: 1024,
      // Each command takes this long: the report waits that long for its 10705, activation for its 10704.
      latencyMs: 25,
      repushIntervalMs: REPUSH_MS,
    },
    faults: [],
  };
}

/** A small seeded generator (mulberry32): the same seed gives the same kills. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One planned kill: once the device is in `phase`, wait `delayMs`, then SIGKILL. */
export interface KillSpec {
  phase: Phase;
  delayMs: number;
}

/** Seeded kills for one update: phases drawn uniformly, in update order, each with a random instant in it. */
export function randomKills(next: () => number, count: number): KillSpec[] {
  const kills: KillSpec[] = [];
  for (let i = 0; i < count; i++) {
    const phase = PHASES[Math.floor(next() * PHASES.length)]!;
    kills.push({ phase, delayMs: Math.floor(next() * (PHASE_SPAN[phase] ?? PIECE_SPAN)) });
  }
  return kills.sort((a, b) => PHASES.indexOf(a.phase as never) - PHASES.indexOf(b.phase as never));
}

interface Line {
  at: number;
  source: "device" | "module";
  text: string;
  /** A module line logged while a new device process had printed nothing yet: the killed one's doing. */
  stale?: boolean;
}

/** The line the harness records when it starts a device process. */
const PROCESS_START = "(device process started)";

/** Follows the update's phase from the device's --json/--verbose lines and the module's exchange log. */
class PhaseTracker {
  phase: Phase = "connect";
  #trialBoot = false;

  feed(line: Line): void {
    const text = line.text;
    if (line.stale) return;
    if (line.source === "module") {
      // A piece phase starts at its first read: until the device has the 10703's window in its record, a reset
      // loses the window with the event (the device waits for the next one), like a reset during the download.
      const read = /read {7}read (\d+)\+\d+/.exec(text);
      if (read) this.phase = `piece ${Math.floor(Number(read[1]) / PIECE_SIZE) + 1}` as Phase;
      else if (text.includes("dev → mod  AT+QIOTUPDATE=2")) this.phase = "between pieces";
      else if (text.includes("dev → mod  AT+QIOTUPDATE=3")) this.phase = "activate";
      else if (text.includes(`dev → mod  AT+QIOTMCUVER="${COMPONENT}","${TO_VERSION}"`))
        this.phase = "report";
      else if (text.includes("+QIOTEVT: 7,10705")) this.phase = "done";
      return;
    }
    if (text === PROCESS_START) {
      // A new process boots: its start-up is the connect phase until its lines say more.
      this.phase = "connect";
      this.#trialBoot = false;
      return;
    }
    const boot = /boot: slot \d+ \S+ \S+ \((\w[\w-]*)\)/.exec(text);
    if (boot) {
      this.#trialBoot = boot[1] === "trial";
      if (this.#trialBoot) this.phase = "trial";
      return;
    }
    if (!text.startsWith("{")) return;
    let object: { event?: string; state?: string; runningVersion?: string; message?: string };
    try {
      object = JSON.parse(text) as typeof object;
    } catch {
      return;
    }
    if (object.event === "note" && object.message) {
      this.feed({ ...line, text: object.message });
      return;
    }
    if (object.event !== "progress") return;
    const state = object.state ?? "";
    const current = this.phase;
    if (state === "starting" || state === "connecting") this.phase = this.#trialBoot ? "trial" : "connect";
    else if (state === "online" || state === "requesting" || state === "offered") {
      if (current !== "done") this.phase = "offer";
    } else if (state === "confirmed") this.phase = "confirm";
    else if (state === "verifying") this.phase = "verify";
    else if (state === "activating" || state === "updating" || state === "restarting")
      this.phase = "activate";
    // "trial confirm" lasts until the module has the new version's report (the confirm is then behind it).
    else if (state === "trial") this.phase = "trial confirm";
    else if (state === "updated") this.phase = "done";
  }
}

/** `sota-module --pty` with every output line handed over as it arrives. */
async function startModule(
  dir: string,
  onLine: (text: string) => void,
): Promise<{ devicePath: string; events: () => string[]; stop: () => Promise<void> }> {
  const planFile = path.join(dir, "plan.json");
  fs.writeFileSync(planFile, JSON.stringify(campaignPlan(), null, 2));
  fs.writeFileSync(path.join(dir, "image.bin"), patternImage(COMPONENT, TO_VERSION, IMAGE_SIZE));
  const devicePath = path.join(dir, "tty");
  const logFile = path.join(dir, "monitor.jsonl");
  const child = spawn(
    process.execPath,
    [MODULE_BIN, "--plan", planFile, "--pty", devicePath, "--baud", String(E2E_BAUD), "--log", logFile],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let ready = false;
  let output = "";
  const lines = (text: string): void => {
    output += text;
    for (;;) {
      const end = output.indexOf("\n");
      if (end < 0) break;
      const line = output.slice(0, end);
      output = output.slice(end + 1);
      if (line.includes("pty ready")) ready = true;
      onLine(line);
    }
  };
  child.stdout.setEncoding("utf8").on("data", lines);
  child.stderr.setEncoding("utf8").on("data", lines);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitFor(() => ready || child.exitCode !== null, 15_000, "sota-module's pty");
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  if (child.exitCode !== null) throw new Error(`sota-module exited (${child.exitCode})`);
  return {
    devicePath,
    events: () =>
      fs.existsSync(logFile)
        ? fs
            .readFileSync(logFile, "utf8")
            .split("\n")
            .filter((l) => l.trim() !== "")
            .map((l) => String((JSON.parse(l) as { event: string }).event))
        : [],
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

export interface UpdateOutcome {
  /** The phase each kill landed in (as the device's and module's lines showed it at the kill). */
  kills: Phase[];
  /** What went wrong (empty when the update ended as it must). */
  problems: string[];
  /** Device processes started (kills + 1). */
  starts: number;
  /** Trials rolled back because a kill came before their confirm (each costs one 10706 and a new download). */
  rollbacks: number;
  /** 10701 / 10703 the module printed while the device restarted (each may cost a 10706 and a re-push). */
  lost: number;
  /** Bytes read more than once (never inside a verified prefix). */
  rereadBytes: number;
  seconds: number;
}

export interface UpdateOptions {
  kills: KillSpec[];
  /** Give up on the update after this long (ms). */
  timeoutMs?: number;
  log?: (text: string) => void;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * One update 1.0.0 -> 1.1.0 on a fresh flash file with `kills` along the way; the device is restarted at once
 * after each kill. Ends when the module logged success and the device runs the new version, or at the timeout.
 */
export async function runKilledUpdate(options: UpdateOptions): Promise<UpdateOutcome> {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-kill-"));
  const flash = path.join(dir, "dev.flash");
  const tracker = new PhaseTracker();
  const problems: string[] = [];
  const landed: Phase[] = [];
  const history: Line[] = [];
  /** Per device process: the verified prefix it resumed from and the reads it made. */
  const processes: Array<{
    verified: number;
    reads: Array<[number, number]>;
    /** The phase of the kill that ended the process before this one. */
    after: Phase | undefined;
    /** It said it resumes reading the piece window its record holds. */
    resumed: boolean;
    /** When the process before it was killed. */
    killedAt: number;
    /** It printed a line (so module lines from now on are its doing). */
    spoke: boolean;
  }> = [];
  let lastKill = 0;
  let device: ChildProcess | undefined;
  let deviceDone: Promise<void> = Promise.resolve();
  let updated = false;
  /** The armed kill's check, run on every line (true once it fired or gave up). */
  let trigger: (() => boolean) | undefined;
  const feed = (line: Line): void => {
    const newest = processes[processes.length - 1];
    if (line.source === "module" && newest && !newest.spoke) line.stale = true;
    history.push(line);
    tracker.feed(line);
    if (trigger?.()) trigger = undefined;
    options.log?.(
      `${((line.at - started) / 1000).toFixed(3)} ${line.source === "module" ? "M" : "D"} ${line.text}`,
    );
    const current = processes[processes.length - 1];
    if (line.source === "module") {
      const read = /read {7}read (\d+)\+(\d+) → (\d+) bytes/.exec(line.text);
      // A read the killed process sent just before it died is logged after the module's latency: until the new
      // process printed anything (a process start takes over a second), reads are the previous one's.
      const reader = current?.spoke ? current : (processes[processes.length - 2] ?? current);
      if (read && reader) reader.reads.push([Number(read[1]), Number(read[3])]);
      return;
    }
    if (current && line.text !== PROCESS_START) current.spoke = true;
    const resumable = /resumable image \S+: (\d+) bytes verified/.exec(line.text);
    if (resumable && current) current.verified = Number(resumable[1]);
    if (current && line.text.includes("sota: resuming the piece ")) current.resumed = true;
    // Done from the device's side: the trial confirmed (updated), or the confirmed image's report went out again
    // after a kill (a 10705 printed while the device restarted is gone; the module logged it all the same).
    if (
      line.text.includes('"state":"updated"') ||
      line.text.includes(`sota: reporting: AT+QIOTMCUVER ${COMPONENT} ${TO_VERSION}`)
    )
      updated = true;
  };
  const module = await startModule(dir, (text) => feed({ at: Date.now(), source: "module", text }));

  const startDevice = (): void => {
    processes.push({
      verified: 0,
      reads: [],
      after: landed[landed.length - 1],
      resumed: false,
      killedAt: lastKill,
      spoke: false,
    });
    updated = false;
    feed({ at: Date.now(), source: "device", text: PROCESS_START });
    const child = spawn(
      process.execPath,
      [
        DEVICE_BIN,
        "run",
        "--baud",
        String(E2E_BAUD),
        "--port",
        module.devicePath,
        "--flash",
        flash,
        "--component",
        COMPONENT,
        "--version",
        FROM_VERSION,
        "--slot-size",
        "65536",
        "--json",
        "--verbose",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    device = child;
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream.setEncoding("utf8").on("data", (text: string) => {
        rest += text;
        for (;;) {
          const end = rest.indexOf("\n");
          if (end < 0) break;
          feed({ at: Date.now(), source: "device", text: rest.slice(0, end) });
          rest = rest.slice(end + 1);
        }
      });
    }
    deviceDone = new Promise<void>((resolve) => child.once("close", () => resolve()));
  };

  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = started + timeoutMs;
  const finished = (): boolean => updated && module.events().includes("success");
  try {
    startDevice();
    for (const kill of options.kills) {
      const target = PHASES.indexOf(kill.phase as never);
      // Armed on the lines as they arrive, so a phase of a few milliseconds is not missed between two polls.
      const fired = await new Promise<boolean>((resolve) => {
        const check = (): boolean => {
          if (tracker.phase === kill.phase) {
            if (kill.delayMs === 0) resolve(true);
            else setTimeout(() => resolve(true), kill.delayMs);
            return true;
          }
          if (tracker.phase === "done" || PHASES.indexOf(tracker.phase as never) > target) {
            resolve(false);
            return true;
          }
          if (Date.now() > deadline) {
            resolve(false);
            return true;
          }
          return false;
        };
        if (!check()) {
          trigger = check;
          const timer = setInterval(() => {
            if (trigger === check && check()) trigger = undefined;
            if (trigger !== check) clearInterval(timer);
          }, 50);
        }
      });
      trigger = undefined;
      if (!fired || finished()) continue;
      device!.kill("SIGKILL");
      const killedAt = Date.now();
      lastKill = killedAt;
      await deviceDone;
      // The phase the device was in when it died: everything it printed, nothing the module did afterwards.
      const replay = new PhaseTracker();
      for (const line of history) if (line.source === "device" || line.at <= killedAt) replay.feed(line);
      landed.push(replay.phase);
      startDevice();
    }
    await waitFor(
      () => finished() || Date.now() > deadline,
      Math.max(0, deadline - Date.now()) + 1000,
      "the update",
    );
    if (!finished()) problems.push(`no success within ${timeoutMs} ms (phase ${tracker.phase})`);
  } finally {
    device?.kill("SIGTERM");
    await deviceDone;
    await module.stop();
  }

  // The served image runs, confirmed, at the target version.
  let out = "";
  let err = "";
  const code = await main(["status", "--flash", flash, "--json"], {
    stdout: { write: (t) => void (out += t) },
    stderr: { write: (t) => void (err += t) },
  });
  if (code !== 0) problems.push(`status failed: ${err.trim()}`);
  else {
    const status = JSON.parse(out) as {
      running: { slot: number; version: string; sha256: string };
      trial: boolean;
      slots: Array<{ slot: number; state: string }>;
    };
    const want = sha256(patternImage(COMPONENT, TO_VERSION, IMAGE_SIZE));
    if (status.running.version !== TO_VERSION || status.running.sha256 !== want)
      problems.push(
        `status runs ${status.running.version} ${status.running.sha256}, not ${TO_VERSION} ${want}`,
      );
    if (status.trial || status.slots[status.running.slot]?.state !== "confirmed")
      problems.push(`the running image is not confirmed (${JSON.stringify(status.slots)})`);
  }
  const events = module.events();
  if (!events.includes("success")) problems.push(`no success in the monitoring log: ${events.join(",")}`);
  // One trial boot (boot control's default): a reset before the trial's confirm looks exactly like a crashing
  // image, so the next start rolls back and reports the old version (10706); the re-offer installs it again.
  const rollbacks = history.filter((l) =>
    /sota: failed: rolled back to \S+: trial not confirmed/.test(l.text),
  ).length;
  const trialKills = landed.filter((phase) => phase === "trial" || phase === "trial confirm").length;
  // A one-shot event printed while the device restarted is gone (a reset MCU's UART starts empty): without 10701
  // nothing can be verified, without a 10703 the window is unknown; the OTA ends with 10706, the re-push completes it.
  const lost = history.filter(
    (l) => l.stale && l.source === "module" && /mod → dev {2}\+QIOTEVT: 7,1070[13],/.test(l.text),
  ).length;
  const failures = events.filter((event) => event === "failure").length;
  if (failures > rollbacks + lost || failures < rollbacks)
    problems.push(
      `${failures} 10706 (failure) in the monitoring log, ${rollbacks} from a killed trial, ${lost} events lost in a restart: ${events.join(",")}`,
    );
  if (rollbacks > trialKills)
    problems.push(`${rollbacks} rollbacks for ${trialKills} kills during the trial`);

  // No verified sector read twice: each process reads only past the prefix it resumed with.
  let rereadBytes = 0;
  const seen = new Uint8Array(IMAGE_SIZE);
  processes.forEach((p, index) => {
    for (const [start, length] of p.reads) {
      if (start < p.verified)
        problems.push(
          `process ${index + 1} read ${start}+${length} inside its verified prefix of ${p.verified}`,
        );
      for (let i = start; i < start + length && i < IMAGE_SIZE; i++) if (seen[i]++ > 0) rereadBytes++;
    }
  });
  // The first case: a kill while reading a piece; the restart reads on at once from its verified prefix.
  processes.forEach((p, index) => {
    if (!p.after?.startsWith("piece ")) return;
    // Killed just as its QIOTUPDATE=2 left (the module logged it after the kill): then no window to read on in.
    const advancing = history.some(
      (l) =>
        l.source === "module" &&
        l.at >= p.killedAt &&
        l.at <= p.killedAt + 50 &&
        l.text.includes("AT+QIOTUPDATE=2"),
    );
    if (advancing && !p.resumed) return;
    if (!p.resumed || p.reads[0]?.[0] !== p.verified)
      problems.push(
        `process ${index + 1}, after a kill in ${p.after}: resumed ${p.resumed}, first read ${p.reads[0]?.[0]}, verified ${p.verified}`,
      );
  });
  if (problems.length > 0) {
    const tail = history
      .slice(-60)
      .map((l) => `${((l.at - started) / 1000).toFixed(3)} ${l.source} ${l.text}`);
    problems.push(`last lines:\n${tail.join("\n")}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    kills: landed,
    problems,
    starts: processes.length,
    rollbacks,
    lost,
    rereadBytes,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Kills per phase as a table (every phase listed, zeros included). */
export function formatKillTable(counts: Map<Phase, number>): string {
  const rows = [...PHASES, "done" as const].map(
    (phase) => [phase === "done" ? "after 10705" : phase, counts.get(phase) ?? 0] as const,
  );
  const total = rows.reduce((sum, [, n]) => sum + n, 0);
  const width = Math.max(...rows.map(([p]) => p.length), 5);
  return [
    `${"phase".padEnd(width)}  kills`,
    `${"-".repeat(width)}  -----`,
    ...rows.map(([phase, n]) => `${phase.padEnd(width)}  ${String(n).padStart(5)}`),
    `${"total".padEnd(width)}  ${String(total).padStart(5)}`,
  ].join("\n");
}

/** Narrow phases (a few milliseconds): the targeted kill fires on the phase's first line. */
const NARROW = new Set<string>(["verify", "activate", "trial confirm", "report"]);

/** One kill per phase, each at a seeded instant early in it: the short campaign of the test suite. */
export function targetedKills(next: () => number): KillSpec[] {
  return PHASES.map((phase) => ({
    phase,
    delayMs: NARROW.has(phase) ? 0 : Math.floor(next() * Math.min(PHASE_SPAN[phase] ?? PIECE_SPAN, 60)),
  }));
}

export interface CampaignOptions {
  seed: number;
  /** Stop once this many kills landed. */
  kills: number;
  /** Kills planned per update (default 5); `targeted` plans one per phase instead. */
  perUpdate?: number;
  targeted?: boolean;
  /** Progress lines (one per update). */
  log?: (text: string) => void;
  /** Every line of both processes (very verbose). */
  trace?: (text: string) => void;
}

export interface CampaignResult {
  seed: number;
  updates: number;
  counts: Map<Phase, number>;
  kills: number;
  rollbacks: number;
  lost: number;
  rereadBytes: number;
  /** Problems of every update, each prefixed with the update's number. */
  problems: string[];
  seconds: number;
}

/** Updates with seeded kills until `kills` landed (or a targeted campaign covered every phase, at most 3 updates). */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const next = random(options.seed);
  const started = Date.now();
  const result: CampaignResult = {
    seed: options.seed,
    updates: 0,
    counts: new Map(),
    kills: 0,
    rollbacks: 0,
    lost: 0,
    rereadBytes: 0,
    problems: [],
    seconds: 0,
  };
  const missing = (): Phase[] => PHASES.filter((phase) => !result.counts.has(phase));
  while (options.targeted ? missing().length > 0 && result.updates < 3 : result.kills < options.kills) {
    const kills = options.targeted
      ? targetedKills(next).filter((k) => missing().includes(k.phase))
      : randomKills(next, Math.min(options.perUpdate ?? 5, options.kills - result.kills));
    const outcome = await runKilledUpdate({ kills, log: options.trace });
    result.updates++;
    for (const phase of outcome.kills) result.counts.set(phase, (result.counts.get(phase) ?? 0) + 1);
    result.kills += outcome.kills.length;
    result.rollbacks += outcome.rollbacks;
    result.lost += outcome.lost;
    result.rereadBytes += outcome.rereadBytes;
    for (const problem of outcome.problems) result.problems.push(`update ${result.updates}: ${problem}`);
    options.log?.(
      `update ${result.updates}: ${outcome.kills.length} kills (${outcome.kills.join(", ")}), ${outcome.rollbacks} rollbacks, ${outcome.lost} lost events, ${outcome.seconds.toFixed(1)} s${outcome.problems.length ? ", PROBLEMS" : ", ok"}`,
    );
    // An update that failed says all there is to say about this seed.
    if (outcome.problems.length > 0) break;
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/** The table and a summary line, as the test and the script print them. */
export function formatCampaign(result: CampaignResult): string {
  return [
    formatKillTable(result.counts),
    `seed ${result.seed}: ${result.kills} kills over ${result.updates} updates, ` +
      (result.problems.length === 0
        ? `all ended running ${TO_VERSION} confirmed with 10705`
        : `${result.problems.length} PROBLEMS`) +
      ` (${result.rollbacks} trial rollbacks, each one 10706 then a new download; ${result.lost} module events printed while the device restarted)` +
      `; ${result.rereadBytes} bytes read twice, none verified; ${result.seconds.toFixed(0)} s`,
  ].join("\n");
}
