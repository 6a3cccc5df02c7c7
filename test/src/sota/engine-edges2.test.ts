// The engine's loop at its rarer turns (mutation-testing survivors of engine.ts): the back-off after engine errors,
// module reboots mid-download and while idle, lost 10703s, stalls, stray events, and what each one logs. Portable.

import { openBoot } from "../../../src/boot/generic-boot.js";
import { ModuleClient } from "../../../src/quecthing/client.js";
import { SotaEngine, type SotaEngineConfig } from "../../../src/sota/engine.js";
import { OtaRecordStore } from "../../../src/sota/ota-record.js";
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;
const ONLINE_OLD = [
  "starting: echo off, buffer mode",
  "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
  `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`,
  `online: running ${OLD_VERSION}`,
];

/** The engine's log lines from index `from` on, without their time and "sota: " prefix. */
/** A 24 KiB update in 8 KiB pieces whose MCU loses power right after it first sends `command`. */
function rigCutAt(command: string): { rig: Rig; cut: () => boolean } {
  let cut = false;
  const rig: Rig = new Rig({
    imageSize: 24_576,
    settings: { freeSpace: 8192 },
    onCommand: (line) => {
      if (line === command && !cut) {
        cut = true;
        rig.clock.setTimer(() => rig.powerCut(), 0);
      }
    },
  });
  return { rig, cut: () => cut };
}

function lines(rig: Rig, from = 0): string[] {
  return rig.logs.slice(from).map((l) => l.replace(/^\d+ sota: /, ""));
}

/** The virtual time of the first log line that is `message` exactly (-1: none). */
function timeOf(rig: Rig, message: string, from = 0): number {
  const line = rig.logs.slice(from).find((l) => l.replace(/^\d+ sota: /, "") === message);
  return line === undefined ? -1 : Number(line.split(" ")[0]);
}

/** A URC on the module's side of the line, as if the module printed it. */
function inject(rig: Rig, line: string): void {
  rig.link.b.write(new TextEncoder().encode(`${line}\r\n`));
}

/** Drops the module's URC `line` (the module sends each URC in one write, framed by CR LF). */
function dropUrc(rig: Rig, line: string): void {
  const end = rig.link.b;
  const write = end.write.bind(end);
  const framed = `\r\n${line}\r\n`;
  end.write = (bytes: Uint8Array) => {
    if (bytes.length !== framed.length || String.fromCharCode(...bytes) !== framed) write(bytes);
  };
}

/** An engine of our own on the rig's flash and line (the rig's own engine is not booted): its client is ours. */
function ownEngine(
  rig: Rig,
  config: Partial<SotaEngineConfig> = {},
): { engine: SotaEngine; client: ModuleClient; logs: string[] } {
  const client = new ModuleClient(rig.link.a, rig.clock, { baud: 115_200 });
  const logs: string[] = [];
  const system = {
    restart: (): void => {},
    batteryPercent: (): number => 100,
    deviceId: (): string => "own",
    log: (message: string): void => void logs.push(message),
  };
  const boot = openBoot(rig.flash, rig.layout, rig.digests);
  const ports = { client, clock: rig.clock, boot, system, kv: rig.kv };
  const engine = new SotaEngine(ports, {
    component: "app",
    slotSize: rig.layout.slots[0]!.length,
    ...config,
  });
  return { engine, client, logs };
}

function record(rig: Rig): ReturnType<OtaRecordStore["load"]> {
  return new OtaRecordStore(rig.kv).load();
}

