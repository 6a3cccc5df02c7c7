import { Rig } from "./rig.js";
const MINUTE = 60_000;
function inject(rig: Rig, line: string): void {
  rig.link.b.write(new TextEncoder().encode(`${line}\r\n`));
}
describe("explore", () => {
  it("silent fail at start, slow", async () => {
    const trace: string[] = [];
    const rig = new Rig({ imageSize: 24576, settings: { downloadBytesPerSecond: 2000 }, faults: ["fail:piece=1,byte=12000"],
      onTrace: (e) => { if (/QIOTEVT/.test(e.text)) trace.push(`${e.time} ${e.kind} ${e.text}`); } });
    rig.bootDevice();
    await rig.runUntil(() => rig.hasState("updated"), 40 * MINUTE);
    for (const l of rig.logs.slice(0, 14)) console.log(l);
    console.log(trace.slice(0, 14).join("\n"));
  });
  it("two offers", async () => {
    const rig = new Rig({ imageSize: 4096, component: { targetVersion: "1.0.0" } });
    rig.bootDevice();
    await rig.runUntil(() => rig.hasState("no-plan"), 5 * MINUTE);
    const from = rig.logs.length;
    const a = '+QIOTEVT: 7,10700,"app","","1.1.0",10,-110,4096';
    const b = '+QIOTEVT: 7,10700,"gnss","","2.0.0",10,-110,4096';
    inject(rig, a);
    const t = rig.clock.now();
    console.log("t", t, rig.link.a);
    rig.clock.setTimer(() => inject(rig, b), 14);
    await rig.clock.run(5000);
    for (const l of rig.logs.slice(from)) console.log(l);
  });
});
