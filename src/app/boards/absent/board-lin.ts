// Stands in (manifest module map) for board-lin.ts in the other targets' builds, which lack its native modules.
// One file per board: mcconfig compiles a source file once, so two module names cannot share one stand-in.

import type { Board, BoardConfig } from "../board.js";

export function openLinBoard(_config: BoardConfig, _fileRoot: string): Board {
  throw new Error("this build has no Linux simulator board");
}
