import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LockOwner } from '../ports/event-store.js';

/** What makes a pid mean one process: the PID namespace it lives in and the boot it belongs to. */
export interface PidSpace {
  pidNamespace: string | null;
  bootId: string | null;
}

function read(what: () => string): string | null {
  try {
    return what().trim() || null;
  } catch {
    return null;
  }
}

let mine: PidSpace | undefined;

/** This process's PID namespace (e.g. `pid:[4026531836]`) and boot id; null where /proc does not say. */
export function localPidSpace(): PidSpace {
  mine ??= {
    pidNamespace: read(() => readlinkSync('/proc/self/ns/pid')),
    bootId: read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
  };
  return mine;
}

/**
 * True when the holder's pid can be looked up from here: same host name, same PID namespace, same
 * boot. A container with host networking shares the host name but not the PID namespace, so its
 * pids mean nothing here. Where /proc tells nothing (not Linux), a holder that recorded no identity
 * either is taken at its host name; on Linux, an unknown identity (an older es, a hidden /proc) is
 * never trusted: the lease decides.
 */
export function sharesPidSpace(holder: LockOwner, host = hostname(), me: PidSpace = localPidSpace()): boolean {
  if (holder.host !== host) return false;
  const theirs = { pidNamespace: holder.pidNamespace ?? null, bootId: holder.bootId ?? null };
  if (me.pidNamespace === null || me.bootId === null) {
    return process.platform !== 'linux' && me.pidNamespace === null && theirs.pidNamespace === null && theirs.bootId === null;
  }
  return theirs.pidNamespace === me.pidNamespace && theirs.bootId === me.bootId;
}
