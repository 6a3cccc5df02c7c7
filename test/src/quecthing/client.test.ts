// ModuleClient: exact command bytes for each typed operation, events queued apart from replies, waits with
// deadlines in virtual time, a module reboot (RDY) and stop() ending every operation.

import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { ClientStopped, ModuleClient, ModuleRestarted } from "../../../src/quecthing/client.js";
import { deepEqual, equal, ok, rejects } from "../../lib/assert.js";
import { FakePort } from "../at/fake-port.js";

/** A client on a hand-fed port whose module answers each command from `answers` (default "OK"). */
function setup(answers: Record<string, string> = {}) {
  const clock = new VirtualClock();
  const port = new FakePort();
  port.onWrite = (text) => {
    const command = text.replace(/\r$/, "");
    const answer = answers[command] ?? "\r\nOK\r\n";
    // The module answers after 5 ms, as a real one would, not inside the write.
    clock.setTimer(() => port.feed(answer), 5);
  };
  const client = new ModuleClient(port, clock, { baud: 115200, startQuietMs: 0 });
  const sent = () => port.writes.map((w) => w.replace(/\r$/, ""));
  return { clock, port, client, sent };
}

async function settle<T>(clock: VirtualClock, promise: Promise<T>, maxMs = 60_000): Promise<T> {
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

describe("src/quecthing client", () => {
  it("prepare sends ATE0 and buffer mode; NB-IoT adds AT+QSCLK=0", async () => {
    const { clock, client, sent } = setup();
    equal(await settle(clock, client.prepare(true)), "OK");
    deepEqual(sent(), ["ATE0", 'AT+QIOTCFG="buffer",1', "AT+QSCLK=0"]);
  });

  it("connect stops at state 8 without registering", async () => {
    const { clock, client, sent } = setup({ "AT+QIOTSTATE?": "\r\n+QIOTSTATE: 8\r\n\r\nOK\r\n" });
    await settle(clock, client.connect(1000, { failed: () => undefined, retrying: () => undefined }));
    deepEqual(sent(), ["AT+QIOTSTATE?"]);
  });

  it("connect registers, waits for 3,10200, and keeps other events queued", async () => {
    const { clock, port, client, sent } = setup({
      "AT+QIOTSTATE?": "\r\n+QIOTSTATE: 1\r\n\r\nOK\r\n",
      "AT+QIOTREG?": "\r\n+QIOTREG: 0\r\n\r\nOK\r\n",
    });
    const done = client.connect(60_000, { failed: () => undefined, retrying: () => undefined });
    clock.setTimer(() => port.feed('\r\n+QIOTEVT: 7,10700,"app","","2.0.0",30,-105,19656\r\n'), 50);
    clock.setTimer(() => port.feed("\r\n+QIOTEVT: 1,10200\r\n\r\n+QIOTEVT: 3,10200\r\n"), 100);
    await settle(clock, done);
    deepEqual(sent(), ["AT+QIOTSTATE?", "AT+QIOTREG?", "AT+QIOTREG=1"]);
    // The offer stays for the engine; the connection events were taken by connect (1,10200 is not an outcome).
    const queued = client.takeEvent((e) => e.kind === "plan");
    equal(queued?.kind, "plan");
  });

  it("connect reports a failed attempt with its back-off, then retries", async () => {
    const { clock, port, client } = setup({
      "AT+QIOTSTATE?": "\r\n+QIOTSTATE: 1\r\n\r\nOK\r\n",
      "AT+QIOTREG?": "\r\n+QIOTREG: 0\r\n\r\nOK\r\n",
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
    deepEqual(told, ["no 3,10200 from the module 5000", "retry 1"]);
  });

  it("confirm retries once after ERROR a second later (the 10700 race)", async () => {
    const { clock, client, sent } = setup({ "AT+QIOTUPDATE=1": "\r\nERROR\r\n" });
    const start = clock.now();
    equal(await settle(clock, client.confirm()), "ERROR");
    deepEqual(sent(), ["AT+QIOTUPDATE=1", "AT+QIOTUPDATE=1"]);
    ok(clock.now() - start >= 1000, "the second confirm waited a second");
  });

  it("reportVersion tries three times, then gives up", async () => {
    const { clock, client, sent } = setup({ 'AT+QIOTMCUVER="app","1.0"': "\r\nERROR\r\n" });
    equal(await settle(clock, client.reportVersion("app", "1.0")), false);
    equal(sent().length, 3);
  });

  it("readLimit takes the module's maximum, bounded by the buffer", async () => {
    const { clock, client } = setup({ "AT+QIOTOTARD=?": "\r\n+QIOTOTARD: <start>,(1-512)\r\n\r\nOK\r\n" });
    equal(await settle(clock, client.readLimit(1024)), 512);
    equal(await settle(clock, client.readLimit(256)), 256);
  });

  it("readBlock sends the checked builder's command and lands the payload in the buffer", async () => {
    const { clock, client, sent } = setup({
      "AT+QIOTOTARD=8,4": "\r\n+QIOTOTARD: 8,4\r\n\r\nOK\r\n\r\nOK\r\n",
    });
    const into = new Uint8Array(16);
    const reply = await settle(clock, client.readBlock(8, 4, into));
    deepEqual(sent(), ["AT+QIOTOTARD=8,4"]);
    equal(reply.final, "OK");
    equal(reply.length, 4);
    deepEqual(Array.from(into.subarray(0, 4)), [13, 10, 79, 75]);
  });

  it("nextEvent returns the next event, undefined at its deadline or when interrupted", async () => {
    const { clock, port, client } = setup();
    clock.setTimer(() => port.feed("\r\n+QIOTEVT: 7,10702\r\n"), 10);
    equal((await settle(clock, client.nextEvent(100)))?.kind, "downloading");
    const before = clock.now();
    equal(await settle(clock, client.nextEvent(100)), undefined);
    equal(clock.now() - before, 100);
    clock.setTimer(() => client.interrupt(), 20);
    const at = clock.now();
    equal(await settle(clock, client.nextEvent(10_000)), undefined);
    equal(clock.now() - at, 20);
  });

  it("a module reboot (RDY) drops the queued events and fails operations until acknowledged", async () => {
    const { clock, port, client } = setup();
    await settle(clock, client.command("ATE0"));
    port.feed("\r\n+QIOTEVT: 7,10702\r\n\r\nRDY\r\n");
    await rejects(() => settle(clock, client.nextEvent(100)), ModuleRestarted);
    client.acknowledgeRestart();
    equal(await settle(clock, client.nextEvent(100)), undefined);
  });

  it("RDY before our first command is the module's boot, not a reboot: its events go, nothing fails", async () => {
    const { clock, port, client, sent } = setup();
    port.feed("\r\n+QIOTEVT: 7,10702\r\n\r\nRDY\r\n");
    equal(await settle(clock, client.nextEvent(100)), undefined);
    client.check();
    deepEqual((await settle(clock, client.command("ATE0"))).final, "OK");
    deepEqual(sent(), ["ATE0"]);
  });

  it("stop ends a wait and every later operation with ClientStopped", async () => {
    const { clock, client } = setup();
    clock.setTimer(() => client.stop(), 30);
    await rejects(() => settle(clock, client.sleep(10_000)), ClientStopped);
    await rejects(() => settle(clock, client.requestPlan()), ClientStopped);
    equal(client.stopped, true);
  });
});
