// The download phase (src/sota/download.ts) against a hand-made context (mutation-testing survivors): exact reads,
// erases and writes of a piece, each failure's states and record, read retries, erasing ahead and before a confirm,
// the pacing that decides when an erase may run. Portable.

import { FlashError } from "../../../hal/flash.js";
import { deepEqual, equal, rejects } from "../../lib/assert.js";
import { OtaAborted } from "../../../src/sota/context.js";
import {
  PROVISIONAL_MD5,
  eraseAhead,
  eraseAheadAt,
  eraseBeforeConfirm,
  handlePiece,
  noteFetchStart,
} from "../../../src/sota/download.js";
import { FakeReceiver, MD5, descriptor, downloadFake, record, type DownloadFake } from "./download-fake.js";

const block = (): Uint8Array => new Uint8Array(2048);

/** The ops of reading [from, to) in 1024-byte reads, one read ahead of the writes, after the erases. */
function reads(from: number, to: number): string[] {
  const out: string[] = [];
  for (let at = from; at < to; at += 1024) {
    out.push(`read ${at}+1024`);
    if (at > from) out.push(`write ${at - 1024}+1024:${(((at - 1024) * 7 + 3) & 0xff) >>> 0}`);
  }
  out.push(`write ${to - 1024}+1024:${((to - 1024) * 7 + 3) & 0xff}`);
  return out;
}

function history(f: DownloadFake): number {
  return f.ctx.records.history("app", "2.0.0").failures;
}

const reading = (at: number, n: number, times: number): string[] =>
  Array.from({ length: times }, () => `reading: piece ${at}+${n}`);

const OFFER = { component: "app", sourceVersion: "", targetVersion: "2.0.0", space: 10000 };