describe("SOTA engine edges: the loop's rarer turns", () => {
  it("engine errors back off 2, 4, 8, 16, 32 s, then 60 s at most, each reported as failed", async () => {
    // Five ATE0 attempts fail per start-up: seven start-ups fail, the eighth connects.
    const rig = new Rig({ imageSize: 4096, faults: ["error:cmd=E0,times=35"] });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("online"), 10 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    const failed = "failed: engine error: ATE0: the module answered ERROR";
    const all = lines(rig);
    deepEqual(all.slice(0, 14), Array<string[]>(7).fill(["starting: echo off, buffer mode", failed]).flat());
    deepEqual(all.slice(14, 18), ONLINE_OLD);
    const times = rig.logs.map((l) => Number(l.split(" ")[0]));
    const gaps = [];
    for (let i = 1; i + 1 < 15; i += 2) gaps.push(times[i + 1]! - times[i]!);
    deepEqual(gaps, [2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
  });

  it("a module reboot mid-read drops the piece window (no read before the next 10703), then the stall keeps the prefix", async () => {
    const rig = new Rig({ imageSize: 24_576, faults: ["reboot:read=3"] });
    rig.bootDevice();
    const restarted = "module restarted (RDY): running start-up again";
    ok(await rig.runUntil(() => lines(rig).includes(restarted), 10 * MINUTE));
    const window = record(rig)!;
    deepEqual(
      [window.stage, window.pieceStart, window.pieceLength, window.advancing],
      ["downloading", 0, 0, false],
    );
    const from = lines(rig).indexOf(restarted);
    const commandsAt = rig.commands.length;
    ok(await rig.runUntil(() => rig.hasState("updated"), 40 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    const stalled = "failed: download stalled: no 10702/10703 from the module; waiting for the next offer";
    deepEqual(lines(rig, from).slice(0, 7), [
      restarted,
      "starting: echo off, buffer mode",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      `OTA of ${NEW_VERSION} in progress (downloading): version report held back`,
      `resumable image ${NEW_VERSION}: 0 bytes verified`,
      `online: running ${OLD_VERSION}`,
      stalled,
    ]);
    // Silence for the download information's wait after start-up: the OTA is stalled, its prefix kept.
    equal(timeOf(rig, stalled) - timeOf(rig, `online: running ${OLD_VERSION}`, from), 35_000);
    // Start-up again, then nothing read until the re-pushed plan's download.
    deepEqual(rig.commands.slice(commandsAt, commandsAt + 7), [
      "ATE0",
      'AT+QIOTCFG="buffer",1',
      "AT+QIOTSTATE?",
      "AT+QIOTREG?",
      "AT+QIOTREG=1",
      "AT+CSQ",
      "AT+QIOTUPDATE=1",
    ]);
  });

  it("a stalled OTA's record says so, and the next scheduled request asks for a plan again", async () => {
    const rig = new Rig({
      imageSize: 8192,
      engine: { planIntervalMs: 20_000 },
      // The module never sends the download information and does not give up either.
      settings: { confirmTimeoutMs: 10 * MINUTE },
      faults: ["no-download-info"],
    });
    rig.bootDevice();
    const stalled = "failed: download stalled: no 10702/10703 from the module; waiting for the next offer";
    ok(await rig.runUntil(() => lines(rig).includes(stalled), 5 * MINUTE));
    equal(record(rig)?.stage, "stalled");
    // The wait counts from the decision (the offer's line quiet for 20 ms), before the confirm's erases.
    equal(timeOf(rig, stalled) - timeOf(rig, `offered: app (full) -> ${NEW_VERSION}, 8192 bytes`), 35_000);
    const from = rig.logs.length;
    ok(await rig.runUntil(() => rig.logs.length > from, 5 * MINUTE));
    // No request while the OTA was in progress (at 20 s); the one at 40 s asks again.
    equal(
      timeOf(rig, "requesting: AT+QIOTOTAREQ=1", from) - timeOf(rig, "requesting: AT+QIOTOTAREQ=1"),
      40_000,
    );
    deepEqual(
      lines(rig, rig.logs.length - 5).filter((l) => !l.startsWith("erased before the confirm")),
      [
        `offered: app (full) -> ${NEW_VERSION}, 8192 bytes`,
        `confirmed: update ${OLD_VERSION} -> ${NEW_VERSION}`,
        stalled,
        "requesting: AT+QIOTOTAREQ=1",
      ],
    );
    deepEqual(lines(rig, from), ["requesting: AT+QIOTOTAREQ=1"]);
  });

  it("a module reboot while idle runs start-up again", async () => {
    const rig = new Rig({ imageSize: 4096, component: { targetVersion: OLD_VERSION } });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("no-plan"), 5 * MINUTE));
    const from = rig.logs.length;
    rig.module.reboot();
    ok(await rig.runUntil(() => lines(rig, from).includes("requesting: AT+QIOTOTAREQ=1"), MINUTE));
    deepEqual(lines(rig, from), [
      "module restarted (RDY): running start-up again",
      ...ONLINE_OLD,
      "requesting: AT+QIOTOTAREQ=1",
    ]);
    equal(record(rig), undefined);
  });

  it("stray events while idle: logged, a piece for another component ignored, an unreadable offer refused, connection losses reconnect", async () => {
    const rig = new Rig({ imageSize: 4096, component: { targetVersion: OLD_VERSION } });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("no-plan"), 5 * MINUTE));
    const from = rig.logs.length;
    const commandsAt = rig.commands.length;
    const steps: Array<() => void> = [
      () => inject(rig, '+QIND: "FOTA","END",0'),
      () => inject(rig, "+QIOTEVT: 7,10704"),
      () => inject(rig, '+QIOTEVT: 7,10703,"gnss",1000,0,1000'),
      () => inject(rig, "+QIOTEVT: 7,10700,garbage"),
      () => inject(rig, "+QIOTEVT: 7,99999"),
      () => inject(rig, "+QIOTEVT: 6,10200"),
      () => inject(rig, "+QIOTEVT: 2,10200"),
      () => inject(rig, "+QIOTEVT: 1,10422"),
      () => rig.module.loseConnection(10473),
      // A piece of ours with no download information at all: the OTA is ended, the engine serves on.
      () => inject(rig, '+QIOTEVT: 7,10703,"app",1000,0,1000'),
      // A bare 10702 with no OTA of ours: no stall to wait for.
      () => inject(rig, "+QIOTEVT: 7,10702"),
    ];
    for (const step of steps) {
      step();
      await rig.clock.run(5000);
    }
    await rig.clock.run(30_000);
    deepEqual(lines(rig, from), [
      "event: +QIND FOTA END 0",
      "event: OTA updating",
      'piece for another component ignored: OTA piece of "gnss" ready: bytes 0..1000 of 1000',
      "offered: +QIOTEVT: 7,10700,garbage",
      "refused: unreadable offer (7,10700: expected 6 fields, got 1)",
      'event: unrecognised line "+QIOTEVT: 7,99999": 7,99999: unknown OTA code 99999',
      "connection lost: deregistration ok: 10200 deregistered",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      "connection lost: access failed: 10473 heartbeat timeout",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      "piece of a 1000-byte file without matching download information",
      `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`,
      "failed: download information missing or for another file: aborted",
    ]);
    deepEqual(rig.commands.slice(commandsAt), [
      "AT+QIOTUPDATE=0",
      "AT+QIOTSTATE?",
      "AT+QIOTSTATE?",
      "AT+QIOTREG?",
      "AT+QIOTREG=1",
      `AT+QIOTMCUVER="app","${OLD_VERSION}"`,
    ]);
    equal(record(rig), undefined);
  });

  it("an MCU reset mid-read resumes the piece window at once and serves on (no second start-up)", async () => {
    const { rig, cut } = rigCutAt("AT+QIOTOTARD=3072,1024");
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE));
    await rig.clock.run(10);
    const from = rig.logs.length;
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 10 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    deepEqual(lines(rig, from).slice(0, 12), [
      "starting: echo off, buffer mode",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      `OTA of ${NEW_VERSION} in progress (downloading): version report held back`,
      `resumable image ${NEW_VERSION}: 0 bytes verified`,
      `online: running ${OLD_VERSION}`,
      "resuming the piece 0+8192 after a restart",
      "downloading: next piece",
      "downloading: next piece",
      "verifying: MD5 and SHA-256",
      `activating: ${rig.sha256(rig.newImage)}`,
      "restarting: booting the new image on trial",
      "stopped",
    ]);
  });

  it("a resumed piece window the module lost (it rebooted too): the reads fail, the engine serves on and asks again", async () => {
    const { rig, cut } = rigCutAt("AT+QIOTOTARD=3072,1024");
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE));
    await rig.clock.run(10);
    rig.module.reboot();
    await rig.clock.run(3000);
    const from = rig.logs.length;
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 10 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    const after = lines(rig, from);
    const i = after.indexOf("failed: read at 0 failed 8 times (ERROR); waiting for the next offer");
    ok(i > 0, JSON.stringify(after));
    deepEqual(after.slice(i - 2, i + 3), [
      "read at 0 failed (ERROR); attempt 7",
      "read at 0 failed (ERROR); attempt 8",
      "failed: read at 0 failed 8 times (ERROR); waiting for the next offer",
      "requesting: AT+QIOTOTAREQ=1",
      `offered: app (full) -> ${NEW_VERSION}, 24576 bytes`,
    ]);
    equal(after.filter((l) => l.startsWith("starting:")).length, 2, "the reset's start-up and the trial's");
  });

  it("a reset between verifying and activating: start-up activates the verified image and restarts without serving", async () => {
    let cut = false;
    const rig = new Rig({
      imageSize: 8192,
      onState: (state) => {
        if (state === "verifying" && !cut) {
          cut = true;
          rig.powerCut();
        }
      },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => cut, 10 * MINUTE));
    await rig.clock.run(10);
    equal(record(rig)?.stage, "installing");
    const from = rig.logs.length;
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 10 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    deepEqual(lines(rig, from).slice(0, 4), [
      "starting: echo off, buffer mode",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      `restarting: activating the verified ${NEW_VERSION} left by a reset`,
      // The next engine's start-up: the first one ended without "stopped" (it never served).
      "starting: echo off, buffer mode",
    ]);
    equal(rig.restarts, 1);
  });

  it("the next piece's 10703 lost in an MCU reset: ends the module's OTA and asks for the plan again at once", async () => {
    const { rig, cut } = rigCutAt("AT+QIOTUPDATE=2");
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE));
    // The 10703 comes while the MCU is down: its UART starts empty.
    await rig.clock.run(5000);
    equal(record(rig)?.advancing, true);
    const from = rig.logs.length;
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 10 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    const lost = "failed: no 10703 for the next piece (reset or failed read): asking for a plan";
    deepEqual(lines(rig, from).slice(0, 10), [
      "starting: echo off, buffer mode",
      "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
      `OTA of ${NEW_VERSION} in progress (downloading): version report held back`,
      `resumable image ${NEW_VERSION}: 8192 bytes verified`,
      `online: running ${OLD_VERSION}`,
      `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`,
      lost,
      "requesting: AT+QIOTOTAREQ=1",
      `offered: app (full) -> ${NEW_VERSION}, 24576 bytes`,
      `confirmed: update ${OLD_VERSION} -> ${NEW_VERSION}`,
    ]);
    const online = timeOf(rig, `online: running ${OLD_VERSION}`, from);
    equal(timeOf(rig, `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`, from) - online, 35_000);
    equal(timeOf(rig, "requesting: AT+QIOTOTAREQ=1", from), timeOf(rig, lost, from));
    // Not counted as a failure of that version: the record was cleared before the report ended the OTA.
    equal(new OtaRecordStore(rig.kv).history("app", NEW_VERSION).failures, 0);
  });

  it("a 10706 while waiting for the download information ends the OTA with the module's reason, counted once", async () => {
    const rig = new Rig({ imageSize: 24_576, faults: ["no-download-info"] });
    rig.bootDevice();
    const reason = "failed: the module reported failure (10706)";
    ok(await rig.runUntil(() => lines(rig).includes(reason), 10 * MINUTE), rig.logs.join("\n"));
    equal(record(rig), undefined);
    equal(new OtaRecordStore(rig.kv).history("app", NEW_VERSION).failures, 1);
  });

  it("components need the digests port; an empty list of them does not", () => {
    const rig = new Rig({ imageSize: 4096 });
    throws(
      () => ownEngine(rig, { components: [{ id: "cfg", kind: "data", area: "cfg" }] }),
      (e) => e instanceof Error && e.message === "components need the digests port",
    );
    ok(ownEngine(rig, { components: [] }).engine);
  });

  it("a client stopped under the engine ends it like stop(): one stopped, start() settles", async () => {
    const rig = new Rig({ imageSize: 4096, component: { targetVersion: OLD_VERSION } });
    const { engine, client, logs } = ownEngine(rig);
    let ended = false;
    void engine.start().then(() => (ended = true));
    ok(await rig.runUntil(() => logs.includes("sota: requesting: AT+QIOTOTAREQ=1"), MINUTE), logs.join("; "));
    client.stop();
    await rig.clock.run(1000);
    equal(ended, true);
    deepEqual(logs.slice(-2), ["sota: requesting: AT+QIOTOTAREQ=1", "sota: stopped"]);
  });

  it("offers of one task are judged together: a second 10700 within 20 ms of a quiet line joins the first", async () => {
    const app = `+QIOTEVT: 7,10700,"app","","${NEW_VERSION}",10,-110,4096`;
    const gnss = '+QIOTEVT: 7,10700,"gnss","","2.0.0",10,-110,4096';
    const refused = [
      `offered: app (full) -> ${NEW_VERSION}, 4096 bytes`,
      'refused: component "gnss" is not ours ("app")',
    ];
    // [delay of the second line's first part, its length, delay of the rest] after the first line was written.
    const cases: Array<[number, number, number]> = [
      // The first line takes 4.2 ms at 115200 baud: 10 ms of quiet, less than 20.
      [14, gnss.length + 2, 0],
      // 15 ms of quiet, 10 bytes, then 15 ms more: quiet for 20 ms only after the whole line.
      [19, 10, 35],
    ];
    for (const [first, length, rest] of cases) {
      const rig = new Rig({ imageSize: 4096, component: { targetVersion: OLD_VERSION } });
      rig.bootDevice();
      ok(await rig.runUntil(() => rig.hasState("no-plan"), 5 * MINUTE));
      const from = rig.logs.length;
      const commandsAt = rig.commands.length;
      const bytes = new TextEncoder().encode(`${gnss}\r\n`);
      inject(rig, app);
      rig.clock.setTimer(() => rig.link.b.write(bytes.subarray(0, length)), first);
      if (length < bytes.length) rig.clock.setTimer(() => rig.link.b.write(bytes.subarray(length)), rest);
      await rig.clock.run(5000);
      deepEqual(lines(rig, from), refused, `second line after ${first} ms`);
      deepEqual(rig.commands.slice(commandsAt), ["AT+CSQ", "AT+QIOTUPDATE=0"]);
    }
  });

  it("a download that goes silent: stalled 15 s after the module's last 10701 or 10702", async () => {
    // At 2000 B/s a 10702 comes every 5 s: the first failure at byte 100 sends none, the one at byte 12000 one.
    for (const [byte, news] of [
      [100, 1],
      [12_000, 2],
    ] as const) {
      const sent: number[] = [];
      const rig = new Rig({
        imageSize: 24_576,
        settings: { downloadBytesPerSecond: 2000 },
        faults: [`fail:piece=1,byte=${byte}`],
        onTrace: (e) => {
          if (/^\+QIOTEVT: 7,1070[12]/.test(e.text)) sent.push(e.time);
        },
      });
      // Late enough that a deadline computed backwards would still be a time.
      await rig.clock.run(20_000);
      rig.bootDevice();
      const stalled = "failed: download stalled: no 10702/10703 from the module; waiting for the next offer";
      ok(await rig.runUntil(() => lines(rig).includes(stalled), 5 * MINUTE), rig.logs.join("\n"));
      equal(sent.length, news, `${byte}: ${JSON.stringify(sent)}`);
      const after = timeOf(rig, stalled) - sent[news - 1]!;
      // The line's own time (a 10701 is 160 characters: 14 ms) and the loop's turn are in it.
      ok(after >= 15_000 && after < 15_020, `${byte}: stalled ${after} ms after the last news`);
      equal(record(rig)?.stage, "stalled");
    }
  });

  it("a version report that failed at start-up is repeated before the next request, but never while an OTA is stalled", async () => {
    const rig = new Rig({
      imageSize: 8192,
      engine: { planIntervalMs: 20_000 },
      settings: { confirmTimeoutMs: 10 * MINUTE },
      // Every report answered ERROR; the module knows the component from earlier firmware, so it offers anyway.
      moduleMcuList: [["app", OLD_VERSION]],
      faults: ["error:cmd=QIOTMCUVER,times=100", "no-download-info"],
    });
    rig.bootDevice();
    const stalled = "failed: download stalled: no 10702/10703 from the module; waiting for the next offer";
    ok(await rig.runUntil(() => lines(rig).includes(stalled), 5 * MINUTE));
    const from = rig.logs.length;
    await rig.clock.run(30_000);
    // Requests while stalled, and no version report before them.
    ok(lines(rig, from).includes("requesting: AT+QIOTOTAREQ=1"), JSON.stringify(lines(rig, from)));
    const reports = rig.commands.filter((c) => c.startsWith("AT+QIOTMCUVER"));
    deepEqual(reports, Array<string>(6).fill(`AT+QIOTMCUVER="app","${OLD_VERSION}"`));
    const reported = lines(rig).filter((l) => l.startsWith("reporting:") || l.startsWith("version report"));
    deepEqual(reported, [
      `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`,
      "version report answered ERROR (attempt 1)",
      "version report answered ERROR (attempt 2)",
      "version report answered ERROR (attempt 3)",
      `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`,
      "version report answered ERROR (attempt 1)",
      "version report answered ERROR (attempt 2)",
      "version report answered ERROR (attempt 3)",
    ]);
  });

  it("one sector erased ahead, then a turn of the event loop: a sleep(0) after each erase ahead and only then", async () => {
    // Past the 64 KiB erased before the confirm: sectors are left to erase ahead after the 10701.
    const rig = new Rig({
      imageSize: 100 * 1024 + 300,
      settings: { downloadBytesPerSecond: 20_000, freeSpace: 16_384 },
    });
    const { engine, client, logs } = ownEngine(rig);
    const turns: number[] = [];
    let erases = 0;
    const erase = rig.flash.eraseBlock.bind(rig.flash);
    rig.flash.eraseBlock = (start: number, end = start + 1) => {
      erases += end - start;
      erase(start, end);
    };
    const sleep = client.sleep.bind(client);
    client.sleep = (ms: number) => {
      if (ms === 0) turns.push(erases);
      return sleep(ms);
    };
    void engine.start();
    ok(
      await rig.runUntil(() => logs.some((l) => l.startsWith("sota: restarting")), 5 * MINUTE),
      logs.join("; "),
    );
    engine.stop();
    ok(turns.length >= 2, `${turns.length} turns, ${erases} erases: ${logs.join("\n")}`);
    // Each turn follows an erase the turn before it had not seen.
    for (let i = 1; i < turns.length; i++) ok(turns[i]! > turns[i - 1]!, JSON.stringify(turns));
  });

  it("erasing ahead paused for a piece that is due wakes up again when the piece is late (decision 82)", async () => {
    const rig = new Rig({
      // Sectors are left to erase when the second piece is due (about 17 are erased per piece).
      imageSize: 400 * 1024,
      settings: { downloadBytesPerSecond: 20_000, freeSpace: 16_384 },
      // The module gives up the second piece silently: no 10703 comes, only the stall ends the wait.
      faults: ["fail:piece=2,byte=1000"],
    });
    // Nor a 10702 at the piece's start: the stall counts from QIOTUPDATE=2.
    dropUrc(rig, "+QIOTEVT: 7,10702");
    const erases: number[] = [];
    const erase = rig.flash.eraseBlock.bind(rig.flash);
    rig.flash.eraseBlock = (start: number, end = start + 1) => {
      for (let b = start; b < end; b++) erases.push(rig.clock.now());
      erase(start, end);
    };
    rig.bootDevice();
    // Silence after QIOTUPDATE=2 looks like a 10703 lost in a reset: the OTA ends and the plan is asked for again.
    const ended = "failed: no 10703 for the next piece (reset or failed read): asking for a plan";
    ok(await rig.runUntil(() => lines(rig).includes(ended), 5 * MINUTE), rig.logs.join("\n"));
    const asked = timeOf(rig, "downloading: next piece");
    const endedAt = timeOf(rig, ended);
    ok(
      endedAt - asked >= 15_000 && endedAt - asked < 15_010,
      `ended ${endedAt - asked} ms after QIOTUPDATE=2`,
    );
    // The piece was due about 0.8 s after QIOTUPDATE=2 (the first piece's fetch time): erasing went on after that.
    const late = erases.filter((t) => t > asked + 1000 && t < endedAt);
    ok(
      late.length > 0,
      `${erases.length} erases, ${JSON.stringify(erases.filter((t) => t > asked))} after QIOTUPDATE=2 at ${asked}`,
    );
  });

  it("a refused image ends the OTA: no stall is waited for after it, even when the module's 10706 is lost", async () => {
    const rig = new Rig({ imageSize: 12_000, faults: ["corrupt:read=3,at=100,len=4"] });
    // The 10706 that ends the module's OTA never reaches the MCU.
    dropUrc(rig, "+QIOTEVT: 7,10706");
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("failed"), 10 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    const from = rig.logs.length;
    await rig.clock.run(MINUTE);
    deepEqual(lines(rig, from), []);
    equal(record(rig), undefined);
  });

  it("requests more often than a plan is waited for: each request restarts the wait, no 'no plan' between them", async () => {
    const rig = new Rig({
      imageSize: 4096,
      component: { targetVersion: OLD_VERSION },
      engine: { planIntervalMs: 5000, planWaitMs: 15_000 },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("online"), MINUTE));
    await rig.clock.run(22_000);
    deepEqual(lines(rig).slice(ONLINE_OLD.length), Array<string>(5).fill("requesting: AT+QIOTOTAREQ=1"));
  });
});
