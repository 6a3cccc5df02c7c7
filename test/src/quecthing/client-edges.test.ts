// ModuleClient edge cases from mutation testing: each retry rule with its exact pauses and messages, the quiet time
// a client owes its predecessor on the port, the event queue's filter and bound, and what interrupt() may end.

import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import {
  ModuleClient,
  ModuleRestarted,
  ClientStopped,
  isUnreadableOffer,
} from "../../../src/quecthing/client.js";
import { deepEqual, equal, ok, rejects } from "../../lib/assert.js";
import { FakePort } from "../at/fake-port.js";

/** A client whose module answers each command from `answers` (a list is used in turn; default OK) after 5 ms. */
function setup(
  answers: Record<string, string | string[]> = {},
  port = new FakePort(),
  clock = new VirtualClock(),
) {
  const times: number[] = [];
  port.onWrite = (text) => {
    const command = text.replace(/\r$/, "");
    times.push(clock.now());
    const listed = answers[command];
    const answer = Array.isArray(listed) ? (listed.shift() ?? "\r\nOK\r\n") : (listed ?? "\r\nOK\r\n");
    if (answer !== "") clock.setTimer(() => port.feed(answer), 5);
  };
  const client = new ModuleClient(port, clock, { baud: 115200, startQuietMs: 0 });
  const log: string[] = [];
  client.onLog = (m) => log.push(m);
  const sent = () => port.writes.map((w) => w.replace(/\r$/, ""));
  return { clock, port, client, sent, times, log };
}

async function settle<T>(clock: VirtualClock, promise: Promise<T>, maxMs = 3_600_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let failure: unknown;
  promise.then(
    (v) => {
      value = v;
      done = true;
    },
    (e: unknown) => {
      failure = e;
      done = true;
    },
  );
  await clock.runUntil(() => done, maxMs);
  if (failure !== undefined) throw failure;
  ok(done, "the operation did not settle");
  return value as T;
}

const STATE_1 = "\r\n+QIOTSTATE: 1\r\n\r\nOK\r\n";
const REG_0 = "\r\n+QIOTREG: 0\r\n\r\nOK\r\n";