describe("src/sota/download edges", () => {
  it("a first piece: the record's window, one erase, reads one ahead of the writes, QIOTUPDATE=2 after the advancing flag", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    let atNext: unknown;
    const next = f.ctx.client.nextPiece.bind(f.ctx.client);
    (f.ctx.client as { nextPiece: () => Promise<string> }).nextPiece = async () => {
      atNext = f.ctx.records.load()?.advancing;
      return next();
    };
    equal(await handlePiece(f.ctx, block(), 10000, 0, 4096), "next-piece");
    deepEqual(f.ops, [
      "start 2.0.0 10000 0123",
      "limit 1024",
      "erase 0",
      "poll",
      ...reads(0, 4096),
      "QIOTUPDATE=2",
    ]);
    equal(atNext, true);
    deepEqual(f.states, [...reading(0, 4096, 5), "downloading: next piece"]);
    deepEqual(f.ctx.records.load(), record({ pieceStart: 0, pieceLength: 4096, advancing: true }));
    deepEqual([f.ctx.session.advancedFrom, f.ctx.session.readLength], [0, 1024]);
    deepEqual(f.receivers[0]!.written, [...f.data.subarray(0, 4096)]);
    deepEqual(f.logs, ["downloading: next piece"]);
    equal(f.ctx.progress.progress.bytes, 4096);
  });

  it("the read length is asked once, at most half the block; a second piece reads on without asking", async () => {
    const f = downloadFake();
    f.maxRead = 4000;
    f.ctx.records.save(record());
    await handlePiece(f.ctx, new Uint8Array(1000), 10000, 0, 1000);
    deepEqual(f.ops.slice(0, 5), ["start 2.0.0 10000 0123", "limit 500", "erase 0", "poll", "read 0+500"]);
    equal(f.ctx.session.readLength, 500);
    f.ops.length = 0;
    await handlePiece(f.ctx, new Uint8Array(1000), 10000, 1000, 600);
    deepEqual(f.ops, [
      "read 1000+500",
      "read 1500+100",
      "write 1000+500:91",
      "write 1500+100:7",
      "QIOTUPDATE=2",
    ]);
  });

  it("a late or repeated 10703 for the piece it moved past: nothing read, nothing written, no second QIOTUPDATE=2", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    await handlePiece(f.ctx, block(), 10000, 0, 4096);
    f.ops.length = 0;
    f.states.length = 0;
    f.logs.length = 0;
    equal(await handlePiece(f.ctx, block(), 10000, 0, 4096), "next-piece");
    deepEqual([f.ops, f.states, f.logs], [[], [], ["10703 for the piece at 0 again: ignored"]]);
    equal(f.ctx.records.load()?.advancing, true);
  });

  for (const [name, stored, size] of [
    ["no record", undefined, 10000],
    ["a record for another size", record(), 9999],
    ["a record without digests", record({ md5: "" }), 10000],
  ] as const) {
    it(`a piece with ${name}: the running version reported, the OTA ended, nothing read`, async () => {
      const f = downloadFake();
      if (stored) f.ctx.records.save(stored);
      await rejects(() => handlePiece(f.ctx, block(), size, 0, 4096), OtaAborted);
      deepEqual(f.ops, ["report app 1.0.0"]);
      deepEqual(f.logs[0], `piece of a ${size}-byte file without matching download information`);
      deepEqual(f.states, [
        "reporting: AT+QIOTMCUVER app 1.0.0",
        "failed: download information missing or for another file: aborted",
      ]);
      equal(f.ctx.records.load(), undefined);
      equal(history(f), 0);
    });
  }

  it("a piece past the verified prefix (a reset lost part of the last one): the OTA starts over, nothing counted", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.ctx.session.receiver = new FakeReceiver(descriptor(), f.ops, f.clock, 50, 4096, 4096);
    await rejects(() => handlePiece(f.ctx, block(), 10000, 8192, 1808), OtaAborted);
    deepEqual(f.ops, ["report app 1.0.0"]);
    deepEqual(f.states, [
      "reporting: AT+QIOTMCUVER app 1.0.0",
      "failed: piece at 8192, but 4096 bytes verified here: starting over later",
    ]);
    deepEqual([f.ctx.records.load(), history(f)], [undefined, 0]);
  });

  it("a piece that starts at the verified prefix reads on from it", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.ctx.session.receiver = new FakeReceiver(descriptor(), f.ops, f.clock, 50, 4096, 4096);
    equal(await handlePiece(f.ctx, block(), 10000, 4096, 4096), "next-piece");
    deepEqual(f.ops.slice(0, 4), ["limit 1024", "erase 4096", "poll", "read 4096+1024"]);
  });

  for (const error of [new FlashError("bad sector", "io"), new RangeError("bad sector")]) {
    it(`a ${error.name} while writing: the receive abandoned, a failure counted, the running version reported`, async () => {
      const f = downloadFake();
      f.ctx.records.save(record());
      f.ctx.session.receiver = new FakeReceiver(descriptor(), f.ops, f.clock, 50, 4096, 0, error);
      await rejects(() => handlePiece(f.ctx, block(), 10000, 0, 4096), OtaAborted);
      deepEqual(f.ops, ["limit 1024", "abandon flash: bad sector", "report app 1.0.0"]);
      deepEqual(f.states, [
        "reading: piece 0+4096",
        "reporting: AT+QIOTMCUVER app 1.0.0",
        "failed: writing the image failed: bad sector",
      ]);
      deepEqual([f.ctx.records.load(), history(f), f.ctx.session.receiver], [undefined, 1, undefined]);
    });
  }

  it("any other error goes up as it is: the record and the receive stay", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    const receiver = new FakeReceiver(descriptor(), f.ops, f.clock, 50, 4096, 0, new TypeError("boom"));
    f.ctx.session.receiver = receiver;
    await rejects(() => handlePiece(f.ctx, block(), 10000, 0, 4096), TypeError);
    deepEqual(f.ops, ["limit 1024"]);
    deepEqual(f.ctx.records.load(), record({ pieceStart: 0, pieceLength: 4096 }));
    deepEqual([history(f), f.ctx.session.receiver === receiver], [0, true]);
  });

  it("read failures: each reason, back-off 250 ms doubling up to 8 s, ERROR halves the length, 8 failures stall the OTA", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.replies.push(
      { final: "ERROR" },
      { headerMismatch: true, start: 5, length: 9 },
      { framingError: true },
      { length: 0 },
      { start: 3 },
      { final: "TIMEOUT" },
      { final: "ERROR" },
      { final: "ERROR" },
    );
    await rejects(() => handlePiece(f.ctx, block(), 10000, 0, 4096), OtaAborted);
    deepEqual(f.ops, [
      "start 2.0.0 10000 0123",
      "limit 1024",
      "erase 0",
      "poll",
      "read 0+1024",
      "sleep 250",
      "read 0+512",
      "sleep 500",
      "read 0+512",
      "sleep 1000",
      "read 0+512",
      "sleep 2000",
      "read 0+512",
      "sleep 4000",
      "read 0+512",
      "sleep 8000",
      "read 0+512",
      "sleep 8000",
      "read 0+256",
    ]);
    deepEqual(
      f.logs.filter((l) => l.startsWith("read at")),
      [
        "read at 0 failed (ERROR); attempt 2",
        "read at 0 failed (header 5,9 for 0,512); attempt 3",
        "read at 0 failed (payload framing (a byte lost or doubled)); attempt 4",
        "read at 0 failed (no data); attempt 5",
        "read at 0 failed (no data); attempt 6",
        "read at 0 failed (TIMEOUT); attempt 7",
        "read at 0 failed (ERROR); attempt 8",
      ],
    );
    deepEqual(f.states, [
      "reading: piece 0+4096",
      "failed: read at 0 failed 8 times (ERROR); waiting for the next offer",
    ]);
    deepEqual(f.ctx.records.load(), record({ stage: "stalled", pieceStart: 0, pieceLength: 4096 }));
    deepEqual([f.ctx.session.readLength, history(f)], [256, 0]);
  });

  it("a failed read after good ones: the good bytes are written, and a good read resets the attempts", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.replies.push({}, { final: "ERROR" }, { final: "ERROR" }, {}, { final: "ERROR" });
    equal(await handlePiece(f.ctx, block(), 10000, 0, 2048), "next-piece");
    deepEqual(f.ops, [
      "start 2.0.0 10000 0123",
      "limit 1024",
      "erase 0",
      "poll",
      "read 0+1024",
      "read 1024+1024",
      "write 0+1024:3",
      "sleep 250",
      "read 1024+512",
      "sleep 500",
      "read 1024+256",
      "read 1280+256",
      "write 1024+256:3",
      "sleep 250",
      "read 1280+128",
      "read 1408+128",
      "write 1280+128:3",
      ...["read 1536+128", "write 1408+128:131", "read 1664+128", "write 1536+128:3"],
      ...["read 1792+128", "write 1664+128:131", "read 1920+128", "write 1792+128:3"],
      "write 1920+128:131",
      "QIOTUPDATE=2",
    ]);
  });

  it("an ERROR at a read length of 1 keeps it at 1", async () => {
    const f = downloadFake();
    f.maxRead = 1;
    f.ctx.records.save(record());
    f.replies.push({ final: "ERROR" }, {}, {});
    await handlePiece(f.ctx, block(), 10000, 0, 2);
    deepEqual(f.ops.slice(4), [
      "read 0+1",
      "sleep 250",
      "read 0+1",
      "read 1+1",
      "write 0+1:3",
      "write 1+1:10",
      "QIOTUPDATE=2",
    ]);
    equal(f.ctx.session.readLength, 1);
  });

  it("a 10706 between reads ends the piece: the good read written first, a failure counted, the window forgotten", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.ctx.session.advancedFrom = 5;
    let n = 0;
    const read = f.ctx.client.readBlockThen.bind(f.ctx.client);
    (f.ctx.client as { readBlockThen: typeof read }).readBlockThen = (...a) => {
      if (++n === 2) f.events.push({ kind: "update-failed" });
      read(...a);
    };
    f.events.push({ kind: "downloading" });
    await rejects(() => handlePiece(f.ctx, block(), 10000, 0, 4096), OtaAborted);
    deepEqual(f.ops.slice(4), ["read 0+1024", "read 1024+1024", "write 0+1024:3"]);
    deepEqual(f.states.slice(-1), ["failed: download interrupted: the module reported failure (10706)"]);
    deepEqual([f.ctx.records.load(), history(f), f.ctx.session.advancedFrom], [undefined, 1, -1]);
    deepEqual(f.events, [{ kind: "downloading" }]);
  });

  it("a stopped client ends the piece without writing the read waiting", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    let n = 0;
    const read = f.ctx.client.readBlockThen.bind(f.ctx.client);
    (f.ctx.client as { readBlockThen: typeof read }).readBlockThen = (...a) => {
      if (++n === 3) f.stopped = true;
      read(...a);
    };
    await rejects(
      () => handlePiece(f.ctx, block(), 10000, 0, 4096),
      (e) => (e as Error).message === "stopped",
    );
    deepEqual(f.ops.slice(4), ["read 0+1024", "read 1024+1024", "write 0+1024:3"]);
    equal(f.receivers[0]!.received, 1024);
  });

  it("a sleep that throws (the engine stopping in a back-off) ends the piece with that error", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.replies.push({}, { final: "ERROR" });
    (f.ctx.client as unknown as { sleep: () => Promise<void> }).sleep = async () => {
      throw new Error("stopped in sleep");
    };
    await rejects(
      () => handlePiece(f.ctx, block(), 10000, 0, 4096),
      (e) => (e as Error).message === "stopped in sleep",
    );
    deepEqual(f.ops.slice(4), ["read 0+1024", "read 1024+1024", "write 0+1024:3"]);
  });

  it("QIOTUPDATE=2 answered ERROR: logged, and the fetch is not timed", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.nextPieceAnswer = "ERROR";
    noteFetchStart(f.ctx, true);
    f.clock.t += 300;
    equal(await handlePiece(f.ctx, block(), 10000, 0, 4096), "next-piece");
    deepEqual(f.logs.slice(-2), ["QIOTUPDATE=2 answered ERROR", "downloading: next piece"]);
    f.clock.t += 250;
    equal(eraseAheadAt(f.ctx), 0);
  });

  it("pacing: after a timed fetch no erase may start within one erase time of the next piece's expected arrival", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    equal(eraseAheadAt(f.ctx), 0);
    noteFetchStart(f.ctx, true);
    f.clock.t += 300;
    await handlePiece(f.ctx, block(), 20000, 0, 4096);
    // The erase took 50 ms; the fetch 300 ms; the next fetch began at 1350: expected at 1650.
    equal(f.clock.t, 1350);
    const at = (t: number): number => {
      f.clock.t = t;
      return eraseAheadAt(f.ctx);
    };
    deepEqual([at(1550), at(1551), at(1650), at(1699), at(1700)], [0, 1700, 1700, 1700, 0]);
    // A file's first piece: its fetch time is unknown again.
    noteFetchStart(f.ctx, true);
    deepEqual([at(1600), at(1650), at(1960), at(2000)], [0, 0, 0, 0]);
  });

  it("pacing without a measured erase guesses 45 ms", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    f.ctx.session.receiver = new FakeReceiver(descriptor({ size: 20000 }), f.ops, f.clock, 0, 4096, 0);
    f.ctx.session.receiver.eraseStep(8192);
    f.ctx.session.receiver.eraseStep(8192);
    noteFetchStart(f.ctx, true);
    f.clock.t += 300;
    await handlePiece(f.ctx, block(), 20000, 0, 4096);
    const at = (t: number): number => {
      f.clock.t = t;
      return eraseAheadAt(f.ctx);
    };
    // Fetch began at 1300, 300 ms: expected at 1600, +-45.
    deepEqual([at(1510), at(1511), at(1644), at(1645)], [0, 1645, 1645, 0]);
  });

  it("before QIOTUPDATE=2 it erases what the last fetch time cannot hide, the seal block with the last piece", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(f.ctx, true);
    f.clock.t += 60;
    await handlePiece(f.ctx, block(), 20000, 0, 8192);
    // The next piece [8192, 16384): 2 sectors, 60 ms of fetch hide one 50-ms erase (plus a turn).
    deepEqual(f.ops.slice(-4), ["write 7168+1024:3", "erase 8192", "poll", "QIOTUPDATE=2"]);
    f.ops.length = 0;
    f.clock.t += 0;
    await handlePiece(f.ctx, block(), 20000, 8192, 8192);
    // Fetch 0 ms: the next piece [16384, 20000) is the last: its sector and the seal block, nothing hidden.
    deepEqual(f.ops.slice(0, 3), ["read 8192+1024", "read 9216+1024", "write 8192+1024:3"]);
    deepEqual(f.ops.slice(-6), [
      "write 15360+1024:3",
      "erase 16384",
      "poll",
      "erase 20480",
      "poll",
      "QIOTUPDATE=2",
    ]);
  });

  it("before QIOTUPDATE=2: nothing when the fetch hides every sector or nothing needs erasing", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(f.ctx, true);
    f.clock.t += 102;
    await handlePiece(f.ctx, block(), 20000, 0, 8192);
    deepEqual(f.ops.slice(-2), ["write 7168+1024:3", "QIOTUPDATE=2"]);
    const g = downloadFake({ size: 20000 });
    g.ctx.records.save(record({ size: 20000 }));
    g.ctx.session.receiver = new FakeReceiver(descriptor({ size: 20000 }), g.ops, g.clock, 50, 4096, 0);
    for (let i = 0; i < 5; i++) g.ctx.session.receiver.eraseStep(20000);
    g.ops.length = 0;
    noteFetchStart(g.ctx, true);
    await handlePiece(g.ctx, block(), 20000, 0, 8192);
    deepEqual(g.ops.slice(-2), ["write 7168+1024:3", "QIOTUPDATE=2"]);
  });

  it("before QIOTUPDATE=2 erasing stops after 2 s", async () => {
    const f = downloadFake({ size: 65536, config: { slotSize: 65536 } });
    f.eraseMs = 600;
    f.ctx.records.save(record({ size: 65536 }));
    noteFetchStart(f.ctx, true);
    await handlePiece(f.ctx, new Uint8Array(2048), 65536, 0, 1024);
    f.ops.length = 0;
    await handlePiece(f.ctx, new Uint8Array(2048), 65536, 1024, 32768);
    // The next piece [33792, 65536) and the seal: 9 sectors; 4 erases of 600 ms pass the 2 s.
    deepEqual(f.ops.slice(-10), [
      "write 32768+1024:3",
      "erase 36864",
      "poll",
      "erase 40960",
      "poll",
      "erase 45056",
      "poll",
      "erase 49152",
      "poll",
      "QIOTUPDATE=2",
    ]);
    equal(f.clock.t, 8800);
  });

  it("before QIOTUPDATE=2 flash trouble only stops the erasing; another error goes up", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(f.ctx, true);
    f.ctx.session.receiver = new FakeReceiver(descriptor({ size: 20000 }), f.ops, f.clock, 50);
    (f.ctx.session.receiver as FakeReceiver).eraseFailFrom = 4096;
    equal(await handlePiece(f.ctx, block(), 20000, 0, 4096), "next-piece");
    deepEqual(f.ops.slice(-2), ["write 3072+1024:3", "QIOTUPDATE=2"]);
    deepEqual(f.ctx.records.load()?.advancing, true);
    const g = downloadFake({ size: 20000 });
    g.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(g.ctx, true);
    const receiver = new FakeReceiver(descriptor({ size: 20000 }), g.ops, g.clock, 50);
    g.ctx.session.receiver = receiver;
    const write = receiver.write.bind(receiver);
    receiver.write = (bytes, length) => {
      write(bytes, length);
      if (receiver.received === 4096) receiver.failWith = new TypeError("bug");
    };
    await rejects(() => handlePiece(g.ctx, block(), 20000, 0, 4096), TypeError);
    deepEqual(g.ops.slice(-1), ["write 3072+1024:3"]);
  });

  it("erasing ahead: one sector per call on a quiet line with the port read before and after, until none is needed", () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    const calls = [
      eraseAhead(f.ctx),
      eraseAhead(f.ctx),
      eraseAhead(f.ctx),
      eraseAhead(f.ctx),
      eraseAhead(f.ctx),
    ];
    deepEqual(calls, [true, true, true, true, false]);
    deepEqual(f.ops, [
      "poll",
      "start 2.0.0 10000 0123",
      "erase 0",
      "poll",
      "poll",
      "erase 4096",
      "poll",
      "poll",
      "erase 8192",
      "poll",
      "poll",
      "erase 12288",
      "poll",
      "poll",
    ]);
  });

  for (const [name, stored] of [
    ["no record", undefined],
    ["a confirmed stage", record({ stage: "confirmed" })],
    ["a stalled stage", record({ stage: "stalled" })],
    ["no digests yet", record({ md5: "" })],
    ["a size of 0", record({ size: 0 })],
  ] as const) {
    it(`erasing ahead with ${name}: nothing, not even the port read`, () => {
      const f = downloadFake();
      if (stored) f.ctx.records.save(stored);
      equal(eraseAhead(f.ctx), false);
      deepEqual(f.ops, []);
    });
  }

  it("erasing ahead: not while the line is busy, an event waits, or the next piece is due", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.quiet = false;
    equal(eraseAhead(f.ctx), false);
    deepEqual(f.ops, []);
    f.quiet = true;
    f.eventsWaiting = true;
    equal(eraseAhead(f.ctx), false);
    deepEqual(f.ops, ["poll"]);
    f.eventsWaiting = false;
    const g = downloadFake({ size: 20000 });
    g.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(g.ctx, true);
    g.clock.t += 300;
    await handlePiece(g.ctx, block(), 20000, 0, 4096);
    g.ops.length = 0;
    g.clock.t = 1600;
    equal(eraseAhead(g.ctx), false);
    deepEqual(g.ops, ["poll"]);
    g.clock.t = 1700;
    equal(eraseAhead(g.ctx), true);
    deepEqual(g.ops, ["poll", "poll", "erase 4096", "poll"]);
  });

  it("erasing ahead on flash or bounds trouble stops quietly; another error goes up", () => {
    for (const error of [new FlashError("x", "io"), new RangeError("x")]) {
      const f = downloadFake();
      f.ctx.records.save(record());
      f.ctx.session.receiver = new FakeReceiver(descriptor(), f.ops, f.clock, 50, 4096, 0, error);
      equal(eraseAhead(f.ctx), false);
      deepEqual(f.ops, ["poll"]);
    }
    const g = downloadFake();
    g.ctx.records.save(record());
    g.ctx.session.receiver = new FakeReceiver(descriptor(), g.ops, g.clock, 50, 4096, 0, new TypeError("y"));
    let thrown: unknown;
    try {
      eraseAhead(g.ctx);
    } catch (error) {
      thrown = error;
    }
    equal(thrown instanceof TypeError, true);
  });

  it("before the confirm: a provisional receive, the first 64 KiB at most, the port read after each erase", () => {
    const f = downloadFake();
    eraseBeforeConfirm(f.ctx, OFFER);
    deepEqual(f.ops, [
      "start 2.0.0 10000 0000",
      ...["erase 0", "poll", "erase 4096", "poll", "erase 8192", "poll", "erase 12288", "poll"],
    ]);
    deepEqual(f.logs, ["erased before the confirm: 200 ms"]);
    deepEqual(f.ctx.session.receiver?.descriptor, {
      component: "app",
      version: "2.0.0",
      size: 10000,
      md5: PROVISIONAL_MD5,
      sha256: "",
      crc: 0,
    });
    const g = downloadFake({ config: { slotSize: 200000 } });
    g.eraseMs = 10;
    eraseBeforeConfirm(g.ctx, { ...OFFER, space: 200000 });
    equal(g.ops.filter((o) => o.startsWith("erase")).length, 16);
    deepEqual(g.logs, ["erased before the confirm: 160 ms"]);
  });

  it("before the confirm: erasing stops after 2 s; a re-offer of the same plan goes on, another plan's receive is kept", () => {
    const f = downloadFake({ config: { slotSize: 200000 } });
    f.eraseMs = 300;
    eraseBeforeConfirm(f.ctx, { ...OFFER, space: 100000 });
    equal(f.ops.filter((o) => o.startsWith("erase")).length, 7);
    deepEqual(f.logs, ["erased before the confirm: 2100 ms"]);
    f.ops.length = 0;
    eraseBeforeConfirm(f.ctx, { ...OFFER, space: 100000 });
    deepEqual(f.ops.slice(0, 2), ["erase 28672", "poll"]);
    equal(f.receivers.length, 1);
    f.ops.length = 0;
    for (const other of [
      { ...OFFER, space: 90000 },
      { ...OFFER, targetVersion: "2.0.1", space: 100000 },
    ])
      eraseBeforeConfirm(f.ctx, other);
    deepEqual(f.ops, []);
    const g = downloadFake();
    g.ctx.session.receiver = new FakeReceiver(
      descriptor({ md5: PROVISIONAL_MD5 }),
      g.ops,
      g.clock,
      50,
      4096,
      1,
    );
    eraseBeforeConfirm(g.ctx, OFFER);
    const h = downloadFake();
    h.ctx.session.receiver = new FakeReceiver(
      descriptor({ md5: PROVISIONAL_MD5, component: "b" }),
      h.ops,
      h.clock,
      50,
    );
    eraseBeforeConfirm(h.ctx, { ...OFFER, component: "b" });
    const k = downloadFake();
    k.ctx.session.receiver = new FakeReceiver(descriptor({ size: 10000 }), k.ops, k.clock, 50);
    eraseBeforeConfirm(k.ctx, OFFER);
    deepEqual([g.ops, h.ops, k.ops], [[], [], []]);
  });

  for (const [name, offer, options] of [
    ["a delta", { ...OFFER, sourceVersion: "1.0.0" }, {}],
    ["no space announced", { ...OFFER, space: 0 }, {}],
    ["another component", { ...OFFER, component: "b" }, {}],
    ["a plan larger than the slot", { ...OFFER, space: 65537 }, {}],
    ["no rebinding boot control", OFFER, { noRebind: true }],
    ["fast erases (100 ms per 4 KiB sector at 115200 baud is not worth it)", OFFER, { blockLength: 40960 }],
  ] as const) {
    it(`before the confirm, nothing for ${name}`, () => {
      const f = downloadFake({ ...options });
      eraseBeforeConfirm(f.ctx, offer);
      deepEqual([f.ops, f.logs, f.ctx.session.receiver], [[], [], undefined]);
    });
  }

  it("before the confirm: a plan filling the slot exactly still erases; flash trouble stops quietly", () => {
    const f = downloadFake();
    eraseBeforeConfirm(f.ctx, { ...OFFER, space: 65536 });
    equal(f.ops[0], "start 2.0.0 65536 0000");
    const g = downloadFake();
    (g.ctx.boot as unknown as { startReceive: () => never }).startReceive = () => {
      throw new FlashError("no slot", "io");
    };
    eraseBeforeConfirm(g.ctx, OFFER);
    deepEqual([g.logs, g.ctx.session.receiver], [[], undefined]);
  });

  it("the 10701's digests rebind the provisional receive; a refused rebind starts a fresh receive", async () => {
    const f = downloadFake();
    eraseBeforeConfirm(f.ctx, OFFER);
    f.rebind = (_r, d) => new FakeReceiver(d, f.ops, f.clock, 50, 4096, 0);
    f.ctx.records.save(record());
    f.ops.length = 0;
    f.logs.length = 0;
    await handlePiece(f.ctx, block(), 10000, 0, 4096);
    deepEqual(f.ops.slice(0, 3), ["rebind 0123", "limit 1024", "erase 0"]);
    equal(f.ctx.session.receiver?.descriptor.md5, MD5);
    const g = downloadFake();
    eraseBeforeConfirm(g.ctx, OFFER);
    g.ctx.records.save(record());
    g.ops.length = 0;
    g.logs.length = 0;
    await handlePiece(g.ctx, block(), 10000, 0, 4096);
    deepEqual(g.ops.slice(0, 3), ["rebind 0123", "start 2.0.0 10000 0123", "limit 1024"]);
    deepEqual(g.logs[0], "partial image 2.0.0 replaced by 2.0.0");
  });

  for (const [name, receiver, options] of [
    ["a receive with bytes in it", { received: 1 }, {}],
    ["a receive with real digests of another plan", { md5: "f".repeat(32) }, {}],
    ["a receive of another component", { component: "b" }, {}],
    ["a delta plan", { sourceVersion: "1.0.0" }, {}],
    ["a boot control that cannot rebind", {}, { noRebind: true }],
  ] as const) {
    it(`no rebinding for ${name}: a fresh receive`, async () => {
      const f = downloadFake({ ...options });
      const { received, md5, component, sourceVersion } = receiver as {
        received?: number;
        md5?: string;
        component?: string;
        sourceVersion?: string;
      };
      f.rebind = (_r, d) => new FakeReceiver(d, f.ops, f.clock, 50, 4096, 0);
      f.ctx.session.receiver = new FakeReceiver(
        descriptor({ md5: md5 ?? PROVISIONAL_MD5, component: component ?? "app", version: "1.9.0" }),
        f.ops,
        f.clock,
        50,
        4096,
        received ?? 0,
      );
      f.ctx.records.save(record({ sourceVersion: sourceVersion ?? "" }));
      await handlePiece(f.ctx, block(), 10000, 0, 4096);
      deepEqual(f.ops.slice(0, 2), ["start 2.0.0 10000 0123", "limit 1024"]);
      equal(f.logs.includes("partial image 1.9.0 replaced by 2.0.0"), true);
    });
  }

  it("the same image in work (digests in any case) is read on, not started again", async () => {
    const f = downloadFake();
    f.ctx.session.receiver = new FakeReceiver(
      descriptor({ md5: MD5.toUpperCase(), sha256: "AB".repeat(32) }),
      f.ops,
      f.clock,
      50,
    );
    f.ctx.records.save(record());
    await handlePiece(f.ctx, block(), 10000, 0, 4096);
    deepEqual(f.ops.slice(0, 2), ["limit 1024", "erase 0"]);
  });

  for (const [field, value] of [
    ["component", "b"],
    ["version", "2.0.1"],
    ["size", 10001],
    ["md5", "f".repeat(32)],
    ["sha256", "c".repeat(64)],
  ] as const) {
    it(`a receive whose ${field} differs is replaced`, async () => {
      const f = downloadFake();
      f.ctx.session.receiver = new FakeReceiver(descriptor({ [field]: value }), f.ops, f.clock, 50);
      f.ctx.records.save(record());
      await handlePiece(f.ctx, block(), 10000, 0, 4096);
      deepEqual(f.ops.slice(0, 2), ["start 2.0.0 10000 0123", "limit 1024"]);
    });
  }

  it("a 10702 without 10701 for the same plan: the record takes the partial image's digests", async () => {
    const f = downloadFake();
    f.ctx.records.save(record({ md5: "", sha256: "", size: 0, crc: 0, stage: "confirmed" }));
    f.ctx.session.receiver = new FakeReceiver(descriptor({ crc: 9 }), f.ops, f.clock, 50, 4096, 4096);
    equal(await handlePiece(f.ctx, block(), 10000, 4096, 4096), "next-piece");
    deepEqual(f.ctx.records.load(), record({ crc: 9, pieceStart: 4096, pieceLength: 4096, advancing: true }));
    deepEqual(f.ops.slice(0, 3), ["limit 1024", "erase 4096", "poll"]);
  });

  for (const [name, partial] of [
    ["another size", { size: 9999 }],
    ["a provisional receive", { md5: PROVISIONAL_MD5 }],
    ["another component", { component: "b" }],
    ["another version", { version: "2.0.1" }],
  ] as const) {
    it(`no digests taken from a partial image of ${name}: the OTA ends`, async () => {
      const f = downloadFake();
      f.ctx.records.save(record({ md5: "", sha256: "", size: 0, crc: 0, stage: "confirmed" }));
      f.ctx.session.receiver = new FakeReceiver(descriptor(partial), f.ops, f.clock, 50, 4096, 4096);
      await rejects(() => handlePiece(f.ctx, block(), 10000, 4096, 4096), OtaAborted);
      deepEqual(f.ops, ["report app 1.0.0"]);
    });
  }

  it("the last piece's reads end with the flash work left done, then the finish", async () => {
    const f = downloadFake({ size: 2048 });
    f.ctx.records.save(record({ size: 2048 }));
    const receiver = new FakeReceiver(descriptor({ size: 2048 }), f.ops, f.clock, 50);
    f.ctx.session.receiver = receiver;
    const write = receiver.write.bind(receiver);
    receiver.write = (bytes, length) => {
      write(bytes, length);
      if (receiver.received === 2048) receiver.extra = 2;
    };
    let finishing = false;
    (f.ctx.client as { finish: () => Promise<string> }).finish = async () => {
      finishing = true;
      return "ERROR";
    };
    equal(await handlePiece(f.ctx, block(), 2048, 0, 2048), "done");
    equal(finishing, true);
    deepEqual(f.ops, [
      "limit 1024",
      "erase 0",
      "poll",
      "read 0+1024",
      "erase 4096",
      "poll",
      "read 1024+1024",
      "write 0+1024:3",
      "write 1024+1024:3",
      "erase extra",
      "poll",
      "erase extra",
      "poll",
      "abandon QIOTUPDATE=3 answered ERROR",
      "report app 1.0.0",
    ]);
  });
});

