// Advisory locks for the CLIs (a flash file for sota-device, a pty path for sota-module). Node has no flock(2), so a
// lock is a small file holding its owner's pid, created atomically (link(2) fails when the name exists, like
// O_EXCL); a lock whose pid is dead is stale and taken over. Readers (shared) each have their own file.

import fs from "node:fs";
import path from "node:path";

export interface LockOwner {
  pid: number;
  /** What holds it, e.g. "sota-device run". */
  command: string;
  /** ISO time the lock was taken. */
  since: string;
}

/** The target is held by another live process. */
export class LockedError extends Error {
  constructor(
    readonly target: string,
    readonly owner: LockOwner,
  ) {
    super(`${target} is in use by ${owner.command} (pid ${owner.pid}, since ${owner.since})`);
  }
}

export interface FileLock {
  readonly file: string;
  release(): void;
}

/** The exclusive lock file of `target`. */
export function lockFileOf(target: string): string {
  return `${target}.lock`;
}

const READER_MARK = ".lock.reader.";

/** True when `pid` is a running process (EPERM: alive, just not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(file, "utf8")) as LockOwner;
    return typeof owner.pid === "number" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `file` holding `owner`, or returns false when the name exists (content written before it appears). */
function createAtomically(file: string, owner: LockOwner): boolean {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(owner)}\n`);
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/** Removes a lock file left by a dead process; throws LockedError when its owner lives. */
function clearIfStale(target: string, file: string): void {
  const owner = readOwner(file);
  // An unreadable lock file is a broken leftover: nobody can prove ownership of it.
  if (owner && processAlive(owner.pid)) throw new LockedError(target, owner);
  fs.rmSync(file, { force: true });
}

function held(file: string): FileLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off("exit", release);
    fs.rmSync(file, { force: true });
  };
  // process.exit() (a second Ctrl-C) skips finally blocks: never leave a live-looking lock behind.
  process.once("exit", release);
  return { file, release };
}

function readerFiles(target: string): string[] {
  const dir = path.dirname(path.resolve(target));
  const prefix = `${path.basename(target)}${READER_MARK}`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => name.startsWith(prefix)).map((name) => path.join(dir, name));
}

/** The one writer: fails (LockedError) while another live process holds the lock or reads under a shared one. */
export function lockExclusive(target: string, command: string): FileLock {
  const file = lockFileOf(target);
  const owner: LockOwner = { pid: process.pid, command, since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    if (createAtomically(file, owner)) break;
    if (attempt >= 2) throw new Error(`cannot take the lock ${file}: it keeps coming back`);
    clearIfStale(target, file);
  }
  const lock = held(file);
  try {
    // Both sides create first and look second, so in a race at least one of them sees the other.
    for (const reader of readerFiles(target)) clearIfStale(target, reader);
  } catch (error) {
    lock.release();
    throw error;
  }
  return lock;
}

/** A reader: fails (LockedError) while a live process holds the exclusive lock; other readers are fine. */
export function lockShared(target: string, command: string): FileLock {
  const dir = path.dirname(path.resolve(target));
  const file = path.join(dir, `${path.basename(target)}${READER_MARK}${process.pid}`);
  const owner: LockOwner = { pid: process.pid, command, since: new Date().toISOString() };
  fs.rmSync(file, { force: true });
  if (!createAtomically(file, owner)) throw new Error(`cannot take the shared lock ${file}`);
  const lock = held(file);
  const writer = lockFileOf(target);
  const writerOwner = fs.existsSync(writer) ? readOwner(writer) : undefined;
  if (writerOwner && processAlive(writerOwner.pid)) {
    lock.release();
    throw new LockedError(target, writerOwner);
  }
  return lock;
}
