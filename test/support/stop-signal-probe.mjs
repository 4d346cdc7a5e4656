// Preloaded into an `es` child by tests (see process-state.ts): says on stderr when the child starts
// listening for SIGTERM, the moment from which a stop signal ends it in order (exit 143) rather than
// killing it. Node emits 'newListener' just before adding the listener, in the same turn, so by the
// time the test reads the line the listener is there.
process.on('newListener', (event) => {
  if (event === 'SIGTERM') process.stderr.write('es-test-probe: SIGTERM trapped\n');
});
