// Stands in (manifest module map) for the board modules of the other targets, whose native modules this build lacks.

import type { Board, BoardConfig } from "./board.js";

export function openEsp32Board(_config: BoardConfig): Board {
  throw new Error("this build has no ESP32 board");
}

export function openLinBoard(_config: BoardConfig, _fileRoot: string): Board {
  throw new Error("this build has no Linux simulator board");
}

export function openZephyrBoard(_config: BoardConfig): Board {
  throw new Error("this build has no Zephyr board");
}
