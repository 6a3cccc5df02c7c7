// Moddable's `modules` module (modules/base/modules): the host's and the installed mod's modules.
declare module "modules" {
  export default class Modules {
    static readonly host: string[];
    static readonly archive: string[];
    static importNow(name: string): unknown;
    static has(name: string): boolean;
  }
}