describe("src/sota/download edges: pacing bounds and failures inside a window", () => {
  const at = (f: DownloadFake, t: number): number => {
    f.clock.t = t;
    return eraseAheadAt(f.ctx);
  };

  it("an untimed first piece gives no pacing to the next", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    await handlePiece(f.ctx, block(), 20000, 0, 4096);
    equal(f.clock.t, 1050);
    deepEqual([at(f, 1100), at(f, 2000), at(f, 2049)], [0, 0, 0]);
  });

  it("a piece whose QIOTUPDATE=2 failed leaves no fetch running", async () => {
    const f = downloadFake({ size: 20000 });
    f.clock.t = 0;
    f.ctx.records.save(record({ size: 20000 }));
    f.nextPieceAnswer = "ERROR";
    noteFetchStart(f.ctx, true);
    f.clock.t = 300;
    await handlePiece(f.ctx, block(), 20000, 0, 4096);
    deepEqual([f.clock.t, at(f, 350), at(f, 300)], [350, 0, 0]);
  });

  it("a check that erases nothing is no erase time: the guess stays", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    const receiver = new FakeReceiver(descriptor({ size: 20000 }), f.ops, f.clock, 0);
    receiver.stepMs = 1;
    f.ctx.session.receiver = receiver;
    noteFetchStart(f.ctx, true);
    f.clock.t += 300;
    await handlePiece(f.ctx, block(), 20000, 0, 4096);
    const t = f.clock.t;
    // The next fetch began at t, 300 ms expected: 45 ms either side.
    deepEqual([at(f, t + 210), at(f, t + 211), at(f, t + 344), at(f, t + 345)], [0, t + 345, t + 345, 0]);
  });

  for (const [name, fetchMs, eraseMs, erased] of [
    ["a guessed erase (45 ms): 46 ms of fetch hide one", 46, 0, 1],
    ["a guessed erase (45 ms): 45 ms hide none", 45, 0, 2],
    ["a measured erase (50 ms): 92 ms hide one", 92, 50, 1],
    ["a measured erase (50 ms): 101 ms hide one", 101, 50, 1],
    ["a measured erase (50 ms): 102 ms hide two", 102, 50, 0],
  ] as const) {
    it(`before QIOTUPDATE=2, ${name} of the next piece's two sectors`, async () => {
      const f = downloadFake({ size: 20000 });
      f.eraseMs = eraseMs;
      f.ctx.records.save(record({ size: 20000 }));
      noteFetchStart(f.ctx, true);
      f.clock.t += fetchMs;
      await handlePiece(f.ctx, block(), 20000, 0, 8192);
      const before = f.ops.slice(f.ops.indexOf("write 7168+1024:3") + 1, -1);
      deepEqual(
        before,
        erased === 2 ? ["erase 8192", "poll", "erase 12288", "poll"] : erased ? ["erase 8192", "poll"] : [],
      );
    });
  }

  it("before QIOTUPDATE=2 an erase that would start at 2 s does not", async () => {
    const f = downloadFake({ size: 65536, config: { slotSize: 65536 } });
    f.eraseMs = 500;
    f.ctx.records.save(record({ size: 65536 }));
    noteFetchStart(f.ctx, true);
    await handlePiece(f.ctx, block(), 65536, 0, 1024);
    f.ops.length = 0;
    await handlePiece(f.ctx, block(), 65536, 1024, 32768);
    const last = f.ops.lastIndexOf("write 32768+1024:3");
    deepEqual(
      f.ops.slice(last + 1).filter((o) => o.startsWith("erase")),
      ["erase 36864", "erase 40960", "erase 45056", "erase 49152"],
    );
  });

  it("before the confirm: a measured erase at a tenth of the sector's line time is not worth it", () => {
    const f = downloadFake({ blockLength: 4608 });
    f.eraseMs = 40;
    eraseBeforeConfirm(f.ctx, { ...OFFER, space: 4096 });
    deepEqual(f.ops, ["start 2.0.0 4096 0000", "erase 0", "poll", "erase 4608", "poll"]);
    f.ctx.session.receiver = undefined;
    f.ops.length = 0;
    eraseBeforeConfirm(f.ctx, { ...OFFER, targetVersion: "2.0.1", space: 4096 });
    deepEqual(f.ops, []);
  });

  it("before the confirm an erase that would start at 2 s does not; a re-offer with nothing left to erase logs nothing", () => {
    const f = downloadFake({ config: { slotSize: 200000 } });
    f.eraseMs = 500;
    eraseBeforeConfirm(f.ctx, { ...OFFER, space: 100000 });
    equal(f.ops.filter((o) => o.startsWith("erase")).length, 4);
    const g = downloadFake();
    eraseBeforeConfirm(g.ctx, OFFER);
    eraseBeforeConfirm(g.ctx, OFFER);
    deepEqual(g.logs, ["erased before the confirm: 200 ms"]);
    equal(g.ops.filter((o) => o.startsWith("erase")).length, 4);
  });

  it("before the confirm another error than flash trouble goes up", () => {
    const f = downloadFake();
    (f.ctx.boot as unknown as { startReceive: () => never }).startReceive = () => {
      throw new TypeError("bug");
    };
    let thrown: unknown;
    try {
      eraseBeforeConfirm(f.ctx, OFFER);
    } catch (error) {
      thrown = error;
    }
    equal(thrown instanceof TypeError, true);
  });

  it("a delta plan on a device without delta digests is read as a whole image", async () => {
    const f = downloadFake();
    f.ctx.records.save(record({ sourceVersion: "1.0.0" }));
    await handlePiece(f.ctx, block(), 10000, 0, 4096);
    deepEqual(f.logs, [
      "differential package taken as a whole image: no digests for delta packages here",
      "downloading: next piece",
    ]);
    equal(f.ops[0], "start 2.0.0 10000 0123");
  });

  it("a write that fails with a read in flight: that read's reply is ignored, nothing more is read", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    const receiver = new FakeReceiver(descriptor(), f.ops, f.clock, 50);
    receiver.write = () => {
      throw new FlashError("write bad", "io");
    };
    f.ctx.session.receiver = receiver;
    await rejects(() => handlePiece(f.ctx, block(), 10000, 0, 4096), OtaAborted);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    deepEqual(f.ops, [
      "limit 1024",
      "erase 0",
      "poll",
      "read 0+1024",
      "read 1024+1024",
      "abandon flash: write bad",
      "report app 1.0.0",
    ]);
  });

  it("an erase failing between reads: the good read waiting is written first", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    const receiver = new FakeReceiver(descriptor({ size: 20000 }), f.ops, f.clock, 50);
    receiver.eraseFailFrom = 4096;
    f.ctx.session.receiver = receiver;
    await rejects(() => handlePiece(f.ctx, block(), 20000, 0, 8192), OtaAborted);
    deepEqual(f.ops.slice(-5), [
      "read 3072+1024",
      "write 2048+1024:3",
      "write 3072+1024:3",
      "abandon flash: worn",
      "report app 1.0.0",
    ]);
    deepEqual(f.states.slice(-1), ["failed: writing the image failed: worn"]);
  });

  it("an erase failing between reads whose waiting write fails too: that write's error is told", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    const receiver = new FakeReceiver(descriptor({ size: 20000 }), f.ops, f.clock, 50);
    receiver.eraseFailFrom = 4096;
    const write = receiver.write.bind(receiver);
    receiver.write = (bytes, length) => {
      if (receiver.received === 3072) throw new FlashError("write bad", "io");
      write(bytes, length);
    };
    f.ctx.session.receiver = receiver;
    await rejects(() => handlePiece(f.ctx, block(), 20000, 0, 8192), OtaAborted);
    deepEqual(f.states.slice(-1), ["failed: writing the image failed: write bad"]);
  });

  it("a client stopped during an erase between reads: the read waiting is not written", async () => {
    const f = downloadFake({ size: 20000 });
    f.ctx.records.save(record({ size: 20000 }));
    const receiver = new FakeReceiver(descriptor({ size: 20000 }), f.ops, f.clock, 50);
    receiver.onErase = (offset) => {
      if (offset === 4096) f.stopped = true;
    };
    f.ctx.session.receiver = receiver;
    await rejects(
      () => handlePiece(f.ctx, block(), 20000, 0, 8192),
      (e) => (e as Error).message === "stopped",
    );
    deepEqual(f.ops.slice(-4), ["read 3072+1024", "write 2048+1024:3", "erase 4096", "poll"]);
    equal(receiver.received, 3072);
  });

  it("a differential plan's package without a delta header is written as it comes; its digests are made once per engine", async () => {
    const f = downloadFake({ config: { acceptDifferential: true } });
    const created: string[] = [];
    const digests = {
      create: (algorithm: string) => {
        created.push(algorithm);
        return { write: () => undefined, close: () => new Uint8Array(16), reset: () => undefined };
      },
    };
    const ctx = { ...f.ctx, digests: digests as never };
    ctx.records.save(record({ sourceVersion: "1.0.0" }));
    equal(await handlePiece(ctx, block(), 10000, 0, 4096), "next-piece");
    deepEqual(created, ["MD5", "SHA256", "SHA256"]);
    deepEqual(
      f.receivers.map((r) => r.received),
      [4096],
    );
    ctx.records.save(record({ sourceVersion: "1.0.0", targetVersion: "2.0.1", md5: "f".repeat(32) }));
    ctx.session.advancedFrom = -1;
    await handlePiece(ctx, block(), 10000, 0, 4096);
    deepEqual(created, ["MD5", "SHA256", "SHA256"]);
    equal(f.receivers.length, 2);
  });

  it("pacing from a fetch that began at time 0, and a fetch of 0 ms", async () => {
    const f = downloadFake({ size: 20000 });
    f.clock.t = 0;
    f.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(f.ctx, true);
    f.clock.t = 300;
    await handlePiece(f.ctx, block(), 20000, 0, 4096);
    // Fetched in 300 ms; the next fetch began at 350.
    deepEqual([at(f, 550), at(f, 551)], [0, 700]);
    f.clock.t = 0;
    noteFetchStart(f.ctx, false);
    deepEqual([at(f, 200), at(f, 260)], [0, 350]);
    const g = downloadFake({ size: 20000 });
    g.ctx.records.save(record({ size: 20000 }));
    noteFetchStart(g.ctx, true);
    await handlePiece(g.ctx, block(), 20000, 0, 4096);
    // Fetched in 0 ms; the next fetch began at 1100 (after two erases): expected then, 50 ms either side.
    deepEqual([at(g, 1050), at(g, 1149), at(g, 1150)], [1150, 1150, 0]);
  });

  it("before the confirm a provisional receive of another component is kept, not erased on", () => {
    const f = downloadFake();
    f.ctx.session.receiver = new FakeReceiver(
      descriptor({ md5: PROVISIONAL_MD5, component: "b" }),
      f.ops,
      f.clock,
      50,
    );
    eraseBeforeConfirm(f.ctx, OFFER);
    deepEqual(f.ops, []);
  });
});