describe("src/quecthing client edges", () => {
  it("tells the line time of n characters at its baud rate, and what the transport knows", async () => {
    const { clock, port, client } = setup();
    equal(client.lineTimeMs(11520), 1000);
    equal(client.quiet, true);
    equal(client.eventsWaiting, false);
    await clock.run(70);
    const signal = port.onReadable;
    port.onReadable = undefined;
    port.feed("\r\n+QIOTEVT: 7,10702\r\n");
    port.onReadable = signal;
    equal(client.eventsWaiting, false);
    client.poll();
    equal(client.eventsWaiting, true);
    equal(client.lastReceiveAt, 70);
  });

  it("a client after a settled stop sends at once; after an unsettled one it waits 300 ms of silence", async () => {
    const clock = new VirtualClock();
    const port = new FakePort();
    const first = new ModuleClient(port, clock, { baud: 115200, startQuietMs: 0 });
    first.stop();
    first.stop();
    const second = new ModuleClient(port, clock, { baud: 115200 });
    void second.command("AT").catch(() => undefined);
    deepEqual(port.writes, ["AT\r"], "nothing can still answer the first client");
    second.stop();
    second.stop();
    const third = new ModuleClient(port, clock, { baud: 115200 });
    void third.command("ATE0").catch(() => undefined);
    await clock.run(299);
    deepEqual(port.writes, ["AT\r"], "the second stopped with AT in flight: its reply may still come");
    await clock.run(1);
    deepEqual(port.writes, ["AT\r", "ATE0\r"]);
    third.stop();
  });

  it("with the time since the MCU's reset, the 300 ms count from the reset, and at least 50 ms of silence remain", async () => {
    const cases: [number | undefined, number][] = [
      [undefined, 300],
      [0, 300],
      [120, 180],
      [249, 51],
      [250, 50],
      [5000, 50],
    ];
    for (const [sinceResetMs, firstAt] of cases) {
      const clock = new VirtualClock();
      const port = new FakePort();
      const client = new ModuleClient(port, clock, {
        baud: 115200,
        ...(sinceResetMs === undefined ? {} : { sinceResetMs }),
      });
      void client.command("ATE0").catch(() => undefined);
      await clock.run(firstAt - 1);
      deepEqual(port.writes, [], `${sinceResetMs} ms since the reset: nothing before ${firstAt} ms`);
      await clock.run(1);
      deepEqual(port.writes, ["ATE0\r"], `${sinceResetMs} ms since the reset: sent at ${firstAt} ms`);
      client.stop();
    }
    // A byte at 30 ms (a reply still streaming) moves the first command to 50 ms of silence after it.
    const clock = new VirtualClock();
    const port = new FakePort();
    const client = new ModuleClient(port, clock, { baud: 115200, sinceResetMs: 1000 });
    void client.command("ATE0").catch(() => undefined);
    await clock.run(30);
    port.feed("x");
    await clock.run(49);
    deepEqual(port.writes, []);
    await clock.run(1);
    deepEqual(port.writes, ["ATE0\r"]);
    client.stop();
    // startQuietMs 0 stays none, whatever the reset time.
    const nonePort = new FakePort();
    const none = new ModuleClient(nonePort, new VirtualClock(), {
      baud: 115200,
      startQuietMs: 0,
      sinceResetMs: 10,
    });
    void none.command("AT").catch(() => undefined);
    deepEqual(nonePort.writes, ["AT\r"]);
    none.stop();
  });

  it("check() names a stop before a module restart", async () => {
    const { clock, port, client } = setup();
    await settle(clock, client.command("ATE0"));
    port.feed("\r\nRDY\r\n");
    await clock.settle();
    let thrown: unknown;
    try {
      client.check();
    } catch (error) {
      thrown = error;
    }
    ok(thrown instanceof ModuleRestarted);
    client.stop();
    try {
      client.check();
    } catch (error) {
      thrown = error;
    }
    ok(thrown instanceof ClientStopped);
  });

  it("prepare retries ATE0 with pauses of 500, 1000, ... ms, then fails naming the last answer", async () => {
    const { clock, client, sent, times } = setup({ ATE0: "\r\nERROR\r\n" });
    await rejects(() => settle(clock, client.prepare(false)), /^ATE0: the module answered ERROR$/);
    deepEqual(sent(), ["ATE0", "ATE0", "ATE0", "ATE0", "ATE0"]);
    deepEqual(
      times.map((t, i) => (i === 0 ? 0 : t - times[i - 1]!)),
      [0, 505, 1005, 1505, 2005],
    );
  });

  it("expectOk with no attempts fails saying nothing was answered", async () => {
    const { clock, client, sent } = setup();
    await rejects(
      () => settle(clock, client.expectOk("AT", "probe", 0)),
      /^probe: the module answered nothing$/,
    );
    deepEqual(sent(), []);
  });

  it("prepare without NB-IoT sends no QSCLK and returns buffer mode's answer", async () => {
    const { clock, client, sent } = setup({
      'AT+QIOTCFG="buffer",1': "\r\nERROR\r\n",
      ATE0: ["\r\nERROR\r\n"],
    });
    equal(await settle(clock, client.prepare(false)), "ERROR");
    deepEqual(sent(), ["ATE0", "ATE0", 'AT+QIOTCFG="buffer",1']);
  });

  it("sets flow control and returns the module's answer", async () => {
    const { clock, client, sent } = setup({ "AT+IFC=2,2": "\r\nERROR\r\n" });
    equal(await settle(clock, client.setFlowControl(true)), "ERROR");
    equal(await settle(clock, client.setFlowControl(false)), "OK");
    deepEqual(sent(), ["AT+IFC=2,2", "AT+IFC=0,0"]);
  });

  it("sets the product only when the module does not hold its key, quoted or not", async () => {
    const quoted = setup({
      'AT+QIOTCFG="productinfo"': '\r\n+QIOTCFG: "productinfo","pk1","ps"\r\n\r\nOK\r\n',
    });
    equal(await settle(quoted.clock, quoted.client.configureProduct("pk1", "secret")), "OK");
    deepEqual(quoted.sent(), ['AT+QIOTCFG="productinfo"']);
    const bare = setup({ 'AT+QIOTCFG="productinfo"': "\r\n+QIOTCFG: productinfo,pk1,ps\r\n\r\nOK\r\n" });
    equal(await settle(bare.clock, bare.client.configureProduct("pk1", "secret")), "OK");
    deepEqual(bare.sent(), ['AT+QIOTCFG="productinfo"']);
    const second = setup({
      'AT+QIOTCFG="productinfo"': '\r\n+QIOTCFG: "other"\r\n+QIOTCFG: "productinfo","pk1","ps"\r\n\r\nOK\r\n',
    });
    equal(await settle(second.clock, second.client.configureProduct("pk1", "secret")), "OK");
    deepEqual(second.sent(), ['AT+QIOTCFG="productinfo"'], "the key on any line counts");
    const other = setup({
      'AT+QIOTCFG="productinfo"': '\r\n+QIOTCFG: "productinfo","pk11","ps"\r\n\r\nOK\r\n',
      'AT+QIOTCFG="productinfo","pk1","secret"': "\r\nERROR\r\n",
    });
    equal(await settle(other.clock, other.client.configureProduct("pk1", "secret")), "ERROR");
    deepEqual(other.sent(), ['AT+QIOTCFG="productinfo"', 'AT+QIOTCFG="productinfo","pk1","secret"']);
  });

  it("connect leaves a module in mode 2 to connect by itself on the first attempt only", async () => {
    const { clock, port, client, sent } = setup({
      "AT+QIOTSTATE?": [STATE_1, STATE_1],
      "AT+QIOTREG?": "\r\n+QIOTREG: 2\r\n\r\nOK\r\n",
    });
    const told: string[] = [];
    const done = client.connect(1000, {
      failed: (failure, backoff) => {
        told.push(`${failure} ${backoff}`);
        clock.setTimer(() => port.feed("\r\n+QIOTEVT: 3,10200\r\n"), backoff + 100);
      },
      retrying: (attempt) => told.push(`retry ${attempt}`),
    });
    await settle(clock, done);
    deepEqual(sent(), [
      "AT+QIOTSTATE?",
      "AT+QIOTREG?",
      "AT+QIOTSTATE?",
      "AT+QIOTSTATE?",
      "AT+QIOTREG?",
      "AT+QIOTREG=1",
    ]);
    deepEqual(told, ["no 3,10200 from the module 5000", "retry 1"]);
  });

  it("connect names each failure and doubles its back-off up to 300 s", async () => {
    const events = [
      "+QIOTEVT: 1,10422",
      "+QIOTEVT: 2,10431",
      "+QIOTEVT: 3,10300",
      "+QIOTEVT: 2,10999",
      "",
      "",
      "",
      "+QIOTEVT: 3,10200",
    ];
    const { clock, port, client } = setup({
      "AT+QIOTSTATE?": "\r\n+QIOTSTATE: 1\r\n\r\nOK\r\n",
      "AT+QIOTREG?": REG_0,
      "AT+QIOTREG=1": [
        "\r\nOK\r\n",
        "\r\nOK\r\n",
        "\r\nOK\r\n",
        "\r\nOK\r\n",
        "\r\nERROR\r\n",
        "\r\n+CME ERROR: 3\r\n",
        "",
        "\r\nOK\r\n",
      ],
    });
    let attempt = 0;
    port.onWrite = ((inner) => (text: string) => {
      inner?.(text);
      if (text === "AT+QIOTREG=1\r") {
        const event = events[attempt++];
        if (event) clock.setTimer(() => port.feed(`\r\n${event}\r\n`), 50);
      }
    })(port.onWrite);
    const told: string[] = [];
    await settle(
      clock,
      client.connect(1000, {
        failed: (failure, backoff) => told.push(`${failure} | ${backoff}`),
        retrying: (n) => told.push(`retry ${n}`),
      }),
    );
    deepEqual(told, [
      "authentication failed: 10422 wrong DeviceSecret | 5000",
      "retry 1",
      "access failed: 10431 device disabled | 10000",
      "retry 2",
      "subscription failed: 10300 subscribe failed | 20000",
      "retry 3",
      "access failed: 10999 | 40000",
      "retry 4",
      "AT+QIOTREG=1 answered ERROR | 80000",
      "retry 5",
      "AT+QIOTREG=1 answered CME ERROR | 160000",
      "retry 6",
      "AT+QIOTREG=1 answered TIMEOUT | 300000",
      "retry 7",
    ]);
  });

  it("connect checks the state once more when no outcome came: subscribed by then is connected", async () => {
    const { clock, client, sent } = setup({
      "AT+QIOTSTATE?": [STATE_1, "\r\n+QIOTSTATE: 8\r\n\r\nOK\r\n"],
      "AT+QIOTREG?": REG_0,
    });
    await settle(clock, client.connect(1000, { failed: () => ok(false), retrying: () => ok(false) }));
    deepEqual(sent(), ["AT+QIOTSTATE?", "AT+QIOTREG?", "AT+QIOTREG=1", "AT+QIOTSTATE?"]);
  });

  it("connect takes only failures of types 1-3 and 3,10200 as outcomes: 1,10200 and 2,10200 are steps", async () => {
    const { clock, port, client } = setup({
      "AT+QIOTSTATE?": "\r\n+QIOTSTATE: 1\r\n\r\nOK\r\n",
      "AT+QIOTREG?": REG_0,
    });
    let registers = 0;
    port.onWrite = ((inner) => (text: string) => {
      inner?.(text);
      if (text !== "AT+QIOTREG=1\r") return;
      const events =
        registers++ === 0
          ? "+QIOTEVT: 1,10200\r\n+QIOTEVT: 2,10200\r\n+QIOTEVT: 6,10300\r\n+QIOTEVT: 4,10300\r\n"
          : "+QIOTEVT: 3,10200\r\n";
      clock.setTimer(() => port.feed(`\r\n${events}`), 50);
    })(port.onWrite);
    const told: string[] = [];
    await settle(
      clock,
      client.connect(1000, {
        failed: (failure, backoff) => told.push(`${failure} | ${backoff}`),
        retrying: (n) => told.push(`retry ${n}`),
      }),
    );
    deepEqual(told, ["no 3,10200 from the module | 5000", "retry 1"]);
  });

  it("reportVersion logs each refused attempt and pauses 1 s, then 2 s; OK ends it", async () => {
    const refused = setup({ 'AT+QIOTMCUVER="app","1.0"': "\r\n+CME ERROR: 50\r\n" });
    equal(await settle(refused.clock, refused.client.reportVersion("app", "1.0")), false);
    deepEqual(refused.log, [
      "version report answered CME ERROR (attempt 1)",
      "version report answered CME ERROR (attempt 2)",
      "version report answered CME ERROR (attempt 3)",
    ]);
    deepEqual(
      refused.times.map((t, i) => (i === 0 ? 0 : t - refused.times[i - 1]!)),
      [0, 1005, 2005],
    );
    const second = setup({ 'AT+QIOTMCUVER="app","1.0"': ["\r\nERROR\r\n", "\r\nOK\r\n"] });
    equal(await settle(second.clock, second.client.reportVersion("app", "1.0")), true);
    equal(second.sent().length, 2);
  });

  it("requestPlan, signalDbm and refuse give the module's answers", async () => {
    const { clock, client, sent } = setup({
      "AT+QIOTOTAREQ=1": "\r\nERROR\r\n",
      "AT+CSQ": ["\r\n+CSQ: 20,99\r\n\r\nOK\r\n", "\r\n+CSQ: 99,99\r\n\r\nOK\r\n", "\r\nERROR\r\n"],
      "AT+QIOTUPDATE=0": "\r\n+CME ERROR: 1\r\n",
    });
    equal(await settle(clock, client.requestPlan()), false);
    equal(await settle(clock, client.signalDbm()), -73);
    equal(await settle(clock, client.signalDbm()), undefined);
    equal(await settle(clock, client.signalDbm()), undefined);
    equal(await settle(clock, client.refuse()), "CME ERROR");
    deepEqual(sent(), ["AT+QIOTOTAREQ=1", "AT+CSQ", "AT+CSQ", "AT+CSQ", "AT+QIOTUPDATE=0"]);
    const fine = setup();
    equal(await settle(fine.clock, fine.client.requestPlan()), true);
  });

  it("confirm sends once on OK or TIMEOUT, twice on ERROR or CME ERROR", async () => {
    const once = setup();
    equal(await settle(once.clock, once.client.confirm()), "OK");
    deepEqual(once.sent(), ["AT+QIOTUPDATE=1"]);
    const cme = setup({ "AT+QIOTUPDATE=1": ["\r\n+CME ERROR: 3\r\n", "\r\nOK\r\n"] });
    equal(await settle(cme.clock, cme.client.confirm()), "OK");
    deepEqual(cme.times, [0, 1005]);
    const silent = setup({ "AT+QIOTUPDATE=1": "" });
    equal(await settle(silent.clock, silent.client.confirm()), "TIMEOUT");
    deepEqual(silent.sent(), ["AT+QIOTUPDATE=1"]);
  });

  it("nextPiece repeats a timed-out QIOTUPDATE=2 after 2 s only when no 10702 or 10703 shows it was taken", async () => {
    const lost = setup({ "AT+QIOTUPDATE=2": ["", "\r\nOK\r\n"] });
    equal(await settle(lost.clock, lost.client.nextPiece()), "OK");
    deepEqual(lost.sent(), ["AT+QIOTUPDATE=2", "AT+QIOTUPDATE=2"]);
    deepEqual(lost.times, [0, 3000]);
    for (const news of ["+QIOTEVT: 7,10702", '+QIOTEVT: 7,10703,"app",100,0,50']) {
      const taken = setup({ "AT+QIOTUPDATE=2": "" });
      taken.clock.setTimer(() => taken.port.feed(`\r\n${news}\r\n`), 1500);
      equal(await settle(taken.clock, taken.client.nextPiece()), "TIMEOUT");
      deepEqual(taken.sent(), ["AT+QIOTUPDATE=2"]);
    }
    const other = setup({ "AT+QIOTUPDATE=2": ["", "\r\nERROR\r\n"] });
    other.clock.setTimer(() => other.port.feed("\r\n+QIOTEVT: 7,10704\r\n"), 1500);
    equal(await settle(other.clock, other.client.nextPiece()), "ERROR");
    const refused = setup({ "AT+QIOTUPDATE=2": "\r\nERROR\r\n" });
    equal(await settle(refused.clock, refused.client.nextPiece()), "ERROR");
    deepEqual(refused.sent(), ["AT+QIOTUPDATE=2"]);
  });

  it("finish repeats QIOTUPDATE=3 once after a timeout, never after an answer", async () => {
    const lost = setup({ "AT+QIOTUPDATE=3": ["", "\r\nERROR\r\n"] });
    equal(await settle(lost.clock, lost.client.finish()), "ERROR");
    deepEqual(lost.sent(), ["AT+QIOTUPDATE=3", "AT+QIOTUPDATE=3"]);
    const refused = setup({ "AT+QIOTUPDATE=3": "\r\nERROR\r\n" });
    equal(await settle(refused.clock, refused.client.finish()), "ERROR");
    deepEqual(refused.sent(), ["AT+QIOTUPDATE=3"]);
  });

  it("readLimit falls back to 1024 when the test command fails, and never goes below 1", async () => {
    const failed = setup({ "AT+QIOTOTARD=?": "\r\n+QIOTOTARD: <start>,(1-512)\r\n\r\nERROR\r\n" });
    equal(await settle(failed.clock, failed.client.readLimit(4096)), 1024);
    equal(await settle(failed.clock, failed.client.readLimit(0)), 1);
    const unknown = setup({ "AT+QIOTOTARD=?": "\r\nOK\r\n" });
    equal(await settle(unknown.clock, unknown.client.readLimit(4096)), 1024);
  });

  it("readBlockThen hands the payload to its callback", async () => {
    const { clock, client, sent } = setup({ "AT+QIOTOTARD=4,2": "\r\n+QIOTOTARD: 4,2\r\nab\r\n\r\nOK\r\n" });
    const into = new Uint8Array(4);
    const results: string[] = [];
    client.readBlockThen(4, 2, into, (r) => results.push(`${r.final} ${r.start} ${r.length}`));
    await clock.run(20);
    deepEqual(sent(), ["AT+QIOTOTARD=4,2"]);
    deepEqual(results, ["OK 4 2"]);
    deepEqual(Array.from(into), [97, 98, 0, 0]);
  });

  it("queues OTA, connection and unreadable-offer events, logs the rest, and keeps the newest 32", async () => {
    const { clock, port, client, log } = setup();
    port.feed(
      "\r\n+QIOTEVT: 4,10200\r\n+QIOTEVT: 5,10210\r\n+QIND: 1,2\r\n+QIOTEVT: 7,10700,bad\r\n" +
        "+QIOTEVT: 6,10200\r\n+QIOTEVT: 2,10200\r\n+QIOTEVT: 1,10200\r\n+QIOTEVT: 3,10300\r\nhello\r\n",
    );
    await clock.settle();
    deepEqual(log, [
      "event: uplink ok: 10200 uplink sent",
      "event: downlink ok: 10210 TSL data received",
      "event: +QIND 1 2",
      'event: unrecognised line "hello": not a QuecThing URC',
    ]);
    ok(client.hasEvent((e) => e.kind === "unknown"));
    equal(
      client.hasEvent((e) => e.kind === "qind"),
      false,
    );
    deepEqual(
      [1, 2, 3, 4, 5].map(() => {
        const e = client.takeEvent(() => true);
        return e?.kind === "qiot" ? `${e.type},${e.code}` : e?.kind;
      }),
      ["unknown", "6,10200", "2,10200", "1,10200", "3,10300"],
    );
    equal(
      client.takeEvent(() => true),
      undefined,
    );
    for (let i = 0; i < 33; i++) port.feed(`\r\n+QIOTEVT: 7,${i % 2 === 0 ? 10702 : 10704}\r\n`);
    await clock.settle();
    const kinds: string[] = [];
    for (let e = client.takeEvent(() => true); e; e = client.takeEvent(() => true)) kinds.push(e.kind);
    equal(kinds.length, 32);
    equal(kinds[0], "updating", "the oldest (a 10702) was dropped");
  });

  it("interrupt() ends a nextEvent wait but not a waitFor, and is consumed by one nextEvent", async () => {
    const { clock, port, client } = setup();
    client.interrupt();
    clock.setTimer(() => port.feed("\r\n+QIOTEVT: 7,10704\r\n"), 50);
    const found = await settle(
      clock,
      client.waitFor((e) => e.kind === "updating", 1000),
    );
    equal(found?.kind, "updating");
    const start = clock.now();
    equal(await settle(clock, client.nextEvent(1000)), undefined);
    equal(clock.now(), start, "the earlier interrupt ended the first nextEvent at once");
    equal(await settle(clock, client.nextEvent(1000)), undefined);
    equal(clock.now(), start + 1000);
    equal(
      await settle(
        clock,
        client.waitFor(() => true, 0),
      ),
      undefined,
    );
  });

  it("a queued event is returned at once, even with no time left", async () => {
    const { clock, port, client } = setup();
    port.feed("\r\n+QIOTEVT: 7,10705\r\n");
    await clock.settle();
    equal(
      (
        await settle(
          clock,
          client.waitFor((e) => e.kind === "update-succeeded", 0),
        )
      )?.kind,
      "update-succeeded",
    );
  });

  it("recognises an unreadable 10700 line, with or without spaces, and nothing else", () => {
    deepEqual(
      [
        "+QIOTEVT: 7,10700,x",
        "+QIOTEVT:7,10700",
        "+QIOTEVT:   7,10700",
        "+QIOTEVT: 7,107000",
        "+QIOTEVT: 7,10701",
        " +QIOTEVT: 7,10700",
      ].map(isUnreadableOffer),
      [true, true, true, false, false, false],
    );
  });
});
