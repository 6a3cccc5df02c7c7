// The module's link to the Developer Center: QIOTREG / QIOTSTATE, the connection steps and their events, connection
// loss, the connection settings of QIOTCFG, and the radio signal of AT+CSQ (docs/protocol.md §2, §4, docs/protocol.md §6).

import { byteLength, integerArg, type Arg } from "./at-port.js";
import type { ModuleContext } from "./module-context.js";
import { OtaState } from "./ota-states.js";

/** QIOTSTATE values used here. */
export const LinkState = {
  UNINIT: 0,
  AUTHENTICATING: 2,
  REGISTERING: 5,
  REGISTERED: 6,
  SUBSCRIBED: 8,
  DEREGISTERED: 11,
} as const;

export class Link {
  /** QIOTSTATE value. */
  state: number = LinkState.UNINIT;
  connecting = false;
  /** Bumped by every disconnect: pending connection steps of an older generation stop. */
  private generation = 0;
  private bufferMode = 0;
  private lifetime = 120;

  constructor(private readonly m: ModuleContext) {}

  get online(): boolean {
    return this.state === LinkState.SUBSCRIBED;
  }

  /** Neither online nor connecting: the SDK refuses some settings otherwise. */
  get idle(): boolean {
    return !this.online && !this.connecting;
  }

  /** Boot: the connection and the RAM settings are lost. */
  reset(): void {
    this.state = LinkState.UNINIT;
    this.connecting = false;
    this.bufferMode = 0;
    this.lifetime = 120;
  }

  // ---------------------------------------------------------------- connection

  connect(): void {
    const m = this.m;
    const generation = ++this.generation;
    this.connecting = true;
    this.state = LinkState.AUTHENTICATING;
    const step = m.settings.connectStepMs;
    const register = () => {
      this.state = LinkState.REGISTERING;
      m.after(step, () => {
        if (generation !== this.generation) return;
        m.port.urc("+QIOTEVT: 2,10200");
        this.state = LinkState.REGISTERED;
        m.after(step, () => {
          if (generation !== this.generation) return;
          m.port.urc("+QIOTEVT: 3,10200");
          this.state = LinkState.SUBSCRIBED;
          this.connecting = false;
          m.center.schedulePush();
        });
      });
    };
    if (m.flash.authenticated) register();
    else
      m.after(step, () => {
        if (generation !== this.generation) return;
        // 1,10200 only on the very first connection with these credentials (D4/D8 logs show 2 and 3 only).
        m.flash.authenticated = true;
        m.port.urc("+QIOTEVT: 1,10200");
        register();
      });
  }

  private deregister(): void {
    this.generation++; // pending connection steps see a new generation and stop
    this.connecting = false;
    this.m.center.stopPush();
    this.state = LinkState.DEREGISTERED;
    this.m.after(this.m.settings.connectStepMs, () => this.m.port.urc("+QIOTEVT: 6,10200"));
  }

  /** Connection loss (2,10473 heartbeat timeout / 2,10474 network timeout); mode 2 reconnects by itself. */
  loseConnection(code: 10473 | 10474 = 10473): void {
    const m = this.m;
    if (this.idle) return;
    this.generation++;
    this.connecting = false;
    m.center.stopPush();
    this.state = LinkState.UNINIT;
    m.port.urc(`+QIOTEVT: 2,${code}`);
    if (m.otaState === OtaState.DOWNLOADING || m.otaState === OtaState.SUBMITOTA)
      m.ota.downloadFailed("connection lost");
    if (m.flash.regMode === 2) m.after(m.settings.connectStepMs, () => this.connect());
  }

  // ---------------------------------------------------------------- QIOTREG, QIOTSTATE

  get hasProductInfo(): boolean {
    return this.m.flash.productKey !== "" && this.m.flash.productSecret !== "";
  }

  /** AT+QIOTREG=0: saved, and the module deregisters if it is (getting) connected. */
  disable(): void {
    this.m.flash.regMode = 0;
    this.m.port.ok();
    if (!this.idle) this.deregister();
  }

  /** AT+QIOTREG=1 (connect now) or 2 (connect at every boot); the table checks the productinfo first. */
  enable(mode: 1 | 2): void {
    this.m.flash.regMode = mode;
    this.m.port.ok();
    if (this.idle) this.connect();
  }

  // ---------------------------------------------------------------- QIOTCFG

  productInfoLine(): string {
    const f = this.m.flash;
    return `+QIOTCFG: "productinfo","${f.productKey}","${f.productSecret}","${this.m.settings.moduleVersion}"`;
  }

  /** AT+QIOTCFG="productinfo",<pk>,<ps>: 1-32 bytes each; new credentials authenticate again (1,10200). */
  setProductInfo(args: Arg[]): void {
    const pk = args[1]!.value;
    const ps = args[2]!.value;
    if (byteLength(pk) > 32 || byteLength(ps) > 32 || !pk || !ps) return this.m.port.error();
    this.m.flash.productKey = pk;
    this.m.flash.productSecret = ps;
    this.m.flash.authenticated = false;
    this.m.port.ok();
  }

  bufferLine(): string {
    return `+QIOTCFG: "buffer",${this.bufferMode}`;
  }

  setBuffer(args: Arg[]): void {
    const value = integerArg(args[1]);
    if (value !== 0 && value !== 1) return this.m.port.error();
    this.bufferMode = value;
    this.m.port.ok();
  }

  lifetimeLine(): string {
    return `+QIOTCFG: "lifetime",${this.lifetime}`;
  }

  setLifetime(args: Arg[]): void {
    const value = integerArg(args[1]);
    if (value === undefined || value < 1 || value > 65535) return this.m.port.error();
    this.lifetime = value;
    this.m.port.ok();
  }

  // ---------------------------------------------------------------- AT+CSQ

  /** rssi = (dBm + 113) / 2, 0..31; 99 when the signal is unknown. */
  rssi(): number {
    const dbm = this.m.settings.signalDbm;
    if (dbm === null) return 99;
    return Math.max(0, Math.min(31, Math.floor((dbm + 113) / 2)));
  }
}
