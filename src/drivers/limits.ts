/**
 * A statement on a target that gets no answer for this long counts as a lost connection (retried,
 * then exit 3): a link that stays open but goes silent (a frozen proxy, a paused VM) would
 * otherwise hold the run, and its lease, for ever. Generous, so that a heavy statement is not cut.
 */
export const STATEMENT_TIMEOUT_MS = 30_000;

/** TCP keep-alive probes find a peer that vanished without closing (a pulled cable, a dead host). */
export const KEEPALIVE_DELAY_MS = 10_000;
